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
        let listener = progress.map(Listener.init)
        rebuildProgress.withLock { $0 = listener }
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

    public func queueStats(now: Timestamp) async throws -> QueueStats {
        try await read { c in
            var q = QueueStats()
            if let r = try await c.one(QueueStats.webhooks, [.int(now.milliseconds)]) {
                q.webhooksPending = Int(r.int(0) ?? 0)
                q.webhooksOldestPendingAt = r.int(1).map(Timestamp.init(milliseconds:))
                q.webhooksFailed = Int(r.int(2) ?? 0)
                q.writebacksPending = Int(r.int(3) ?? 0)
                q.writebacksOldestPendingAt = r.int(4).map(Timestamp.init(milliseconds:))
                q.writebacksFailed = Int(r.int(5) ?? 0)
                q.slaClocksDue = Int(r.int(6) ?? 0)
                q.slaClocksOpen = Int(r.int(7) ?? 0)
            }
            q.connections = try await c.rows(QueueStats.connectionsSQL).map {
                (name: $0.text(0) ?? "", vendor: $0.text(1) ?? "", lastSyncAt: $0.int(2).map(Timestamp.init(milliseconds:)))
            }
            return q
        }
    }
}
