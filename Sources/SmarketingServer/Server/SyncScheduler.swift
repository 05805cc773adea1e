import Foundation
import Logging
import ServiceLifecycle
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// Runs each connection's incremental sync on its interval (`sync_interval_minutes`, default 60;
/// 0 never) and soon after a verified webhook names its records; one sync at a time per
/// connection, requests arriving meanwhile coalesce into the next run.
public actor SyncScheduler: Service {
    let service: ConnectionService
    let logger: Logger
    /// How often the loop looks for due work.
    let tick: Duration
    /// How long a webhook's request waits for more of its burst.
    let debounce: Duration
    var requested: [String: Set<SyncObject>?] = [:]
    var running: Set<String> = []
    var requestedAt: [String: ContinuousClock.Instant] = [:]
    let clock = ContinuousClock()
    static let actor = Actor(userID: "system", role: .admin, via: "sync")

    public init(service: ConnectionService, logger: Logger, tick: Duration = .seconds(1), debounce: Duration = .seconds(2)) {
        self.service = service
        self.logger = logger
        self.tick = tick
        self.debounce = debounce
    }

    /// Asks for a sync of `objects` (nil: all) of a connection soon.
    public func request(_ name: String, objects: Set<SyncObject>?) {
        if let existing = requested[name] {
            if let e = existing, let o = objects { requested[name] = e.union(o) } else { requested[name] = .some(nil) }
        } else {
            requested[name] = objects
            requestedAt[name] = clock.now
        }
    }

    /// Starts a sync now in the background (the API's "sync now"); false if one is running.
    public func startNow(_ name: String, full: Bool) -> Bool {
        guard !running.contains(name) else { return false }
        running.insert(name)
        Task { await self.run(name, full: full, only: nil) }
        return true
    }

    func run(_ name: String, full: Bool, only: Set<SyncObject>?) async {
        do {
            let r = try await service.sync(name, full: full, only: only, actor: Self.actor)
            let total = r.counts.values.reduce(SyncCounts(), +)
            logger.info("sync \(name): \(r.status), read \(total.read), created \(total.created), updated \(total.updated), skipped \(total.skipped)")
        } catch {
            // Credentials and vendor problems are recorded on the connection; this is the rest.
            logger.error("sync \(name) failed: \(error)")
            try? await service.store.setConnectionStatus(named: name, status: "error", error: "\(error)", at: service.clock.now())
        }
        running.remove(name)
    }

    func due() async -> [(String, Set<SyncObject>?)] {
        var out: [(String, Set<SyncObject>?)] = []
        let now = clock.now
        for (name, objects) in requested where !running.contains(name) {
            if let at = requestedAt[name], at + debounce <= now { out.append((name, objects)) }
        }
        for (name, _) in out {
            requested[name] = nil
            requestedAt[name] = nil
        }
        guard let connections = try? await service.store.connections() else { return out }
        let nowMS = service.clock.now().milliseconds
        for c in connections where !running.contains(c.name) && !out.contains(where: { $0.0 == c.name }) {
            // Read every tick: the settings only, never the sealed credentials.
            let minutes = ConnectionService.settings(c)["sync_interval_minutes"].flatMap(Int.init) ?? 60
            guard minutes > 0 else { continue }
            let last = c.lastSyncAt?.milliseconds ?? 0
            if nowMS - last >= Int64(minutes) * 60_000 { out.append((c.name, nil)) }
        }
        return out
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            for (name, objects) in await due() {
                running.insert(name)
                Task { await self.run(name, full: false, only: objects) }
            }
            try? await Task.sleep(for: tick)
        }
    }
}
