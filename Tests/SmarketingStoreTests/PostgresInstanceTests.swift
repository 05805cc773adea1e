import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing
import ThrowawayPostgres

/// Several app instances on one PostgreSQL database: each is a `PostgresStore` with its own pool,
/// as separate processes would have.
@Suite("PostgreSQL: several instances on one database", .serialized)
struct PostgresInstanceTests {
    func location() async throws -> PostgresStore.Location {
        let url = try await ThrowawayPostgres.newDatabase()
        return try #require(PostgresStore.Location(url: url))
    }

    /// Two stores with two pools on one new database, as two app servers would have.
    func twoInstances() async throws -> (PostgresStore, PostgresStore) {
        let loc = try await location()
        return (try await Self.open(loc), try await Self.open(loc))
    }

    static func open(_ loc: PostgresStore.Location) async throws -> PostgresStore {
        try await PostgresStore(location: loc, scoringModels: ScoringModelFile.parser, handoverConfigs: HandoverConfigFile.parser)
    }

    @Test("instances starting together migrate exactly once")
    func migrateOnce() async throws {
        let loc = try await location()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<6 { group.addTask { try await PostgresStore(location: loc) } }
            var out: [PostgresStore] = []
            for try await s in group { out.append(s) }
            return out
        }
        #expect(stores.count == 6)
        for s in stores {
            #expect(try await s.appliedMigrations().first == "1 workspace (SQLite v1-v13)")
            #expect(try await s.appliedMigrations().count == PostgresStore.migrationCount)
            #expect(try await s.migrate().isEmpty)
        }
        for s in stores { s.close() }
    }

    @Test("a token revoked through one instance is refused by the other at once; sessions and settings are shared")
    func sharedAccess() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        try await seed(a)
        let id = try await a.createToken(userID: "u1", role: .sales, name: "zap", hash: "hash-1", actor: tester, at: t0)
        #expect(try await b.principal(tokenHash: "hash-1")?.tokenID == id)
        try await a.revokeToken(id: id, actor: tester, at: t0)
        #expect(try await b.principal(tokenHash: "hash-1") == nil)
        await #expect(throws: StoreError.missing("no active token with id \"\(id)\"")) { try await b.revokeToken(id: id, actor: tester, at: t0) }
        let session = WebSession(idHash: "s1", userID: "u1", role: .sales, csrf: "c", createdAt: t0, expiresAt: t0.adding(milliseconds: 60_000))
        try await b.createWebSession(session)
        #expect(try await a.webSession(idHash: "s1", now: t0) == session)
        try await a.setSetting("workspace.timezone", "Europe/Berlin")
        #expect(try await b.setting("workspace.timezone") == "Europe/Berlin")
    }

    @Test("two instances creating the same record: one wins, the other gets a conflict; concurrent updates of one record both apply")
    func concurrentWrites() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        try await seed(a)
        // The same ids created through both instances at once: each id exactly once.
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<40 {
                let store = i % 2 == 0 ? a : b
                let n = i / 2
                group.addTask {
                    do {
                        try await store.create(
                            record(.campaigns, ["id": .text("race-\(n)"), "name": .text("Race \(n)"), "channel": .text("email")]),
                            actor: tester,
                            at: t0
                        )
                        return true
                    } catch StoreError.conflict(_) { return false }
                }
            }
            var wins = 0
            for try await won in group where won { wins += 1 }
            return wins
        }
        #expect(outcomes == 20)
        #expect(try await a.count(.campaigns) == 21)
        // Different fields of one contact updated through both instances: both survive (the
        // row lock orders the two read-modify-writes).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask {
                    let store = i % 2 == 0 ? a : b
                    let field = i % 2 == 0 ? "title" : "phone"
                    _ = try await store.update(.contacts, id: "c1", fields: [field: .text("\(field)-\(i)")], actor: tester, at: t0)
                }
            }
            try await group.waitForAll()
        }
        let c1 = try #require(try await b.get(.contacts, id: "c1"))
        #expect(c1["title"].text?.hasPrefix("title-") == true && c1["phone"].text?.hasPrefix("phone-") == true)
        let audit = try await a.audit(limit: 1000, before: nil)
        #expect(audit.filter { $0.action == "update" && $0.recordID == "c1" }.count == 20)
    }

    @Test("two instances merging overlapping pairs at once: no deadlock, every duplicate merged once, everything moved")
    func concurrentMerges() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        try await seed(a)
        for i in 0..<12 {
            try await a.create(
                record(.contacts, ["id": .text("dup\(i)"), "email": .text("dup\(i)@acme.example"), "created_at": ts("2026-02-01T00:00:00Z")]),
                actor: tester,
                at: t0
            )
            try await a.create(
                record(.touchpoints, ["id": .text("t\(i)"), "contact_id": .text("dup\(i)"), "occurred_at": ts("2026-02-02T00:00:00Z"), "type": .text("page_view")]),
                actor: tester,
                at: t0
            )
        }
        // Each duplicate into c1 or c2, alternating instances, all at once (c1 and c2 are each
        // the kept side of six concurrent merges; dup pairs cross between the two keepers).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<12 {
                group.addTask {
                    let store = i % 2 == 0 ? a : b
                    _ = try await store.mergeContacts(keep: i % 3 == 0 ? "c2" : "c1", duplicate: "dup\(i)", actor: tester, at: t0)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await a.count(.contacts) == 2)
        var q = ListQuery()
        q.limit = 100
        let touches = try await b.list(.touchpoints, q).records
        #expect(touches.count == 12 && touches.allSatisfy { ["c1", "c2"].contains($0["contact_id"].text ?? "") })
        #expect(try await a.audit(limit: 100, before: nil).filter { $0.action == "merge" }.count == 12)
    }

    @Test("a change committed through one instance reaches the other's subscribers within a second; a rolled-back write sends nothing")
    func changeFeed() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        try await seed(a)
        // Subscribers in B share one listener; the first waits for it to be up.
        #expect(await Self.arrives(b.changes(), within: .seconds(5)))
        let s2 = b.changes()
        // Timed from the commit (the create's return): the write itself may wait for CPU under load.
        try await a.create(record(.campaigns, ["id": .text("live"), "name": .text("Live"), "channel": .text("email")]), actor: tester, at: t0)
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await Self.arrives(s2, within: .seconds(1)))
        #expect(clock.now - started < .seconds(1))
        // A write that fails commits nothing and tells no one.
        let s3 = b.changes()
        await #expect(throws: StoreError.self) {
            try await a.create(record(.campaigns, ["id": .text("live"), "name": .text("Again"), "channel": .text("email")]), actor: tester, at: t0)
        }
        #expect(await !Self.arrives(s3, within: .milliseconds(600)))
        // The next real change arrives again.
        let s4 = b.changes()
        _ = try await a.update(.campaigns, id: "live", fields: ["name": .text("Live 2")], actor: tester, at: t0)
        #expect(await Self.arrives(s4, within: .seconds(1)))
    }

    /// Whether the stream yields within the time.
    static func arrives(_ stream: AsyncStream<Void>, within: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                var it = stream.makeAsyncIterator()
                return await it.next() != nil
            }
            group.addTask {
                try? await Task.sleep(for: within)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    @Test("an unreachable server, a missing database and a bad URL each fail in one sentence, fast")
    func unreachable() async throws {
        let started = ContinuousClock.now
        do {
            _ = try await PostgresStore(location: try #require(PostgresStore.Location(url: "postgres://postgres@127.0.0.1:1/x")))
            Issue.record("opened a store on a closed port")
        } catch let StoreError.unavailable(message) {
            #expect(message.contains("cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/x"))
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        let cluster = try await ThrowawayPostgres.cluster()
        do {
            _ = try await PostgresStore(location: try #require(PostgresStore.Location(url: cluster.url(database: "no_such_db"))))
            Issue.record("opened a missing database")
        } catch let StoreError.unavailable(message) {
            #expect(message.hasSuffix("database \"no_such_db\" does not exist"))
        }
        #expect(PostgresStore.Location(url: "postgres://h:99999/x") == nil)
        #expect(PostgresStore.Location(url: "postgres://h/x?sslmode=maybe") == nil)
        #expect(PostgresStore.Location(url: "/tmp/file.sqlite") == nil)
        let full = try #require(PostgresStore.Location(url: "postgresql://ann:s%40cret@db.example:6432/smk?sslmode=require"))
        #expect(full.user == "ann" && full.password == "s@cret" && full.port == 6432 && full.database == "smk" && full.sslMode == "require")
        #expect(!full.display.contains("cret"))
    }

    // MARK: Ingest and scoring races

    /// Sends `events` through both instances at once: every event twice (once to each), in
    /// random batches from four tasks per instance. Returns how many were accepted in all.
    static func sendThroughBoth(_ a: PostgresStore, _ b: PostgresStore, _ events: [Result<IncomingEvent, EventRejection>], seed: UInt64) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for (n, store) in [a, a, a, a, b, b, b, b].enumerated() {
                var rng = SeededRandom(seed: seed + UInt64(n))
                var mine = events.indices.filter { $0 % 4 == n % 4 }.map { events[$0] }
                for i in mine.indices.reversed() { mine.swapAt(i, rng.int(0...i)) }
                let sizes = (0..<mine.count).map { _ in rng.int(1...25) }
                group.addTask {
                    var accepted = 0
                    var start = 0
                    var k = 0
                    while start < mine.count {
                        let end = min(mine.count, start + sizes[k])
                        k += 1
                        let r = try await store.ingest([IngestBatch(events: Array(mine[start..<end]), atomic: false, actor: tester)], at: t0)
                        accepted += r[0].outcomes.count { $0.status == "accepted" }
                        start = end
                    }
                    return accepted
                }
            }
            var total = 0
            for try await n in group { total += n }
            return total
        }
    }

    @Test("two instances ingesting the same events for new people at once: one contact per email, one account per domain, each event once, exact scores")
    func concurrentIngest() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        try await seed(a)
        let (text, model) = try ScoringConformanceTests.exampleModel()
        _ = try await a.applyScoringModel(text: text, model: model, comment: "v1", actor: tester, at: t0, progress: nil)
        // 40 new people at 8 new company domains (and some at free mail), 600 events.
        var rng = SeededRandom(seed: 11)
        let types = ["page_view", "form_submit", "webinar_attended", "email_click", "content_download", "unsubscribe"]
        let events: [Result<IncomingEvent, EventRejection>] = (0..<600).map { i in
            let person = rng.int(0...39)
            let domain = person % 5 == 4 ? "gmail.com" : "co\(person % 8).example"
            let at = t0.adding(milliseconds: Int64(rng.int(0...(30 * 86_400)) * 1000))
            return EventPayload(
                fields: [
                    "id": "r\(i)", "type": types[rng.int(0...(types.count - 1))], "occurred_at": at.iso8601,
                    "email": "Person\(person)@\(domain)", "first_name": "P\(person)", "company": "Company \(person % 8)",
                ]
            ).validate()
        }
        let accepted = try await Self.sendThroughBoth(a, b, events, seed: 12)
        #expect(accepted == 600, "each event is accepted by exactly one instance")
        #expect(try await a.count(.touchpoints) == 600)
        #expect(try await a.count(.contacts) == 2 + 40)
        #expect(try await a.duplicateContacts(limit: 100).isEmpty)
        #expect(try await a.count(.accounts) == 1 + 8)
        // Scores kept by the two writers equal a recomputation from the stored history.
        let now = t0.adding(milliseconds: 40 * 86_400_000)
        var query = ListQuery()
        query.limit = 100
        let people = try await a.list(.contacts, query).records.map(\.id).filter { $0.hasPrefix("ct") }
        #expect(people.count == 40)
        var live: [String: ScoreExplanation] = [:]
        for id in people { live[id] = try #require(try await b.scoreExplanation(contactID: id, at: now)) }
        let again = try await b.applyScoringModel(text: text, model: model, comment: "recompute", actor: tester, at: now, progress: nil)
        #expect(again.diff.gradeChanged == 0)
        for id in people {
            let x = try #require(live[id])
            let y = try #require(try await a.scoreExplanation(contactID: id, at: now))
            #expect(x.engagementParts.map(\.count) == y.engagementParts.map(\.count), "\(id)")
            #expect(abs(x.engagement - y.engagement) <= 1e-9 * max(1, abs(x.engagement)), "\(id)")
            #expect(x.grade == y.grade)
        }
    }

    @Test("a model applied through one instance while the other ingests: no event is lost or counted twice; a second apply at once is refused")
    func applyDuringIngest() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        let contacts = 30
        try await ScoringConformanceTests().workspace(a, contacts: contacts)
        let (text, model) = try ScoringConformanceTests.exampleModel()
        _ = try await a.applyScoringModel(text: text, model: model, comment: "v1", actor: tester, at: t0, progress: nil)
        let events = ScoringConformanceTests().randomEvents(900, contacts: contacts, seed: 21)
        async let ingested: Int = {
            var accepted = 0
            for start in stride(from: 0, to: events.count, by: 15) {
                let r = try await b.ingest([IngestBatch(events: Array(events[start..<min(start + 15, events.count)]), atomic: false, actor: tester)], at: t0)
                accepted += r[0].outcomes.count { $0.status == "accepted" }
            }
            return accepted
        }()
        // Two applies at once (one through each instance): one runs, the other is refused.
        func apply(_ store: PostgresStore, _ comment: String) async -> Result<ApplyResult, any Error> {
            do { return .success(try await store.applyScoringModel(text: text, model: model, comment: comment, actor: tester, at: t0, progress: nil)) } catch {
                return .failure(error)
            }
        }
        async let first = apply(a, "v2")
        try await Task.sleep(for: .milliseconds(5))
        let second = await apply(b, "v2b")
        let applied = await first
        let accepted = try await ingested
        #expect(accepted == 900)
        let outcomes = [applied, second]
        #expect(outcomes.count { if case .success = $0 { true } else { false } } >= 1)
        for case .failure(let e) in outcomes { #expect(e as? StoreError == .conflict("another scoring model is being applied; wait for it to finish")) }
        // Every event counted once under the new version: the stored scores equal a recomputation.
        let now = t0.adding(milliseconds: 60 * 86_400_000)
        var live: [String: ScoreExplanation] = [:]
        for i in 0..<contacts { live["c\(i)"] = try #require(try await a.scoreExplanation(contactID: "c\(i)", at: now)) }
        let versions = try await a.scoringVersions()
        #expect(versions.first?.status == "active" && versions.filter { $0.status == "applying" }.isEmpty)
        let recomputed = try await a.applyScoringModel(text: text, model: model, comment: "recompute", actor: tester, at: now, progress: nil)
        #expect(recomputed.diff.gradeChanged == 0)
        var counted = 0
        for i in 0..<contacts {
            let x = try #require(live["c\(i)"])
            let y = try #require(try await b.scoreExplanation(contactID: "c\(i)", at: now))
            #expect(x.version != y.version && x.engagementParts.map(\.count) == y.engagementParts.map(\.count), "c\(i)")
            #expect(abs(x.engagement - y.engagement) <= 1e-9 * max(1, abs(x.engagement)), "c\(i)")
            counted += y.replay.count
        }
        #expect(counted == 900, "every stored touch is in some contact's history")
    }

    // MARK: Handover races

    @Test("MQLs routed through two instances at once: capacity and round-robin hold, one open handover per contact")
    func parallelRouting() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        let h = HandoverConformanceTests()
        try await h.workspace(a, contacts: 24, capacity: 5, webhook: false)
        // Every contact's qualifying form twice, once through each instance, all at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<24 {
                for store in [a, b] {
                    group.addTask {
                        _ = try await store.ingest([IngestBatch(events: [h.form("f\(i)", "c\(i)")], atomic: true, actor: tester)], at: h.now)
                    }
                }
            }
            try await group.waitForAll()
        }
        var q = HandoverQuery()
        q.limit = 1000
        let all = try await b.handovers(q, at: h.now)
        #expect(all.count == 24 && Set(all.map(\.contactID)).count == 24, "one handover per contact")
        let owners = Dictionary(grouping: all, by: \.ownerID).mapValues(\.count)
        #expect(owners["r1"] == 5 && owners["r2"] == 5, "each rep up to the capacity of 5: \(owners)")
        #expect(owners["boss"] == 14 && all.filter { $0.status == .queued }.count == 14)
        let transitions = try await a.transitions(contactID: "c3")
        #expect(transitions.filter { $0.to == "mql" }.count == 1)
    }

    /// Records what two dispatchers sent, in the order they sent it.
    actor SentLog {
        var sent: [(id: Int64, subject: String, seq: Int64)] = []
        func add(_ d: [PendingDelivery]) { sent += d.map { ($0.id, $0.subject, $0.seq) } }
    }

    @Test("two dispatchers on one outbox: every delivery sent once, each subject's events in order, failures retried")
    func twoDispatchers() async throws {
        let (a, b) = try await twoInstances()
        defer {
            a.close()
            b.close()
        }
        let h = HandoverConformanceTests()
        try await h.workspace(a, contacts: 16, capacity: 20)
        for i in 0..<16 { _ = try await h.mql(a, "c\(i)", at: h.now) }
        let pending = try await a.deliveries(subscriptionID: nil, status: "pending", limit: 1000)
        #expect(pending.count == 48, "stage.changed, contact.mql and handover.assigned per contact")
        let log = SentLog()
        let clock = h.now.adding(milliseconds: 3_600_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, store) in [a, b].enumerated() {
                group.addTask {
                    var rng = SeededRandom(seed: UInt64(40 + n))
                    var idle = 0
                    while idle < 20 {
                        let due = try await store.dueDeliveries(now: clock, perSubscription: 5)
                        if due.isEmpty {
                            idle += 1
                            try await Task.sleep(for: .milliseconds(5))
                            continue
                        }
                        idle = 0
                        // Send in order; one in six fails (retried later), holding back its subject.
                        var attempts: [DeliveryAttempt] = []
                        var failedSubjects: Set<String> = []
                        var delivered: [PendingDelivery] = []
                        for d in due where !failedSubjects.contains(d.subject) {
                            if rng.int(0...5) == 0, d.attempts == 0 {
                                attempts.append(DeliveryAttempt(id: d.id, ok: false, status: 503, error: "busy"))
                                failedSubjects.insert(d.subject)
                            } else {
                                attempts.append(DeliveryAttempt(id: d.id, ok: true, status: 204, error: nil))
                                delivered.append(d)
                            }
                        }
                        await log.add(delivered)
                        // Retries are due a second after the failure: record them an hour back.
                        try await store.recordDeliveries(attempts, at: h.now)
                    }
                }
            }
            try await group.waitForAll()
        }
        let sent = await log.sent
        #expect(sent.count == 48 && Set(sent.map(\.id)).count == 48, "each delivery sent once")
        for (subject, list) in Dictionary(grouping: sent, by: \.subject) {
            #expect(list.map(\.seq) == list.map(\.seq).sorted(), "\(subject) in order")
        }
        #expect(try await b.deliveries(subscriptionID: nil, status: "delivered", limit: 1000).count == 48)
    }

    // MARK: Read replica

    static func psql(_ url: String, _ sql: String) async throws -> String {
        let bin = try await ThrowawayPostgres.cluster().bin
        return try await ThrowawayPostgres.offload { try runPsql(bin, url, sql) }
    }

    static func runPsql(_ bin: String, _ url: String, _ sql: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin + "/psql")
        p.arguments = ["-At", "-v", "ON_ERROR_STOP=1", "-c", sql, url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw StoreError.invalid("psql: \(text)") }
        return text
    }

    static func usage(_ store: PostgresStore, _ content: String) async throws -> Int {
        try await store.contentUsage().first { $0.contentID == content }?.marketingTouches ?? 0
    }

    @Test("with a read replica, reports come from the replica and writes and record reads from the primary")
    func readReplica() async throws {
        let url = try await ThrowawayPostgres.newDatabase()
        let replica = try await ThrowawayPostgres.replica()
        let name = String(url.split(separator: "/").last ?? "")
        let replicaURL = replica.url(database: name)
        let store = try await PostgresStore(
            location: try #require(PostgresStore.Location(url: url)),
            scoringModels: ScoringModelFile.parser,
            handoverConfigs: HandoverConfigFile.parser,
            readReplica: try #require(PostgresStore.Location(url: replicaURL))
        )
        defer { store.close() }
        try await seed(store)
        try await store.create(record(.content, ["id": .text("k1"), "title": .text("Guide"), "type": .text("whitepaper")]), actor: tester, at: t0)
        func touch(_ id: String) -> Result<IncomingEvent, EventRejection> {
            EventPayload(fields: ["id": id, "type": "content_download", "occurred_at": "2026-02-01T10:00:00Z", "contact_id": "c1", "content_id": "k1"]).validate()
        }
        _ = try await store.ingest([IngestBatch(events: [touch("r1")], atomic: true, actor: tester)], at: t0)
        var caughtUp = false
        for _ in 0..<100 where !caughtUp {
            caughtUp = try await Self.usage(store, "k1") == 1
            if !caughtUp { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(caughtUp, "the replica shows the first touch")
        // Replay paused on the replica: the primary has the next touch, the reports do not yet.
        _ = try await Self.psql(replica.url(database: "postgres"), "SELECT pg_wal_replay_pause()")
        _ = try await store.ingest([IngestBatch(events: [touch("r2")], atomic: true, actor: tester)], at: t0)
        #expect(try await store.count(.touchpoints) == 2, "record reads are the primary's")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await Self.usage(store, "k1") == 1, "reports are the replica's")
        _ = try await Self.psql(replica.url(database: "postgres"), "SELECT pg_wal_replay_resume()")
        var resumed = false
        for _ in 0..<100 where !resumed {
            resumed = try await Self.usage(store, "k1") == 2
            if !resumed { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(resumed, "the replica catches up after the pause")
    }

    @Test("touchpoints are partitioned by month: an import fills month partitions, an odd month waits in the default partition until housekeeping, ids stay unique across partitions, the aggregates verify")
    func monthPartitions() async throws {
        let store = try await Self.open(try await location())
        defer { store.close() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-partitions-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try DemoWorkspace(leads: 300, seed: 8).write(to: dir)
        let report = try await store.importRows(try Bundle.open(dir), options: ImportOptions(), actor: tester, at: t0) { _ in }
        #expect(report.committed)
        let total = try await store.count(.touchpoints)
        #expect(total > 1000)
        var partitions = try await store.touchpointPartitions()
        let months = partitions.filter { $0.from != nil }
        #expect(months.count >= 6, "\(partitions.map(\.name))")
        #expect(partitions.last?.name == "touchpoints_default" && partitions.last?.rows == 0, "the import's months were moved out of the default partition")
        // This month and the next two are made ahead (t0 is 2026-01-01).
        for name in ["touchpoints_2026_01", "touchpoints_2026_02", "touchpoints_2026_03"] { #expect(partitions.contains { $0.name == name }, "\(name)") }
        for p in months {
            let (from, to) = (try #require(p.from), try #require(p.to))
            #expect(from < to)
            #expect(p.name == "touchpoints_" + from.iso8601.prefix(7).replacingOccurrences(of: "-", with: "_"))
        }

        // An event in a month without a partition waits in the default one; its id is unique
        // across partitions (the same id in another month is the same event).
        try await seed(store)
        let first = try await store.ingest([IngestBatch(events: [event("odd-1", contact: "c1", at: "2031-07-04T12:00:00Z")], atomic: false, actor: tester)], at: t0)
        #expect(first[0].outcomes.count == 1)
        let again = try await store.ingest(
            [IngestBatch(events: [event("odd-1", contact: "c1", at: "2026-02-01T10:00:00Z"), event("odd-2", contact: "c2")], atomic: false, actor: tester)],
            at: t0
        )
        #expect(try await store.count(.touchpoints) == total + 2)
        _ = again
        partitions = try await store.touchpointPartitions()
        #expect(partitions.last?.rows == 1)
        await #expect(throws: StoreError.self) {
            try await store.create(
                record(.touchpoints, ["id": .text("odd-2"), "contact_id": .text("c1"), "occurred_at": ts("2028-01-01T00:00:00Z"), "type": .text("page_view")]),
                actor: tester,
                at: t0
            )
        }
        #expect(try await store.housekeeping(at: t0) == 1)
        partitions = try await store.touchpointPartitions()
        #expect(partitions.contains { $0.name == "touchpoints_2031_07" })
        #expect(partitions.last?.rows == 0)
        #expect(try await store.get(.touchpoints, id: "odd-1")?["occurred_at"] == ts("2031-07-04T12:00:00Z"))
        #expect(try await store.housekeeping(at: t0) == 0)

        // A touchpoint moved to another month (and person) moves partition and keeps its id.
        let moved = try await store.update(.touchpoints, id: "odd-1", fields: ["occurred_at": ts("2026-02-15T08:00:00Z"), "contact_id": .text("c2")], actor: tester, at: t0)
        #expect(moved["contact_id"] == .text("c2"))
        #expect(try await store.count(.touchpoints) == total + 2)
        await #expect(throws: StoreError.self) {
            try await store.create(
                record(.touchpoints, ["id": .text("odd-1"), "contact_id": .text("c1"), "occurred_at": ts("2031-07-04T12:00:00Z"), "type": .text("page_view")]),
                actor: tester,
                at: t0
            )
        }
        try await store.delete(.touchpoints, id: "odd-1", actor: tester, at: t0)
        #expect(try await store.get(.touchpoints, id: "odd-1") == nil)
        // A deleted id can be stored again.
        try await store.create(
            record(.touchpoints, ["id": .text("odd-1"), "contact_id": .text("c1"), "occurred_at": ts("2026-03-01T00:00:00Z"), "type": .text("page_view")]),
            actor: tester,
            at: t0
        )
        #expect(try await store.count(.touchpoints) == total + 2)
        let verification = try await store.verifyKPIs()
        #expect(verification.mismatches.isEmpty, "\(verification.mismatches.prefix(3))")
    }
}
