import SmarketingCore

/// The workspace settings its owners change (time zone, currency, fiscal year, SLA hours, …).
public protocol SettingsStore: Sendable {
    /// The settings (defaults filled in) and their version.
    func workspaceSettings() async throws -> VersionedSettings
    /// Checks and applies a batch of changes (setting key → value) in one transaction: each
    /// changed key audited (`settings.set`, old → new), the version raised once. Refused whole
    /// (`invalid`) when any key or value is wrong, and with `conflict` when `ifVersion` is given
    /// and the settings have changed since. The KPI aggregates are rebuilt in the same
    /// transaction when a change cuts them differently (time zone, SLA hours).
    func changeSettings(_ values: [String: String], ifVersion: Int?, actor: Actor, at: Timestamp) async throws -> SettingsChangeResult
    /// The same, reporting the rebuild's progress when the change rebuilds the aggregates.
    func changeSettings(
        _ values: [String: String],
        ifVersion: Int?,
        actor: Actor,
        at: Timestamp,
        progress: (@Sendable (RebuildProgress) -> Void)?
    ) async throws -> SettingsChangeResult
}

/// The database's schema against this build's (readiness).
public protocol SchemaStatus: Sendable {
    /// Migrations applied in the database, and migrations this build knows.
    func schemaVersions() async throws -> (applied: Int, known: Int)
    /// The queues and clocks an operator watches (`/metrics`).
    func queueStats(now: Timestamp) async throws -> QueueStats
    /// Connections in use and the aggregates' refresh times (`/metrics`).
    var telemetry: StoreTelemetry { get }
}

/// The depth and age of the work waiting in the database (`/metrics`).
public struct QueueStats: Sendable, Equatable {
    public var webhooksPending = 0
    public var webhooksOldestPendingAt: Timestamp?
    public var webhooksFailed = 0
    public var writebacksPending = 0
    public var writebacksOldestPendingAt: Timestamp?
    public var writebacksFailed = 0
    /// SLA clocks whose next step is due now (waiting for the breach service).
    public var slaClocksDue = 0
    /// SLA clocks still running.
    public var slaClocksOpen = 0
    /// Each vendor connection's last finished sync (nil: never).
    public var connections: [(name: String, vendor: String, lastSyncAt: Timestamp?)] = []

    public init() {}

    public static func == (a: QueueStats, b: QueueStats) -> Bool {
        a.webhooksPending == b.webhooksPending && a.webhooksOldestPendingAt == b.webhooksOldestPendingAt && a.webhooksFailed == b.webhooksFailed
            && a.writebacksPending == b.writebacksPending && a.writebacksOldestPendingAt == b.writebacksOldestPendingAt
            && a.writebacksFailed == b.writebacksFailed && a.slaClocksDue == b.slaClocksDue && a.slaClocksOpen == b.slaClocksOpen
            && a.connections.map(\.name) == b.connections.map(\.name) && a.connections.map(\.lastSyncAt) == b.connections.map(\.lastSyncAt)
    }

    /// The statements both backends run (each `?` is now in epoch milliseconds).
    static let webhooks = """
        SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
               (SELECT min(o.at) FROM webhook_deliveries d JOIN outbox o ON o.seq = d.outbox_seq WHERE d.status = 'pending'),
               (SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'),
               (SELECT count(*) FROM writeback_outbox WHERE status = 'pending'),
               (SELECT min(created_at) FROM writeback_outbox WHERE status = 'pending'),
               (SELECT count(*) FROM writeback_outbox WHERE status = 'failed'),
               (SELECT count(*) FROM sla_clocks WHERE next_at IS NOT NULL AND next_at <= ?),
               (SELECT count(*) FROM sla_clocks WHERE next_at IS NOT NULL)
        """
    static let connectionsSQL = "SELECT name, vendor, last_sync_at FROM connections ORDER BY name"
}

extension SettingsStore {
    public func changeSettings(_ values: [String: String], ifVersion: Int?, actor: Actor, at: Timestamp) async throws -> SettingsChangeResult {
        try await changeSettings(values, ifVersion: ifVersion, actor: actor, at: at, progress: nil)
    }
}

/// How far a rebuild of the KPI aggregates is: the phase (`contacts`, `deals`, `accounts`,
/// `costs`, `writing`) and, for contacts, how many of how many are recomputed.
public struct RebuildProgress: Sendable, Hashable, Codable {
    public var phase: String
    public var done: Int
    public var total: Int

    public init(phase: String, done: Int, total: Int) {
        self.phase = phase
        self.done = done
        self.total = total
    }
}

/// Settings with the version they were read at.
public struct VersionedSettings: Sendable, Hashable {
    public var settings: WorkspaceSettings
    /// 0 until the first change; one more with every change that changed something.
    public var version: Int

    public init(settings: WorkspaceSettings, version: Int) {
        self.settings = settings
        self.version = version
    }
}

/// What a change did.
public struct SettingsChangeResult: Sendable, Hashable {
    public var settings: VersionedSettings
    /// The keys that changed (none when every value was already set).
    public var changes: [WorkspaceSettingChange]
    /// Whether the KPI aggregates were rebuilt for them.
    public var rebuiltAggregates: Bool
}

/// The settings rows both backends read and write (one place for the keys and the version).
enum SettingsRules {
    static let versionKey = "workspace.settings_version"

    static let readSQL = "SELECT key, value FROM settings WHERE key IN ("
        + (WorkspaceSettingKey.allCases.map(\.rawValue) + [versionKey]).map { "'\($0)'" }.joined(separator: ", ") + ")"

    static func versioned(_ stored: [String: String]) -> VersionedSettings {
        VersionedSettings(settings: WorkspaceSettings(stored: stored), version: stored[versionKey].flatMap { Int($0) }.map { max(0, $0) } ?? 0)
    }

    /// The changes to write, decided by the core; a refusal or a stale version as a store error.
    static func plan(_ current: VersionedSettings, _ values: [String: String], ifVersion: Int?) throws -> [WorkspaceSettingChange] {
        if let ifVersion, ifVersion != current.version {
            throw StoreError.conflict("the settings changed since version \(ifVersion) (now \(current.version)): read them again and repeat the change")
        }
        switch current.settings.changes(values.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }) {
        case .failure(let refusal): throw StoreError.invalid(refusal.description)
        case .success(let changes): return changes
        }
    }

    static func result(_ current: VersionedSettings, _ changes: [WorkspaceSettingChange]) -> SettingsChangeResult {
        SettingsChangeResult(
            settings: VersionedSettings(settings: current.settings.applying(changes), version: current.version + (changes.isEmpty ? 0 : 1)),
            changes: changes,
            rebuiltAggregates: changes.contains { $0.key.rebuildsAggregates }
        )
    }

    static func auditDetail(_ c: WorkspaceSettingChange) -> String { c.old + " → " + c.new }
}
