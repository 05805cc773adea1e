import Synchronization
import SmarketingCore

extension PostgresStore {
    public func workspaceSettings() async throws -> VersionedSettings {
        try await read { c in try await Self.versionedSettings(c) }
    }

    static func versionedSettings(_ c: PGConn) async throws -> VersionedSettings {
        var stored: [String: String] = [:]
        for r in try await c.rows(SettingsRules.readSQL) {
            if let k = r.text(0), let v = r.text(1) { stored[k] = v }
        }
        return SettingsRules.versioned(stored)
    }

    /// Serialises settings changes of every instance (the version check and the writes).
    static let settingsLock: Int64 = 0x736D_6B5F_7365_7474  // "smk_sett"

    public func changeSettings(
        _ values: [String: String],
        ifVersion: Int?,
        actor: Actor,
        at: Timestamp,
        progress: (@Sendable (RebuildProgress) -> Void)?
    ) async throws -> SettingsChangeResult {
        rebuildProgress.withLock { $0 = progress }
        defer { rebuildProgress.withLock { $0 = nil } }
        return try await write { c in
            try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.settingsLock)])
            let current = try await Self.versionedSettings(c)
            let changes = try SettingsRules.plan(current, values, ifVersion: ifVersion)
            let result = SettingsRules.result(current, changes)
            let upsert = "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
            for ch in changes {
                try await c.execute(upsert, [.text(ch.key.rawValue), .text(ch.new)])
                try await Self.audit(c, actor, at, "settings.set", "settings", ch.key.rawValue, SettingsRules.auditDetail(ch))
            }
            if !changes.isEmpty { try await c.execute(upsert, [.text(SettingsRules.versionKey), .text(String(result.settings.version))]) }
            return result
        }
    }
}

extension PostgresStore {
    public func schemaVersions() async throws -> (applied: Int, known: Int) {
        try await read { c in (Int(try await c.one("SELECT count(*) FROM schema_migrations")?.int(0) ?? 0), PostgresSchema.count) }
    }
}
