import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Synchronization
import Testing

@Suite("Store conformance: retention")
struct RetentionConformanceTests {
    @Test("the contacts due are exactly those without a touch, stage move or handover since the cutoff and with no open deal or handover; a pass anonymises them and no figure changes", arguments: Backend.allCases)
    func retention(backend: Backend) async throws {
        let demo = BundleConformanceTests.tempDir("retention-demo")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 200, seed: 11).write(to: demo)
        let sut = try await backend.makeRoles()
        let store = sut.store
        #expect(try await BundleConformanceTests.importDir(store, demo).committed)
        let now = t0
        let cutoff = try #require(Retention.cutoff(now: now, months: 9))
        #expect(cutoff.utcDate == LocalDate(year: 2025, month: 4, day: 1))

        // The expected set, from the raw records.
        func all(_ r: Resource) async throws -> [Record] {
            let out = Mutex<[Record]>([])
            try await store.exportRecords(r, chunkSize: 1_000) { recs in out.withLock { $0 += recs } }
            return out.withLock { $0 }
        }
        var last: [String: Int64] = [:]
        for c in try await all(.contacts) { last[c.id] = c["created_at"].timestamp?.milliseconds ?? 0 }
        for t in try await all(.touchpoints) {
            if let id = t["contact_id"].text, let at = t["occurred_at"].timestamp?.milliseconds { last[id] = max(last[id] ?? 0, at) }
        }
        var busy = Set<String>()
        let deals = try await all(.opportunities)
        let open = Set(deals.filter { $0["closed_at"].isNull }.map(\.id))
        for d in deals {
            if let p = d["primary_contact_id"].text, d["closed_at"].isNull || (d["closed_at"].timestamp?.milliseconds ?? 0) >= cutoff.milliseconds { busy.insert(p) }
        }
        for r in try await all(.opportunityContacts) where open.contains(r["opportunity_id"].text ?? "") { busy.insert(r["contact_id"].text ?? "") }
        var hq = HandoverQuery()
        hq.limit = 10_000
        for h in try await store.handovers(hq, at: now) {
            if [.queued, .assigned, .accepted].contains(h.status) { busy.insert(h.contactID) }
            last[h.contactID] = max(last[h.contactID] ?? 0, h.createdAt.milliseconds)
        }
        for id in last.keys {
            for tr in try await store.transitions(contactID: id) { last[id] = max(last[id] ?? 0, tr.at.milliseconds) }
        }
        let expected = Set(last.filter { $0.value < cutoff.milliseconds && !busy.contains($0.key) }.map(\.key))
        #expect(!expected.isEmpty && expected.count < last.count, "the demo has contacts on both sides of the cutoff: \(expected.count) of \(last.count)")

        let dry = try await RetentionRun.run(store, months: 9, now: now, dryRun: true, actor: tester, connections: nil)
        #expect(dry.due == expected.count && dry.anonymised == 0 && dry.cutoff == cutoff)
        var paged: [String] = []
        var after: String?
        while true {
            let page = try await store.retentionCandidates(before: cutoff, after: after, limit: 37)
            guard let l = page.last else { break }
            paged += page.map(\.contactID)
            after = l.contactID
            for c in page { #expect(c.lastActivity.milliseconds == last[c.contactID], "\(c.contactID)") }
        }
        #expect(Set(paged) == expected && paged == paged.sorted())

        let period = KPIPeriod(from: LocalDate(year: 2020, month: 1, day: 1), to: LocalDate(year: 2030, month: 1, day: 1))
        let before = try await store.kpis(KPIQuery(period: period, by: [.channel, .campaign, .segment]))
        let run = try await RetentionRun.run(store, months: 9, now: now, dryRun: false, limit: 40, actor: tester, connections: nil)
        #expect(run.anonymised == 40 && run.due == 40, "a limit stops the pass")
        let rest = try await RetentionRun.run(store, months: 9, now: now, dryRun: false, actor: tester, connections: nil)
        #expect(rest.anonymised == expected.count - 40)
        #expect(Set(try await store.tombstones(limit: 10_000).map(\.contactID)) == expected)
        #expect(try await store.tombstones(limit: 1).first?.reason.hasPrefix("retention: no activity for 9 months") == true)
        #expect(try await store.kpis(KPIQuery(period: period, by: [.channel, .campaign, .segment])) == before)
        #expect(try await store.verifyKPIs().agrees)
        #expect(try await RetentionRun.run(store, months: 9, now: now, dryRun: true, actor: tester, connections: nil).due == 0)
        #expect(try await RetentionRun.run(store, months: 0, now: now, dryRun: true, actor: tester, connections: nil).cutoff == nil)
    }
}
