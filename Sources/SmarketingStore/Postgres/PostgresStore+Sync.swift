import Foundation
import SmarketingCore

/// Vendor connections on PostgreSQL: the connections and their versions, cursors, runs, links,
/// the write-back outbox and inbound receipts. A page of vendor records is applied in one
/// transaction with the identity rules of docs/IDENTITY.md, as on SQLite; what several instances
/// could both decide is made single the PostgreSQL way: the page's email keys and domains are
/// locked (the ingest's advisory locks, sorted), links are upserts, inbound receipts `ON
/// CONFLICT DO NOTHING RETURNING`, and write-back state changes under the row it changes.
extension PostgresStore: SyncStore {
    // MARK: Connections

    public func addConnection(_ c: StoredConnection, actor: Actor, at: Timestamp) async throws {
        try await write { db in
            let inserted = try await db.execute(
                """
                INSERT INTO connections(name, vendor, base_url, sealed_secrets, settings, created_at, status)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING 1
                """,
                [.text(c.name), .text(c.vendor.rawValue), .of(c.baseURL), .bytes(c.sealedSecrets), .text(c.settings), .int(at.milliseconds), .text(c.status)]
            )
            guard inserted == 1 else { throw StoreError.conflict("a connection named \"\(c.name)\" exists; remove it first or choose another name") }
            // Never the secrets, sealed or not.
            try await Self.audit(
                db,
                actor,
                at,
                "connect",
                "connections",
                c.name,
                JSONValue.object(["vendor": .string(c.vendor.rawValue), "base_url": c.baseURL.map { .string($0) } ?? .null]).compactText
            )
        }
    }

    static let connectionColumns = "name, vendor, base_url, sealed_secrets, settings, created_at, status, last_sync_at, last_error, counts"

    static func connection(_ r: PGRow) -> StoredConnection? {
        guard let vendor = r.text(1).flatMap(Vendor.init(rawValue:)) else { return nil }
        return StoredConnection(
            name: r.text(0) ?? "",
            vendor: vendor,
            baseURL: r.text(2),
            sealedSecrets: r.bytes(3) ?? [],
            settings: r.text(4) ?? "{}",
            createdAt: Timestamp(milliseconds: r.int(5) ?? 0),
            status: r.text(6) ?? "",
            lastSyncAt: r.int(7).map(Timestamp.init(milliseconds:)),
            lastError: r.text(8),
            counts: (try? JSONDecoder().decode(SyncCounts.self, from: Data((r.text(9) ?? "{}").utf8))) ?? SyncCounts()
        )
    }

    public func connections() async throws -> [StoredConnection] {
        try await read { c in try await c.rows("SELECT \(Self.connectionColumns) FROM connections ORDER BY name").compactMap(Self.connection) }
    }

    public func connection(named name: String) async throws -> StoredConnection? {
        try await read { c in try await c.one("SELECT \(Self.connectionColumns) FROM connections WHERE name = ?", [.text(name)]).flatMap(Self.connection) }
    }

    public func removeConnection(named name: String, actor: Actor, at: Timestamp) async throws {
        try await write { c in
            guard try await c.execute("DELETE FROM connections WHERE name = ? RETURNING 1", [.text(name)]) == 1 else {
                throw StoreError.missing("no connection named \"\(name)\"")
            }
            for table in ["sync_links", "sync_cursors", "writeback_state", "writeback_outbox", "inbound_receipts"] {
                try await c.execute("DELETE FROM \(table) WHERE connection = ?", [.text(name)])
            }
            try await Self.audit(c, actor, at, "disconnect", "connections", name, "{}")
        }
    }

    public func setConnectionStatus(named name: String, status: String, error: String?, at: Timestamp) async throws {
        _ = try await write { c in
            try await c.execute(
                "UPDATE connections SET status = ?, last_error = ? WHERE name = ?",
                [.text(status), .of(error.map { String($0.unicodeScalars.prefix(2000)) }), .text(name)]
            )
        }
    }

    // MARK: Cursors and runs

    public func syncCursors(connection: String) async throws -> [SyncCursor] {
        try await read { c in
            try await c.rows("SELECT object, cursor, watermark, complete FROM sync_cursors WHERE connection = ?", [.text(connection)]).compactMap { r in
                r.text(0).flatMap(SyncObject.init(rawValue:)).map { SyncCursor(object: $0, cursor: r.text(1), watermark: r.text(2), complete: (r.int(3) ?? 0) != 0) }
            }
        }
    }

    public func resetSyncCursors(connection: String) async throws {
        _ = try await write { c in try await c.execute("DELETE FROM sync_cursors WHERE connection = ?", [.text(connection)]) }
    }

    public func startSyncRun(connection: String, full: Bool, at: Timestamp) async throws -> Int64 {
        try await write { c in
            let id = try await c.one(
                "INSERT INTO sync_runs(connection, started_at, status, \"full\") VALUES (?, ?, 'running', ?) RETURNING id",
                [.text(connection), .int(at.milliseconds), .int(full ? 1 : 0)]
            )?.int(0)
            try await c.execute("UPDATE connections SET status = 'syncing' WHERE name = ?", [.text(connection)])
            guard let id else { throw StoreError.invalid("the sync run could not be started") }
            return id
        }
    }

    public func finishSyncRun(id: Int64, status: String, counts: [String: SyncCounts], error: String?, at: Timestamp) async throws {
        let text = String(decoding: try JSONEncoder().encode(counts), as: UTF8.self)
        let total = String(decoding: try JSONEncoder().encode(counts.values.reduce(SyncCounts(), +)), as: UTF8.self)
        try await write { c in
            try await c.execute(
                "UPDATE sync_runs SET finished_at = ?, status = ?, counts = ?, error = ? WHERE id = ?",
                [.int(at.milliseconds), .text(status), .text(text), .of(error), .int(id)]
            )
            try await c.execute(
                """
                UPDATE connections SET status = ?, last_error = ?, last_sync_at = ?, counts = ?
                WHERE name = (SELECT connection FROM sync_runs WHERE id = ?)
                """,
                [.text(status == "ok" ? "ok" : "error"), .of(error), .int(at.milliseconds), .text(total), .int(id)]
            )
        }
    }

    public func syncRuns(connection: String?, limit: Int) async throws -> [SyncRunInfo] {
        try await read { c in
            try await c.rows(
                """
                SELECT id, connection, started_at, finished_at, status, "full", counts, error FROM sync_runs
                WHERE ?::text IS NULL OR connection = ? ORDER BY id DESC LIMIT ?
                """,
                [.of(connection), .of(connection), .int(Int64(max(0, limit)))]
            ).map { r in
                SyncRunInfo(
                    id: r.int(0) ?? 0,
                    connection: r.text(1) ?? "",
                    startedAt: Timestamp(milliseconds: r.int(2) ?? 0),
                    finishedAt: r.int(3).map(Timestamp.init(milliseconds:)),
                    status: r.text(4) ?? "",
                    full: (r.int(5) ?? 0) != 0,
                    counts: (try? JSONDecoder().decode([String: SyncCounts].self, from: Data((r.text(6) ?? "{}").utf8))) ?? [:],
                    error: r.text(7)
                )
            }
        }
    }

    public func syncSkips(runID: Int64, limit: Int) async throws -> [SyncSkip] {
        try await read { c in
            try await c.rows("SELECT object, external_id, reason FROM sync_skips WHERE run_id = ? LIMIT ?", [.int(runID), .int(Int64(max(0, limit)))])
                .map { SyncSkip(object: $0.text(0) ?? "", externalID: $0.text(1) ?? "", reason: $0.text(2) ?? "") }
        }
    }

    public func syncLinks(resource: Resource, recordID: String) async throws -> [SyncLink] {
        try await read { c in
            try await c.rows(
                "SELECT connection, object, external_id FROM sync_links WHERE resource = ? AND record_id = ? ORDER BY connection, object",
                [.text(resource.rawValue), .text(recordID)]
            ).map { SyncLink(connection: $0.text(0) ?? "", object: $0.text(1) ?? "", externalID: $0.text(2) ?? "", resource: resource.rawValue, recordID: recordID) }
        }
    }

    public func linkedRecord(connection: String, object: String, externalID: String) async throws -> String? {
        try await read { c in try await PGSyncApply.record(c, connection, object, externalID) }
    }

    // MARK: Pages

    public func applySyncPage(
        _ page: SyncPage,
        connection: String,
        mapping: SyncMapping,
        runID: Int64,
        actor: Actor,
        at: Timestamp
    ) async throws -> (SyncCounts, [SyncSkip]) {
        try await write { c in
            // The ingest's rules for new people: one contact per email key and one account per
            // domain whichever instance (or ingest) sees them first.
            try await c.execute("SELECT pg_advisory_xact_lock_shared(?)", [.int(Self.importLock)])
            var keys: Set<String> = []
            var domains: Set<String> = []
            for item in page.items {
                switch item {
                case .person(let p):
                    if let key = p.email.flatMap(EmailAddress.key) {
                        keys.insert(key)
                        let domain = EmailAddress.domain(ofKey: key)
                        if !Domain.isFreeMail(domain) { domains.insert(domain) }
                    }
                case .company(let co):
                    if let d = co.domain.flatMap(Domain.normalise) { domains.insert(d) }
                default: continue
                }
            }
            try await Self.lockIdentityKeys(c, keys: keys, domains: domains)
            var apply = try await PGSyncApply(c: c, store: self, connection: connection, mapping: mapping, actor: actor, at: at)
            for item in page.items {
                apply.counts.read += 1
                try await c.execute("SAVEPOINT sync_item")
                do {
                    try await apply.apply(item, object: page.object)
                    try await c.execute("RELEASE SAVEPOINT sync_item")
                } catch let e as SyncSkipError {
                    try await c.execute("ROLLBACK TO SAVEPOINT sync_item")
                    apply.skip(page.object, item.externalID, e.reason)
                } catch let e as StoreError {
                    if case .unavailable = e { throw e }
                    try await c.execute("ROLLBACK TO SAVEPOINT sync_item")
                    apply.skip(page.object, item.externalID, e.description)
                }
            }
            for id in page.deletedIDs { try await apply.vendorDeleted(page.object, id) }
            for s in apply.skips {
                try await c.execute(
                    "INSERT INTO sync_skips(run_id, connection, object, external_id, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                    [.int(runID), .text(connection), .text(s.object), .text(s.externalID), .text(s.reason), .int(at.milliseconds)]
                )
            }
            // The cursor moves with the page: a crash before this commit re-reads the page.
            try await c.execute(
                """
                INSERT INTO sync_cursors(connection, object, cursor, watermark, complete, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (connection, object) DO UPDATE SET cursor = excluded.cursor,
                  watermark = coalesce(excluded.watermark, sync_cursors.watermark), complete = excluded.complete, updated_at = excluded.updated_at
                """,
                [
                    .text(connection), .text(page.object.rawValue), .of(page.nextCursor), .of(page.nextCursor == nil ? page.watermark : nil),
                    .int(page.nextCursor == nil ? 1 : 0), .int(at.milliseconds),
                ]
            )
            return (apply.counts, apply.skips)
        }
    }

    // MARK: Write-back

    public func writebackSources(connection: String) async throws -> [WritebackSource] {
        try await read { c in
            try await c.rows(
                SyncSQL.writebackSources,
                [.text(connection), .text(connection)]
            ).map { r in
                WritebackSource(
                    contactID: r.text(0) ?? "",
                    stage: r.text(1),
                    engagement: r.double(2),
                    grade: r.text(3),
                    mqlAt: r.int(4).map(Timestamp.init(milliseconds:)),
                    ownerExternalID: r.text(5),
                    handoverStatus: r.text(6),
                    slaBreached: r.int(7) == 1,
                    rejectionReason: r.text(8),
                    subscription: r.text(9).flatMap(SubscriptionStatus.init(rawValue:))
                )
            }
        }
    }

    public func linkedPeople(connection: String) async throws -> [String: (object: String, externalID: String)] {
        try await read { c in
            var out: [String: (object: String, externalID: String)] = [:]
            for r in try await c.rows(
                "SELECT record_id, object, external_id FROM sync_links WHERE connection = ? AND resource = 'contacts' ORDER BY object, external_id",
                [.text(connection)]
            ) {
                // A person the vendor holds twice (lead and contact) is written back to the first link.
                guard let id = r.text(0) else { continue }
                if out[id] == nil { out[id] = (r.text(1) ?? "", r.text(2) ?? "") }
            }
            return out
        }
    }

    public func queueWriteback(connection: String, values: [String: [String: String?]], at: Timestamp) async throws -> Int {
        try await write { c in
            var queued = 0
            for (recordID, fields) in values.sorted(by: { $0.key < $1.key }) {
                guard let target = try await PGSyncApply.firstLink(c, connection, resource: "contacts", recordID: recordID) else { continue }
                for (field, value) in fields.sorted(by: { $0.key < $1.key }) {
                    let previous = try await c.one(
                        "SELECT value FROM writeback_state WHERE connection = ? AND record_id = ? AND field = ? FOR UPDATE",
                        [.text(connection), .text(recordID), .text(field)]
                    )
                    // Idempotent: an unchanged value is not queued again.
                    if let previous, previous.text(0) == value { continue }
                    if previous == nil, value == nil { continue }
                    try await c.execute(
                        """
                        INSERT INTO writeback_state(connection, record_id, field, value) VALUES (?, ?, ?, ?)
                        ON CONFLICT (connection, record_id, field) DO UPDATE SET value = excluded.value
                        """,
                        [.text(connection), .text(recordID), .text(field), .of(value)]
                    )
                    // A newer value replaces one still waiting for the same field.
                    try await c.execute(
                        "DELETE FROM writeback_outbox WHERE connection = ? AND record_id = ? AND field = ? AND status = 'pending'",
                        [.text(connection), .text(recordID), .text(field)]
                    )
                    try await c.execute(
                        """
                        INSERT INTO writeback_outbox(connection, record_id, object, external_id, field, value, status, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
                        """,
                        [.text(connection), .text(recordID), .text(target.object), .text(target.externalID), .text(field), .of(value), .int(at.milliseconds)]
                    )
                    queued += 1
                }
            }
            return queued
        }
    }

    public func pendingWriteback(connection: String, now: Timestamp, limit: Int) async throws -> [WritebackChange] {
        try await read { c in
            try await c.rows(
                """
                SELECT seq, record_id, object, external_id, field, value, attempts FROM writeback_outbox
                WHERE connection = ? AND status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                ORDER BY seq LIMIT ?
                """,
                [.text(connection), .int(now.milliseconds), .int(Int64(max(0, limit)))]
            ).map { r in
                WritebackChange(
                    seq: r.int(0) ?? 0,
                    connection: connection,
                    recordID: r.text(1) ?? "",
                    object: r.text(2) ?? "",
                    externalID: r.text(3) ?? "",
                    field: r.text(4) ?? "",
                    value: r.text(5),
                    attempts: Int(clamping: r.int(6) ?? 0)
                )
            }
        }
    }

    public func recordWriteback(_ results: [WritebackResult], at: Timestamp) async throws {
        try await write { c in
            for r in results {
                if r.delivered {
                    try await c.execute(
                        "UPDATE writeback_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE seq = ?",
                        [.int(at.milliseconds), .int(r.seq)]
                    )
                    continue
                }
                let attempts = Int(clamping: try await c.one("SELECT attempts FROM writeback_outbox WHERE seq = ? FOR UPDATE", [.int(r.seq)])?.int(0) ?? 0)
                let (giveUp, delay) = WritebackRetry.next(attempts: attempts, retry: r.retry)
                try await c.execute(
                    "UPDATE writeback_outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?",
                    [.text(giveUp ? "failed" : "pending"), .int(at.milliseconds + delay), .of(r.error.map { String($0.unicodeScalars.prefix(1000)) }), .int(r.seq)]
                )
                if giveUp {
                    // Not sent: forget it was queued, so the next run queues the value again.
                    try await c.execute(
                        """
                        DELETE FROM writeback_state WHERE (connection, record_id, field) IN
                          (SELECT connection, record_id, field FROM writeback_outbox WHERE seq = ?)
                        """,
                        [.int(r.seq)]
                    )
                }
            }
        }
    }

    public func writebackLog(connection: String, limit: Int) async throws -> [WritebackLogEntry] {
        try await read { c in
            try await c.rows(
                """
                SELECT seq, record_id, external_id, field, value, status, attempts, last_error, delivered_at FROM writeback_outbox
                WHERE connection = ? ORDER BY seq DESC LIMIT ?
                """,
                [.text(connection), .int(Int64(max(0, limit)))]
            ).map { r in
                WritebackLogEntry(
                    seq: r.int(0) ?? 0,
                    connection: connection,
                    recordID: r.text(1) ?? "",
                    externalID: r.text(2) ?? "",
                    field: r.text(3) ?? "",
                    value: r.text(4),
                    status: r.text(5) ?? "",
                    attempts: Int(clamping: r.int(6) ?? 0),
                    lastError: r.text(7),
                    deliveredAt: r.int(8).map(Timestamp.init(milliseconds:))
                )
            }
        }
    }

    public func unlinkDeleted(connection: String, mapping: SyncMapping, object: SyncObject, externalIDs: [String], actor: Actor, at: Timestamp) async throws -> Int {
        try await write { c in
            var apply = try await PGSyncApply(c: c, store: self, connection: connection, mapping: mapping, actor: actor, at: at)
            for id in externalIDs { try await apply.vendorDeleted(object, id) }
            return apply.counts.deleted
        }
    }

    public func applyConnectionsConfig(text: String, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion {
        try await write { c in
            // One new version at a time (two instances applying at once get 1 and 2).
            try await c.script("LOCK TABLE connection_configs IN SHARE ROW EXCLUSIVE MODE")
            let version = Int(clamping: (try await c.one("SELECT coalesce(max(version), 0) FROM connection_configs")?.int(0) ?? 0) + 1)
            try await c.execute("UPDATE connection_configs SET active = 0 WHERE active = 1")
            try await c.execute(
                "INSERT INTO connection_configs(version, text, applied_at, author, comment, active) VALUES (?, ?, ?, ?, ?, 1)",
                [.int(Int64(version)), .text(text), .int(at.milliseconds), .text(actor.userID), .text(comment)]
            )
            try await Self.audit(c, actor, at, "apply", "connection_configs", String(version), JSONValue.object(["comment": .string(comment)]).compactText)
            return HandoverConfigVersion(version: version, appliedAt: at, author: actor.userID, comment: comment, active: true)
        }
    }

    public func activeConnectionsConfig() async throws -> (HandoverConfigVersion, String)? {
        try await read { c in
            try await c.one("SELECT version, applied_at, author, comment, text FROM connection_configs WHERE active = 1").map { r in
                (
                    HandoverConfigVersion(
                        version: Int(clamping: r.int(0) ?? 0),
                        appliedAt: Timestamp(milliseconds: r.int(1) ?? 0),
                        author: r.text(2) ?? "",
                        comment: r.text(3) ?? "",
                        active: true
                    ),
                    r.text(4) ?? ""
                )
            }
        }
    }

    public func connectionsConfigVersions() async throws -> [HandoverConfigVersion] {
        try await read { c in
            try await c.rows("SELECT version, applied_at, author, comment, active FROM connection_configs ORDER BY version DESC").map { r in
                HandoverConfigVersion(
                    version: Int(clamping: r.int(0) ?? 0),
                    appliedAt: Timestamp(milliseconds: r.int(1) ?? 0),
                    author: r.text(2) ?? "",
                    comment: r.text(3) ?? "",
                    active: r.int(4) == 1
                )
            }
        }
    }

    public func recordInbound(connection: String, eventIDs: [String], at: Timestamp) async throws -> [String] {
        try await write { c in
            var fresh: [String] = []
            for id in eventIDs {
                // Two instances receiving the same retry: the one whose insert lands takes it.
                let inserted = try await c.execute(
                    "INSERT INTO inbound_receipts(connection, event_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
                    [.text(connection), .text(id), .int(at.milliseconds)]
                )
                if inserted == 1 { fresh.append(id) }
            }
            // Receipts are kept for 7 days (vendors retry for about a day).
            try await c.execute("DELETE FROM inbound_receipts WHERE received_at < ?", [.int(at.milliseconds - 7 * 86_400_000)])
            return fresh
        }
    }
}
