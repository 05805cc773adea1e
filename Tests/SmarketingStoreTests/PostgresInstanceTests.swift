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
    func location() throws -> PostgresStore.Location {
        let url = try ThrowawayPostgres.newDatabase()
        return try #require(PostgresStore.Location(url: url))
    }

    /// Two stores with two pools on one new database, as two app servers would have.
    func twoInstances() async throws -> (PostgresStore, PostgresStore) {
        let loc = try location()
        return (try await PostgresStore(location: loc), try await PostgresStore(location: loc))
    }

    @Test("instances starting together migrate exactly once")
    func migrateOnce() async throws {
        let loc = try location()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<6 { group.addTask { try await PostgresStore(location: loc) } }
            var out: [PostgresStore] = []
            for try await s in group { out.append(s) }
            return out
        }
        #expect(stores.count == 6)
        for s in stores {
            #expect(try await s.appliedMigrations() == ["1 workspace (SQLite v1-v13)"])
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
        let clock = ContinuousClock()
        let started = clock.now
        try await a.create(record(.campaigns, ["id": .text("live"), "name": .text("Live"), "channel": .text("email")]), actor: tester, at: t0)
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
        let cluster = try ThrowawayPostgres.cluster()
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
}
