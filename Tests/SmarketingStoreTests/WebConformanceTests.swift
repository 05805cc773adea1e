import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Synchronization
import Testing

@Suite("Store conformance: what the web app reads")
struct WebConformanceTests {
    static func everything(_ store: any FunnelStore, _ r: Resource) async throws -> [Record] {
        let out = Mutex<[Record]>([])
        try await store.exportRecords(r, chunkSize: 5000) { chunk in out.withLock { $0 += chunk } }
        return out.withLock { $0 }
    }

    /// Every page of a lead query.
    static func allPages(_ store: any FunnelStore, _ q: LeadQuery, now: Timestamp) async throws -> [LeadRow] {
        var q = q
        var rows: [LeadRow] = []
        while true {
            let page = try await store.leads(q, now: now)
            rows += page.rows
            guard let next = page.next else { return rows }
            q.after = next
        }
    }

    @Test(
        "lead filters and paging, stale leads as the KPI set counts them, the pipeline review and content use equal a recount of the records",
        arguments: Backend.allCases
    )
    func readsEqualRecount(backend: Backend) async throws {
        let dir = KPIConformanceTests.tempDir("web")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try DemoWorkspace(leads: 1500, seed: 5).write(to: dir)
        let sut = try await backend.makeRoles()
        try await KPIConformanceTests.importDir(sut.store, dir)
        let contacts = try await Self.everything(sut.store, .contacts)
        func newestFirst(_ a: Record, _ b: Record) -> Bool {
            let (x, y) = (a["created_at"].timestamp!, b["created_at"].timestamp!)
            return x != y ? x > y : a.id > b.id
        }
        // Filters, each page 37 rows: the same ids in the same order as filtering every contact.
        let owner = try #require(contacts.compactMap { $0["owner_id"].text }.first)
        for (q, keep) in [
            (
                {
                    var q = LeadQuery()
                    q.stage = "sql"
                    return q
                }(), { (c: Record) in c["lifecycle_stage"].text == "sql" }
            ),
            (
                {
                    var q = LeadQuery()
                    q.ownerID = owner
                    q.stage = "opportunity"
                    return q
                }(), { (c: Record) in c["owner_id"].text == owner && c["lifecycle_stage"].text == "opportunity" }
            ),
            (
                {
                    var q = LeadQuery()
                    q.campaignID = "cmp-email-1"
                    return q
                }(), { (c: Record) in c["source_campaign_id"].text == "cmp-email-1" }
            ),
            (
                {
                    var q = LeadQuery()
                    q.search = "ann"
                    return q
                }(),
                { (c: Record) in
                    let name = ((c["first_name"].text ?? "") + " " + (c["last_name"].text ?? "")).lowercased()
                    return name.contains("ann") || (c["email"].text ?? "").lowercased().contains("ann")
                }
            ),
        ] {
            var paged = q
            paged.limit = 37
            let got = try await Self.allPages(sut.store, paged, now: t0).map(\.id)
            let want = contacts.filter(keep).sorted(by: newestFirst).map(\.id)
            #expect(!want.isEmpty && got == want, "\(q)")
        }
        // An email finds its contact through the index.
        let someone = contacts[17]
        var byEmail = LeadQuery()
        byEmail.search = someone["email"].text!.uppercased()
        #expect(try await sut.store.leads(byEmail, now: t0).rows.map(\.id).contains(someone.id))

        // Stale leads: as many as the KPI set counts for the same setting, longest idle first.
        for days in [14, 60] {
            try await sut.store.setSetting("kpi.stale_days", String(days))
            let counted = try await sut.store.kpis(KPIQuery(period: KPIConformanceTests.q2, asOf: t0)).total.current.staleLeads?.count
            var q = LeadQuery()
            q.staleDays = days
            q.limit = 50
            let listed = try await Self.allPages(sut.store, q, now: t0)
            #expect(Int64(listed.count) == counted && counted ?? 0 > 0, "\(days) days")
            #expect(listed.allSatisfy { ["mql", "sal", "sql"].contains($0.stage ?? "") })
            #expect(Set(listed.map(\.id)).count == listed.count)
        }

        // The pipeline review: open deals per stage and owner, slipped close dates.
        let today = t0.utcDate
        let open = try await Self.everything(sut.store, .opportunities).filter { $0["closed_at"].isNull }
        let review = try await sut.store.pipelineReview(today: today, now: t0, slippedLimit: 10_000)
        #expect(review.openCount == open.count && review.openCount > 0)
        for g in review.byStage {
            let deals = open.filter { ($0["stage"].text ?? "(none)") == g.key }
            #expect(g.count == deals.count, "\(g.key)")
            #expect(abs(g.amount - deals.reduce(0) { $0 + ($1["amount"].double ?? 0) }) < 1e-6, "\(g.key)")
            #expect(g.slipped == deals.filter { if case .date(let d) = $0["expected_close_date"] { return d < today } else { return false } }.count)
        }
        #expect(review.byOwner.reduce(0) { $0 + $1.count } == open.count && review.aging.reduce(0) { $0 + $1.count } == open.count)
        #expect(review.slipped.count == review.byStage.reduce(0) { $0 + $1.slipped })

        // Content use: touches with each asset, by marketing (no actor) and by sales.
        let touches = try await Self.everything(sut.store, .touchpoints).filter { !$0["content_id"].isNull }
        let usage = try await sut.store.contentUsage()
        #expect(!usage.isEmpty)
        for u in usage {
            let mine = touches.filter { $0["content_id"].text == u.contentID }
            #expect(u.marketingTouches == mine.filter { $0["actor_id"].isNull }.count && u.salesTouches == mine.filter { !$0["actor_id"].isNull }.count)
            #expect(u.contacts == Set(mine.compactMap { $0["contact_id"].text }).count)
        }
    }

    @Test(
        "web sessions expire and end; sign-in failures count per key and are forgotten; the token list shows names and revocations, never tokens",
        arguments: Backend.allCases
    )
    func sessionsAndTokens(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        try await seed(sut.store)
        let s = WebSession(idHash: "h1", userID: "u1", role: .sales, csrf: "c1", createdAt: t0, expiresAt: t0.adding(milliseconds: 3_600_000))
        try await sut.store.createWebSession(s)
        #expect(try await sut.store.webSession(idHash: "h1", now: t0) == s)
        #expect(try await sut.store.webSession(idHash: "h1", now: t0.adding(milliseconds: 3_600_000)) == nil)
        #expect(try await sut.store.webSession(idHash: "other", now: t0) == nil)
        try await sut.store.deleteWebSession(idHash: "h1")
        #expect(try await sut.store.webSession(idHash: "h1", now: t0) == nil)
        // Sign-in failures: counted per key inside the window, forgotten after a success.
        let minute: Int64 = 60_000
        try await sut.store.recordLoginFailure(keys: ["email:a", "ip:1"], at: t0, forgetBefore: t0.adding(milliseconds: -15 * minute))
        try await sut.store.recordLoginFailure(keys: ["email:a"], at: t0.adding(milliseconds: minute), forgetBefore: t0.adding(milliseconds: -14 * minute))
        var failures = try await sut.store.loginFailures(keys: ["email:a", "ip:1", "email:b"], since: t0.adding(milliseconds: -1))
        #expect(failures["email:a"]?.count == 2 && failures["email:a"]?.oldest == t0 && failures["ip:1"]?.count == 1 && failures["email:b"] == nil)
        failures = try await sut.store.loginFailures(keys: ["email:a"], since: t0)
        #expect(failures["email:a"]?.count == 1)
        try await sut.store.clearLoginFailures(keys: ["email:a"])
        #expect(try await sut.store.loginFailures(keys: ["email:a", "ip:1"], since: t0.adding(milliseconds: -1)).keys.sorted() == ["ip:1"])

        let id = try await sut.store.createToken(userID: "u1", role: .sales, name: "zapier", hash: "abc", actor: tester, at: t0)
        try await sut.store.revokeToken(id: id, actor: tester, at: t0.adding(milliseconds: 1000))
        let list = try await sut.store.tokens()
        #expect(list.map(\.name) == ["zapier"] && list[0].revokedAt == t0.adding(milliseconds: 1000) && list[0].role == .sales)
    }
}
