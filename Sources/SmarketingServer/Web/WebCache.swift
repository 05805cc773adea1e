import Dispatch
import Foundation
import SmarketingCore
import SmarketingStore
import Synchronization

/// Reads the pages and the API repeat and that change rarely: the user list for a few seconds,
/// and attribution results until the aggregates' version moves (any committed change).
final class WebCache: Sendable {
    private struct State {
        var usersAt: UInt64 = 0
        var users: [Record] = []
        var zoneAt: UInt64 = 0
        var zone: TimeZone?
        var settings: WorkspaceSettings?
        var values: [String: (version: Int64, value: any Sendable)] = [:]
        var slow: [String: (version: Int64, at: UInt64)] = [:]
        var refreshing: Set<String> = []
    }
    private let state = Mutex(State())

    /// The workspace's time zone for pages whose viewer has none of their own, read at most
    /// every few seconds like the user list (not once per page request).
    func workspaceZone(_ store: any FunnelStore) async throws -> TimeZone {
        try await workspaceSettings(store).timeZone
    }

    /// The workspace's settings (zone, fiscal year, …), read at most every few seconds.
    func workspaceSettings(_ store: any FunnelStore) async throws -> WorkspaceSettings {
        let now = DispatchTime.now().uptimeNanoseconds
        if let hit = state.withLock({ s in Self.nanoseconds(from: s.zoneAt, to: now) < 5_000_000_000 ? s.settings : nil }) { return hit }
        let settings = try await store.workspaceSettings().settings
        state.withLock {
            $0.zone = settings.timeZone
            $0.settings = settings
            $0.zoneAt = now
        }
        return settings
    }

    func users(_ store: any FunnelStore) async throws -> [Record] {
        let now = DispatchTime.now().uptimeNanoseconds
        if let hit = state.withLock({ s in Self.nanoseconds(from: s.usersAt, to: now) < 5_000_000_000 && !s.users.isEmpty ? s.users : nil }) { return hit }
        var q = ListQuery()
        q.limit = 10_000
        let list = try await store.list(.users, q).records
        state.withLock {
            $0.users = list
            $0.usersAt = now
        }
        return list
    }

    func forgetUsers() { state.withLock { $0.usersAt = 0 } }

    /// Uptime from `start` to `end`, 0 when another thread stored a later `start` after this one
    /// read `end` (the readings are taken outside the lock).
    private static func nanoseconds(from start: UInt64, to end: UInt64) -> UInt64 { end >= start ? end - start : 0 }

    /// `version`, but held for at least `seconds` after it last moved: for results that cost
    /// too much to recompute after every write.
    /// Each `lane` holds its own version (figures of closed months can wait longer than the
    /// current period's).
    func slowVersion(_ version: Int64, seconds: Double, lane: String = "recent") -> Int64 {
        let now = DispatchTime.now().uptimeNanoseconds
        return state.withLock { s in
            if let held = s.slow[lane], version == held.version || Double(Self.nanoseconds(from: held.at, to: now)) < seconds * 1e9 { return held.version }
            s.slow[lane] = (version, now)
            return version
        }
    }

    /// The value for `key` computed at aggregates version `version` or a later one, or a new one
    /// from `make`. (Versions only grow while a server runs: a restore happens with it stopped.)
    func value<T: Sendable>(_ key: String, version: Int64, _ make: () async throws -> T) async throws -> T {
        if let hit = state.withLock({ s in s.values[key].flatMap { $0.version >= version ? $0.value as? T : nil } }) { return hit }
        let v = try await make()
        put(key, version, v)
        return v
    }

    /// Like `value`, but an older version's value is returned at once while a new one is
    /// computed in the background (one at a time per key): for results that take seconds on a
    /// large workspace (attribution, content use), so that only the very first read waits.
    func latest<T: Sendable>(_ key: String, version: Int64, _ make: @escaping @Sendable () async throws -> T) async throws -> T {
        let (hit, stale, start) = state.withLock { s -> (T?, T?, Bool) in
            guard let entry = s.values[key], let v = entry.value as? T else { return (nil, nil, false) }
            if entry.version >= version { return (v, nil, false) }
            let start = s.refreshing.insert(key).inserted
            return (nil, v, start)
        }
        if let hit { return hit }
        guard let stale else { return try await value(key, version: version, make) }
        if start {
            Task.detached(priority: .utility) { [self] in
                defer { _ = state.withLock { $0.refreshing.remove(key) } }
                if let v = try? await make() { put(key, version, v) }
            }
        }
        return stale
    }

    /// Whether `key` holds the value of `version` or a later one (false while an older one is shown).
    func isCurrent(_ key: String, version: Int64) -> Bool {
        state.withLock { ($0.values[key]?.version).map { $0 >= version } ?? false }
    }

    /// Keeps `v` unless `key` already holds a later version's value (a slow background refresh
    /// must not replace what a request computed after it started).
    private func put(_ key: String, _ version: Int64, _ v: any Sendable) {
        state.withLock { s in
            if let held = s.values[key], held.version > version { return }
            if s.values.count > 256 { s.values.removeAll() }
            s.values[key] = (version, v)
        }
    }
}

/// What an attribution report is computed from; its `key` names every input, so a page and an
/// API call that ask the same thing share one computation.
struct AttributionAsk: Sendable {
    var period: KPIPeriod
    var by: AttributionCut
    var models: [AttributionModel]
    var lookbackDays: Int
    var halfLifeDays: Double

    var key: String {
        "attr:\(period.from.text):\(period.to.text):\(by.rawValue):\(models.map(\.rawValue).joined(separator: ",")):\(lookbackDays):\(halfLifeDays)"
    }
}

/// An attribution report and the instant it was computed (the API's `Age` header).
struct TimedAttribution: Sendable {
    let report: AttributionReport
    let computedAt: Timestamp
}

extension WebCache {
    /// The attribution `ask` computed through the cache. With `current`, the caller waits for
    /// the report of `version`; without it, an older report is returned at once while the new
    /// one is computed in the background.
    func attribution(_ store: any FunnelStore, clock: any WorkspaceClock, _ ask: AttributionAsk, version: Int64, current: Bool = false) async throws
        -> TimedAttribution
    {
        let make: @Sendable () async throws -> TimedAttribution = {
            let report = try await store.attribution(
                period: ask.period,
                by: ask.by,
                models: ask.models,
                lookbackDays: ask.lookbackDays,
                halfLifeDays: ask.halfLifeDays
            )
            return TimedAttribution(report: report, computedAt: clock.now())
        }
        return try await current ? value(ask.key, version: version, make) : latest(ask.key, version: version, make)
    }
}
