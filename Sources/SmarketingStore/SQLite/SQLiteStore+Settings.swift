import Synchronization
import GRDB
import SmarketingCore

extension SQLiteStore {
    public func workspaceSettings() async throws -> VersionedSettings {
        try await pool.read { db in try Self.versionedSettings(db) }
    }

    static func versionedSettings(_ db: Database) throws -> VersionedSettings {
        var stored: [String: String] = [:]
        for r in try Row.fetchAll(db.cachedStatement(sql: SettingsRules.readSQL)) { stored[r[0]] = r[1] }
        return SettingsRules.versioned(stored)
    }

    public func changeSettings(
        _ values: [String: String],
        ifVersion: Int?,
        actor: Actor,
        at: Timestamp,
        progress: (@Sendable (RebuildProgress) -> Void)?
    ) async throws -> SettingsChangeResult {
        // One writer at a time: the version read here is the one the change is made on. The
        // rebuild a new zone or SLA needs runs in this transaction: readers keep the old figures
        // (their WAL snapshot) until it commits.
        let listener = progress.map(Listener.init)
        rebuildProgress.withLock { $0 = listener }
        defer { rebuildProgress.withLock { $0 = nil } }
        return try await writeRefreshingKPIs { db in
            let current = try Self.versionedSettings(db)
            let changes = try SettingsRules.plan(current, values, ifVersion: ifVersion)
            let result = SettingsRules.result(current, changes)
            let upsert = try db.cachedStatement(sql: "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            for c in changes {
                try upsert.execute(arguments: [c.key.rawValue, c.new])
                try Self.audit(db, actor, at, "settings.set", "settings", c.key.rawValue, SettingsRules.auditDetail(c))
            }
            if !changes.isEmpty { try upsert.execute(arguments: [SettingsRules.versionKey, String(result.settings.version)]) }
            return result
        }
    }
}
