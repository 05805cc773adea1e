import Foundation
import SmarketingCore
import Testing
import ThrowawayPostgres

@testable import SmarketingStore

@Suite("PostgreSQL: a busy pool")
struct PostgresPoolTests {
    @Test("with every connection busy, one request waits a bounded time and the next is refused at once; both say so; the pool recovers")
    func exhausted() async throws {
        let loc = try #require(PostgresStore.Location(url: try await ThrowawayPostgres.newDatabase()))
        let store = try await PostgresStore(location: loc, maximumConnections: 2, maximumWaiting: 1, connectionWait: .milliseconds(400))
        defer { store.close() }
        // Two slow reads hold both connections.
        let slow = (0..<2).map { _ in Task { try await store.read { c in _ = try await c.one("SELECT pg_sleep(2)") } } }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        let waiting = Task { try await store.count(.contacts) }
        try await Task.sleep(for: .milliseconds(50))
        // The queue is full: refused at once.
        await #expect(throws: StoreError.self) { _ = try await store.count(.users) }
        do {
            _ = try await waiting.value
            Issue.record("a request got a connection while both were busy")
        } catch let StoreError.unavailable(message) {
            #expect(message.contains("no connection of 2 came free"))
        }
        let waited = ContinuousClock.now - started
        // At least the wait; the upper bound is loose (a loaded two-core machine delays the
        // timeout's task by a second at times): that the wait is bounded is shown above, by
        // the refusal coming before the slow reads let go of their connections.
        #expect(waited >= .milliseconds(350) && waited < .seconds(3), "\(waited)")
        for t in slow { try await t.value }
        #expect(try await store.count(.contacts) == 0)
        // As many at once as there are connections all get through. (Not more: a third would
        // wait at most 0.4 s, which a loaded machine's queries can outlast.)
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<2 { group.addTask { try await store.count(.campaigns) } }
            var n = 0
            for try await c in group { n += c + 1 }
            return n
        }
        #expect(counts == 2)
    }
}
