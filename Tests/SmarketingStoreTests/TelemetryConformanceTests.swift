import Foundation
import SmarketingCore
@testable import SmarketingStore
import Synchronization
import Testing

@Suite("Store conformance: telemetry for operators")
struct TelemetryConformanceTests {
    /// The observer is called for every lease of every connection. It was kept as a closure
    /// value in a Mutex, which wrapped it in two more reabstraction thunks on each read: after
    /// a busy day's events, each call walked the whole chain, and releasing it overflowed the
    /// stack (the soak's server died with SIGSEGV on stop). Half a million events later the
    /// observer is still the one given, and the telemetry is released without trouble.
    @Test("half a million events reach the observer, which stays the closure given, and the telemetry is released cleanly")
    func manyEvents() {
        let heard = Atomic<Int>(0)
        var telemetry: StoreTelemetry? = StoreTelemetry(capacity: 2)
        telemetry?.observe { _ in heard.add(1, ordering: .relaxed) }
        for _ in 0..<250_000 {
            guard let t = telemetry else { break }
            let lease = t.lease()
            lease.acquired()
            lease.ended()
            t.kpiRefreshed(since: t.now, rebuild: false)
        }
        #expect(heard.load(ordering: .relaxed) == 500_000)
        #expect(telemetry?.connections.inUse == 0 && telemetry?.connections.waiting == 0 && telemetry?.connections.leases == 250_000)
        telemetry = nil  // a chain of a million thunk contexts would overflow the stack here
        #expect(telemetry == nil)
    }

    /// What `/metrics` reads of a store: connections leased and waited for, and each refresh of
    /// the KPI aggregates, on both backends.
    @Test("leases are counted and end at zero in use; each write's KPI refresh is told with its time; a rebuild is told as one", arguments: Backend.allCases)
    func telemetry(backend: Backend) async throws {
        let roles = try await backend.makeRoles()
        let store = roles.store
        let heard = Mutex<[StoreTelemetry.Event]>([])
        store.telemetry.observe { e in heard.withLock { $0.append(e) } }
        let before = store.telemetry.connections
        #expect(before.capacity >= 2)
        try await store.create(record(.contacts, ["id": .text("ct-t"), "email": .text("t@t.example"), "created_at": .timestamp(t0)]), actor: tester, at: t0)
        // The first write of a new store builds the aggregates; later ones refresh what changed.
        _ = try await store.update(.contacts, id: "ct-t", fields: ["lifecycle_stage": .text("mql"), "became_mql_at": .timestamp(t0)], actor: tester, at: t0)
        // Several readers at once (on SQLite more than its six connections). Not more than
        // eight: each needs a new PostgreSQL connection, and beside the whole suite opening
        // twenty at once outlasted the store's 5 s connection wait.
        let crowd = min(before.capacity + 3, 8)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<crowd { g.addTask { _ = try await store.get(.contacts, id: "ct-t") } }
            try await g.waitForAll()
        }
        let after = store.telemetry.connections
        #expect(after.inUse == 0 && after.waiting == 0, "\(after)")
        #expect(after.leases >= before.leases + Int64(crowd) + 1)
        var events = heard.withLock { $0 }
        let refreshes = events.compactMap { e -> (Duration, Bool)? in if case .kpiRefresh(let d, let r) = e { return (d, r) } else { return nil } }
        #expect(refreshes.contains { !$0.1 && $0.0 > .zero }, "the update refreshed the aggregates incrementally: \(events.count) events")
        #expect(events.contains { if case .leased = $0 { return true } else { return false } })
        // A change of the time zone rebuilds the aggregates whole.
        heard.withLock { $0 = [] }
        try await store.setSetting("workspace.timezone", "Europe/Berlin")
        events = heard.withLock { $0 }
        #expect(events.contains { if case .kpiRefresh(_, true) = $0 { return true } else { return false } }, "\(events)")
    }
}
