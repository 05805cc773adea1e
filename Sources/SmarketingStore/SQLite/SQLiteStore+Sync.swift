import Foundation
import GRDB
import SmarketingCore

extension SQLiteStore {
    // MARK: Connections

    public func addConnection(_ c: StoredConnection, actor: Actor, at: Timestamp) async throws {
        try await pool.write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM connections WHERE name = ?", arguments: [c.name]) != nil {
                throw StoreError.conflict("a connection named \"\(c.name)\" exists; remove it first or choose another name")
            }
            try db.execute(
                sql: """
                    INSERT INTO connections(name, vendor, base_url, sealed_secrets, settings, created_at, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [c.name, c.vendor.rawValue, c.baseURL, Data(c.sealedSecrets), c.settings, at.milliseconds, c.status]
            )
            // Never the secrets, sealed or not.
            try Self.audit(
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

    static func connection(_ row: Row) -> StoredConnection? {
        guard let vendor = Vendor(rawValue: row["vendor"]) else { return nil }
        let countsText: String = row["counts"]
        let counts = (try? JSONDecoder().decode(SyncCounts.self, from: Data(countsText.utf8))) ?? SyncCounts()
        let sealed: Data = row["sealed_secrets"]
        return StoredConnection(
            name: row["name"],
            vendor: vendor,
            baseURL: row["base_url"],
            sealedSecrets: [UInt8](sealed),
            settings: row["settings"],
            createdAt: Timestamp(milliseconds: row["created_at"]),
            status: row["status"],
            lastSyncAt: (row["last_sync_at"] as Int64?).map(Timestamp.init(milliseconds:)),
            lastError: row["last_error"],
            counts: counts
        )
    }

    public func connections() async throws -> [StoredConnection] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM connections ORDER BY name").compactMap(Self.connection) }
    }

    public func connection(named name: String) async throws -> StoredConnection? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM connections WHERE name = ?", arguments: [name]).flatMap(Self.connection)
        }
    }

    public func removeConnection(named name: String, actor: Actor, at: Timestamp) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM connections WHERE name = ?", arguments: [name])
            guard db.changesCount == 1 else { throw StoreError.missing("no connection named \"\(name)\"") }
            for table in ["sync_links", "sync_cursors", "writeback_state", "writeback_outbox", "inbound_receipts"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE connection = ?", arguments: [name])
            }
            try Self.audit(db, actor, at, "disconnect", "connections", name, "{}")
        }
    }

    public func setConnectionStatus(named name: String, status: String, error: String?, at: Timestamp) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE connections SET status = ?, last_error = ? WHERE name = ?",
                arguments: [status, error.map { String($0.unicodeScalars.prefix(2000)) }, name]
            )
        }
    }

    // MARK: Cursors and runs

    public func syncCursors(connection: String) async throws -> [SyncCursor] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT object, cursor, watermark, complete FROM sync_cursors WHERE connection = ?", arguments: [connection])
                .compactMap { row in
                    SyncObject(rawValue: row[0]).map { SyncCursor(object: $0, cursor: row[1], watermark: row[2], complete: (row[3] as Int) != 0) }
                }
        }
    }

    public func resetSyncCursors(connection: String) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM sync_cursors WHERE connection = ?", arguments: [connection]) }
    }

    public func startSyncRun(connection: String, full: Bool, at: Timestamp) async throws -> Int64 {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO sync_runs(connection, started_at, status, full) VALUES (?, ?, 'running', ?)",
                arguments: [connection, at.milliseconds, full]
            )
            try db.execute(sql: "UPDATE connections SET status = 'syncing' WHERE name = ?", arguments: [connection])
            return db.lastInsertedRowID
        }
    }

    public func finishSyncRun(id: Int64, status: String, counts: [String: SyncCounts], error: String?, at: Timestamp) async throws {
        let text = String(decoding: try JSONEncoder().encode(counts), as: UTF8.self)
        let total = counts.values.reduce(SyncCounts(), +)
        let totalText = String(decoding: try JSONEncoder().encode(total), as: UTF8.self)
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE sync_runs SET finished_at = ?, status = ?, counts = ?, error = ? WHERE id = ?",
                arguments: [at.milliseconds, status, text, error, id]
            )
            try db.execute(
                sql: """
                    UPDATE connections SET status = ?, last_error = ?, last_sync_at = ?, counts = ?
                    WHERE name = (SELECT connection FROM sync_runs WHERE id = ?)
                    """,
                arguments: [status == "ok" ? "ok" : "error", error, at.milliseconds, totalText, id]
            )
        }
    }

    public func syncRuns(connection: String?, limit: Int) async throws -> [SyncRunInfo] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM sync_runs WHERE ? IS NULL OR connection = ? ORDER BY id DESC LIMIT ?",
                arguments: [connection, connection, limit]
            ).map { row in
                let countsText: String = row["counts"]
                return SyncRunInfo(
                    id: row["id"],
                    connection: row["connection"],
                    startedAt: Timestamp(milliseconds: row["started_at"]),
                    finishedAt: (row["finished_at"] as Int64?).map(Timestamp.init(milliseconds:)),
                    status: row["status"],
                    full: row["full"],
                    counts: (try? JSONDecoder().decode([String: SyncCounts].self, from: Data(countsText.utf8))) ?? [:],
                    error: row["error"]
                )
            }
        }
    }

    public func syncSkips(runID: Int64, limit: Int) async throws -> [SyncSkip] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT object, external_id, reason FROM sync_skips WHERE run_id = ? LIMIT ?", arguments: [runID, limit])
                .map { SyncSkip(object: $0[0], externalID: $0[1], reason: $0[2]) }
        }
    }

    public func syncLinks(resource: Resource, recordID: String) async throws -> [SyncLink] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT connection, object, external_id FROM sync_links WHERE resource = ? AND record_id = ? ORDER BY connection, object",
                arguments: [resource.rawValue, recordID]
            ).map { SyncLink(connection: $0[0], object: $0[1], externalID: $0[2], resource: resource.rawValue, recordID: recordID) }
        }
    }

    public func linkedRecord(connection: String, object: String, externalID: String) async throws -> String? {
        try await pool.read { db in try SyncLinks(db: db, connection: connection).record(object, externalID) }
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
        try await writeRefreshingKPIs { db in
            var apply = try SyncApply(db: db, store: self, connection: connection, mapping: mapping, actor: actor, at: at)
            for item in page.items {
                apply.counts.read += 1
                do {
                    try db.inSavepoint {
                        try apply.apply(item, object: page.object)
                        return .commit
                    }
                } catch let e as SyncSkipError {
                    apply.skip(page.object, item.externalID, e.reason)
                } catch let e as StoreError {
                    apply.skip(page.object, item.externalID, e.description)
                }
            }
            for id in page.deletedIDs { try apply.vendorDeleted(page.object, id) }
            for s in apply.skips {
                try db.execute(
                    sql: "INSERT INTO sync_skips(run_id, connection, object, external_id, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [runID, connection, s.object, s.externalID, s.reason, at.milliseconds]
                )
            }
            // The cursor moves with the page: a crash before this commit re-reads the page.
            try db.execute(
                sql: """
                    INSERT INTO sync_cursors(connection, object, cursor, watermark, complete, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(connection, object) DO UPDATE SET cursor = excluded.cursor,
                      watermark = coalesce(excluded.watermark, sync_cursors.watermark), complete = excluded.complete,
                      updated_at = excluded.updated_at
                    """,
                arguments: [
                    connection, page.object.rawValue, page.nextCursor, page.nextCursor == nil ? page.watermark : nil, page.nextCursor == nil,
                    at.milliseconds,
                ]
            )
            return (apply.counts, apply.skips)
        }
    }

    // MARK: Write-back

    public func writebackSources(connection: String) async throws -> [WritebackSource] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: SyncSQL.writebackSources,
                arguments: [connection, connection]
            ).map { row in
                WritebackSource(
                    contactID: row[0],
                    stage: row[1],
                    engagement: row[2],
                    grade: row[3],
                    mqlAt: (row[4] as Int64?).map(Timestamp.init(milliseconds:)),
                    ownerExternalID: row[5],
                    handoverStatus: row[6],
                    slaBreached: (row[7] as Int?) == 1,
                    rejectionReason: row[8],
                    subscription: (row[9] as String?).flatMap(SubscriptionStatus.init(rawValue:))
                )
            }
        }
    }

    public func linkedPeople(connection: String) async throws -> [String: (object: String, externalID: String)] {
        try await pool.read { db in
            var out: [String: (object: String, externalID: String)] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT record_id, object, external_id FROM sync_links WHERE connection = ? AND resource = 'contacts' ORDER BY object, external_id",
                arguments: [connection]
            ) {
                // A person the vendor holds twice (lead and contact) is written back to the first link.
                let id: String = row[0]
                if out[id] == nil { out[id] = (row[1], row[2]) }
            }
            return out
        }
    }

    public func queueWriteback(connection: String, values: [String: [String: String?]], at: Timestamp) async throws -> Int {
        try await pool.write { db in
            let links = SyncLinks(db: db, connection: connection)
            let last = try db.cachedStatement(sql: "SELECT value FROM writeback_state WHERE connection = ? AND record_id = ? AND field = ?")
            let remember = try db.cachedStatement(
                sql: """
                    INSERT INTO writeback_state(connection, record_id, field, value) VALUES (?, ?, ?, ?)
                    ON CONFLICT(connection, record_id, field) DO UPDATE SET value = excluded.value
                    """
            )
            let replace = try db.cachedStatement(
                sql: "DELETE FROM writeback_outbox WHERE connection = ? AND record_id = ? AND field = ? AND status = 'pending'"
            )
            let queue = try db.cachedStatement(
                sql: """
                    INSERT INTO writeback_outbox(connection, record_id, object, external_id, field, value, status, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
                    """
            )
            var queued = 0
            for (recordID, fields) in values.sorted(by: { $0.key < $1.key }) {
                guard let target = try links.firstLink(resource: "contacts", recordID: recordID) else { continue }
                for (field, value) in fields.sorted(by: { $0.key < $1.key }) {
                    let previous = try Row.fetchOne(last, arguments: [connection, recordID, field])
                    // Idempotent: an unchanged value is not queued again.
                    if let previous, (previous[0] as String?) == value { continue }
                    if previous == nil, value == nil { continue }
                    try remember.execute(arguments: [connection, recordID, field, value])
                    // A newer value replaces one still waiting for the same field.
                    try replace.execute(arguments: [connection, recordID, field])
                    try queue.execute(arguments: [connection, recordID, target.object, target.externalID, field, value, at.milliseconds])
                    queued += 1
                }
            }
            return queued
        }
    }

    public func pendingWriteback(connection: String, now: Timestamp, limit: Int) async throws -> [WritebackChange] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, record_id, object, external_id, field, value, attempts FROM writeback_outbox
                    WHERE connection = ? AND status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                    ORDER BY seq LIMIT ?
                    """,
                arguments: [connection, now.milliseconds, limit]
            ).map {
                WritebackChange(
                    seq: $0[0],
                    connection: connection,
                    recordID: $0[1],
                    object: $0[2],
                    externalID: $0[3],
                    field: $0[4],
                    value: $0[5],
                    attempts: $0[6]
                )
            }
        }
    }

    public func recordWriteback(_ results: [WritebackResult], at: Timestamp) async throws {
        try await pool.write { db in
            for r in results {
                if r.delivered {
                    try db.execute(
                        sql: "UPDATE writeback_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE seq = ?",
                        arguments: [at.milliseconds, r.seq]
                    )
                    continue
                }
                let attempts = try Int.fetchOne(db, sql: "SELECT attempts FROM writeback_outbox WHERE seq = ?", arguments: [r.seq]) ?? 0
                let (giveUp, delay) = WritebackRetry.next(attempts: attempts, retry: r.retry)
                try db.execute(
                    sql: "UPDATE writeback_outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?",
                    arguments: [giveUp ? "failed" : "pending", at.milliseconds + delay, r.error.map { String($0.unicodeScalars.prefix(1000)) }, r.seq]
                )
                if giveUp {
                    // Not sent: forget it was queued, so the next run queues the value again (once
                    // the field exists, the value is valid, …) instead of taking it as sent.
                    try db.execute(
                        sql: """
                            DELETE FROM writeback_state WHERE (connection, record_id, field) IN
                              (SELECT connection, record_id, field FROM writeback_outbox WHERE seq = ?)
                            """,
                        arguments: [r.seq]
                    )
                }
            }
        }
    }

    public func writebackLog(connection: String, limit: Int) async throws -> [WritebackLogEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, record_id, external_id, field, value, status, attempts, last_error, delivered_at FROM writeback_outbox
                    WHERE connection = ? ORDER BY seq DESC LIMIT ?
                    """,
                arguments: [connection, limit]
            ).map {
                WritebackLogEntry(
                    seq: $0[0],
                    connection: connection,
                    recordID: $0[1],
                    externalID: $0[2],
                    field: $0[3],
                    value: $0[4],
                    status: $0[5],
                    attempts: $0[6],
                    lastError: $0[7],
                    deliveredAt: ($0[8] as Int64?).map(Timestamp.init(milliseconds:))
                )
            }
        }
    }

    public func unlinkDeleted(connection: String, mapping: SyncMapping, object: SyncObject, externalIDs: [String], actor: Actor, at: Timestamp) async throws -> Int {
        try await pool.write { db in
            var apply = try SyncApply(db: db, store: self, connection: connection, mapping: mapping, actor: actor, at: at)
            for id in externalIDs { try apply.vendorDeleted(object, id) }
            return apply.counts.deleted
        }
    }

    public func applyConnectionsConfig(text: String, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion {
        try await pool.write { db in
            let version = (try Int.fetchOne(db, sql: "SELECT max(version) FROM connection_configs") ?? 0) + 1
            try db.execute(sql: "UPDATE connection_configs SET active = 0")
            try db.execute(
                sql: "INSERT INTO connection_configs(version, text, applied_at, author, comment, active) VALUES (?, ?, ?, ?, ?, 1)",
                arguments: [version, text, at.milliseconds, actor.userID, comment]
            )
            try Self.audit(db, actor, at, "apply", "connection_configs", String(version), JSONValue.object(["comment": .string(comment)]).compactText)
            return HandoverConfigVersion(version: version, appliedAt: at, author: actor.userID, comment: comment, active: true)
        }
    }

    public func activeConnectionsConfig() async throws -> (HandoverConfigVersion, String)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT version, applied_at, author, comment, text FROM connection_configs WHERE active = 1").map {
                (HandoverConfigVersion(version: $0[0], appliedAt: Timestamp(milliseconds: $0[1]), author: $0[2], comment: $0[3], active: true), $0[4])
            }
        }
    }

    public func connectionsConfigVersions() async throws -> [HandoverConfigVersion] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT version, applied_at, author, comment, active FROM connection_configs ORDER BY version DESC").map {
                HandoverConfigVersion(version: $0[0], appliedAt: Timestamp(milliseconds: $0[1]), author: $0[2], comment: $0[3], active: ($0[4] as Int) == 1)
            }
        }
    }

    public func recordInbound(connection: String, eventIDs: [String], at: Timestamp) async throws -> [String] {
        try await pool.write { db in
            var fresh: [String] = []
            for id in eventIDs {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO inbound_receipts(connection, event_id, received_at) VALUES (?, ?, ?)",
                    arguments: [connection, id, at.milliseconds]
                )
                if db.changesCount == 1 { fresh.append(id) }
            }
            // Receipts are kept for 7 days (vendors retry for about a day).
            try db.execute(sql: "DELETE FROM inbound_receipts WHERE received_at < ?", arguments: [at.milliseconds - 7 * 86_400_000])
            return fresh
        }
    }
}

/// A record a sync does not take, with why.
struct SyncSkipError: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The links of one connection, inside a transaction.
struct SyncLinks {
    let db: Database
    let connection: String

    /// The smarketing id a vendor record is linked to (following contact merges).
    func record(_ object: String, _ externalID: String) throws -> String? {
        try String.fetchOne(
            db.cachedStatement(sql: "SELECT record_id FROM sync_links WHERE connection = ? AND object = ? AND external_id = ?"),
            arguments: [connection, object, externalID]
        )
    }

    func link(_ object: String, _ externalID: String, _ resource: Resource, _ recordID: String, at: Timestamp) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO sync_links(connection, object, external_id, resource, record_id, synced_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(connection, object, external_id) DO UPDATE SET record_id = excluded.record_id, synced_at = excluded.synced_at
                """
        ).execute(arguments: [connection, object, externalID, resource.rawValue, recordID, at.milliseconds])
    }

    func unlink(_ object: String, _ externalID: String) throws -> Bool {
        try db.execute(
            sql: "DELETE FROM sync_links WHERE connection = ? AND object = ? AND external_id = ?",
            arguments: [connection, object, externalID]
        )
        return db.changesCount > 0
    }

    func firstLink(resource: String, recordID: String) throws -> (object: String, externalID: String)? {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT object, external_id FROM sync_links WHERE resource = ? AND record_id = ? AND connection = ?"),
            arguments: [resource, recordID, connection]
        ).map { ($0[0] as String, $0[1] as String) }.min { ($0.object, $0.externalID) < ($1.object, $1.externalID) }
    }
}

/// Applies one page's records inside its transaction: identity (link, then email or domain,
/// then create), which source wins each field, vendor merges, the audit trail.
struct SyncApply {
    let db: Database
    let store: SQLiteStore
    let connection: String
    let mapping: SyncMapping
    let actor: Actor
    let at: Timestamp
    let links: SyncLinks
    /// The other connections' names and vendors (for the precedence rules).
    let connected: Set<String>
    var counts = SyncCounts()
    var skips: [SyncSkip] = []

    init(db: Database, store: SQLiteStore, connection: String, mapping: SyncMapping, actor: Actor, at: Timestamp) throws {
        self.db = db
        self.store = store
        self.connection = connection
        self.mapping = mapping
        self.actor = actor
        self.at = at
        links = SyncLinks(db: db, connection: connection)
        var names: Set<String> = []
        for row in try Row.fetchAll(db, sql: "SELECT name, vendor FROM connections") {
            names.insert(row[0])
            names.insert(row[1])
        }
        connected = names
    }

    var via: String { "sync \(connection) (\(mapping.vendor.rawValue))" }

    mutating func skip(_ object: SyncObject, _ id: String, _ reason: String) {
        counts.skipped += 1
        skips.append(SyncSkip(object: object.rawValue, externalID: id, reason: String(reason.unicodeScalars.prefix(1000))))
    }

    mutating func apply(_ item: SyncItem, object: SyncObject) throws {
        switch item {
        case .owner(let o): try owner(o)
        case .company(let c): try company(c)
        case .person(let p): try person(p)
        case .deal(let d): try deal(d)
        case .campaign(let c): try campaign(c)
        case .membership(let m): try membership(m)
        case .activity(let a): try activity(a)
        case .personMerged(let object, let survivor, let merged): try personMerged(object, survivor, merged)
        case .unreadable(_, let reason): throw SyncSkipError(reason)
        }
    }

    /// The vendor merged two people: so do we (the earliest created is kept, docs/IDENTITY.md),
    /// and the merged vendor id keeps pointing at the person.
    mutating func personMerged(_ object: String, _ survivor: String, _ merged: String) throws {
        let a = try liveContact(try links.record(object, merged))
        var b: String?
        for o in try String.fetchAll(
            db,
            sql: "SELECT object FROM sync_links WHERE connection = ? AND resource = 'contacts' AND external_id = ?",
            arguments: [connection, survivor]
        ) {
            if let c = try liveContact(try links.record(o, survivor)) { b = c }
        }
        guard let a else { return }
        guard let b, a != b else {
            counts.unchanged += 1
            return
        }
        let kept = try mergeInto(b, a, why: "merged in \(mapping.vendor.displayName): \(object) \(merged) into \(survivor)")
        try links.link(object, merged, .contacts, kept, at: at)
    }

    /// The vendor deleted a record: its link goes, our record (and its history) stays.
    mutating func vendorDeleted(_ object: SyncObject, _ id: String) throws {
        let vendorObject = object == .people ? nil : object.rawValue
        var removed = false
        if let vendorObject {
            removed = try links.unlink(vendorObject, id)
        } else {
            for o in try String.fetchAll(
                db,
                sql: "SELECT object FROM sync_links WHERE connection = ? AND resource = 'contacts' AND external_id = ?",
                arguments: [connection, id]
            ) {
                removed = try links.unlink(o, id) || removed
            }
        }
        if removed {
            counts.deleted += 1
            try SQLiteStore.audit(db, actor, at, "unlink", object.resource.rawValue, id, "{\"reason\":\"deleted in \(mapping.vendor.rawValue)\"}")
        }
    }

    // MARK: Resolution helpers

    func user(_ ownerID: String?) throws -> String? {
        guard let ownerID, !ownerID.isEmpty else { return nil }
        if let mapped = mapping.owners[ownerID] { return try SQLiteStore.exists(db, .users, id: mapped) ? mapped : nil }
        return try links.record(SyncObject.owners.rawValue, ownerID)
    }

    func account(_ companyID: String?) throws -> String? {
        guard let companyID, !companyID.isEmpty else { return nil }
        return try links.record(SyncObject.companies.rawValue, companyID)
    }

    /// A contact id that still exists (a link to a contact merged away follows the merge).
    func liveContact(_ id: String?) throws -> String? {
        guard let id else { return nil }
        if try SQLiteStore.exists(db, .contacts, id: id) { return id }
        return try String.fetchOne(db, sql: "SELECT kept_id FROM contact_merges WHERE removed_id = ?", arguments: [id])
    }

    func contactForPerson(_ personID: String) throws -> String? {
        for object in try String.fetchAll(
            db,
            sql: "SELECT object FROM sync_links WHERE connection = ? AND resource = 'contacts' AND external_id = ? ORDER BY object",
            arguments: [connection, personID]
        ) {
            if let c = try liveContact(try links.record(object, personID)) { return c }
        }
        return nil
    }

    func emailMatch(_ key: String) throws -> String? {
        try String.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM contacts WHERE email_key = ? ORDER BY created_at, id LIMIT 1"),
            arguments: [key]
        )
    }

    func newID(_ resource: Resource, _ object: String, _ externalID: String) throws -> String {
        let id = SyncRecords.recordID(connection: connection, object: object, externalID: externalID)
        if try !SQLiteStore.exists(db, resource, id: id) { return id }
        return store.makeID(String(resource.rawValue.prefix(3)))
    }

    /// Creates or updates a record linked to a vendor id; returns its id.
    mutating func upsert(
        _ resource: Resource,
        object: String,
        externalID: String,
        existing: String?,
        fields: [String: FieldValue],
        alwaysWins: Bool = false
    ) throws -> String {
        if let id = existing, let record = try SQLiteStore.fetch(db, resource, id: id) {
            let changes: [String: FieldValue]
            if alwaysWins {
                changes = fields.filter { record[$0.key] != $0.value }
            } else {
                changes = mapping.apply(incoming: fields, existing: { record[$0] }, connection: connection, connected: connected)
            }
            if changes.isEmpty {
                counts.unchanged += 1
            } else {
                _ = try store.updateRecord(db, resource, id: id, fields: changes, actor: actor, at: at, detail: via)
                counts.updated += 1
            }
            try links.link(object, externalID, resource, id, at: at)
            return id
        }
        let id = try newID(resource, object, externalID)
        var record = Record(resource, values: Array(repeating: .null, count: resource.schema.fields.count))
        record["id"] = .text(id)
        for (k, v) in fields { record[k] = v }
        try store.insertRecord(db, record, actor: actor, at: at, detail: via + " " + object + " " + externalID)
        try links.link(object, externalID, resource, id, at: at)
        counts.created += 1
        return id
    }

    // MARK: Objects

    mutating func owner(_ o: SyncedOwner) throws {
        let object = SyncObject.owners.rawValue
        if let mapped = mapping.owners[o.externalID] {
            guard try SQLiteStore.exists(db, .users, id: mapped) else {
                throw SyncSkipError("owner \(o.externalID) is mapped to user \"\(mapped)\", which does not exist")
            }
            try links.link(object, o.externalID, .users, mapped, at: at)
            counts.unchanged += 1
            return
        }
        if let linked = try links.record(object, o.externalID), try SQLiteStore.exists(db, .users, id: linked) {
            counts.unchanged += 1
            return
        }
        guard let email = o.email, let key = EmailAddress.key(email) else {
            throw SyncSkipError("owner has no valid email; map it to a user under owners: in connections.yaml")
        }
        if let user = try String.fetchOne(db, sql: "SELECT id FROM users WHERE email_key = ?", arguments: [key]) {
            try links.link(object, o.externalID, .users, user, at: at)
            counts.linked += 1
            return
        }
        // A vendor owner we do not know becomes a sales user without sign-in (no password, no token).
        _ = try upsert(
            .users,
            object: object,
            externalID: o.externalID,
            existing: nil,
            fields: ["email": .text(EmailAddress.trim(email)), "name": o.name.map { .text($0) } ?? .null, "team": .text("sales")]
        )
    }

    mutating func company(_ c: SyncedCompany) throws {
        let object = SyncObject.companies.rawValue
        let owner = try user(c.ownerID)
        let fields: [String: FieldValue]
        switch SyncRecords.accountFields(c, ownerUserID: owner, now: at) {
        case .success(let f): fields = f
        case .failure(let p): throw SyncSkipError(p.message)
        }
        var existing = try links.record(object, c.externalID)
        if existing == nil, case .text(let domain)? = fields["domain"] {
            existing = try String.fetchOne(
                db,
                sql: "SELECT id FROM accounts WHERE domain = ? ORDER BY created_at, id LIMIT 1",
                arguments: [domain]
            )
            if existing != nil { counts.linked += 1 }
        }
        _ = try upsert(.accounts, object: object, externalID: c.externalID, existing: existing, fields: fields)
    }

    mutating func campaign(_ c: SyncedCampaign) throws {
        let object = SyncObject.campaigns.rawValue
        let fields: [String: FieldValue]
        switch SyncRecords.campaignFields(c, mapping: mapping) {
        case .success(let f): fields = f
        case .failure(let p): throw SyncSkipError(p.message)
        }
        _ = try upsert(.campaigns, object: object, externalID: c.externalID, existing: try links.record(object, c.externalID), fields: fields)
    }

    mutating func person(_ p: SyncedPerson) throws {
        let linked = try liveContact(try links.record(p.object, p.externalID))
        if p.deleted {
            try vendorDeleted(.people, p.externalID)
            return
        }
        // The email key decides who this is (docs/IDENTITY.md).
        var key: String?
        var email: String
        if let raw = p.email, !EmailAddress.trim(raw).isEmpty {
            guard let k = EmailAddress.key(raw) else { throw SyncSkipError("email \"\(raw)\" is not a valid address") }
            key = k
            email = EmailAddress.trim(raw)
        } else {
            email = SyncRecords.placeholderEmail(connection: connection, object: p.object, externalID: p.externalID)
        }
        var target = linked
        if let key, let match = try emailMatch(key) {
            if let current = target, current != match {
                // The vendor record now has the email of another contact: they are one person.
                target = try mergeInto(current, match, why: "\(mapping.vendor.displayName) \(p.object) \(p.externalID) has the email \(key)")
            } else if target == nil {
                target = match
                counts.linked += 1
            }
        }
        // Records the vendor merged into this one are one person here too.
        for m in p.mergedIDs where m != p.externalID {
            guard let other = try liveContact(try links.record(p.object, m)) else { continue }
            if let current = target, current != other {
                target = try mergeInto(current, other, why: "merged in \(mapping.vendor.displayName): \(p.object) \(m) into \(p.externalID)")
            } else if target == nil {
                target = other
            }
            try links.link(p.object, m, .contacts, target ?? other, at: at)
        }
        // A person keeps a stand-in address only until the vendor gives a real one.
        if let t = target, let c = try SQLiteStore.fetch(db, .contacts, id: t), key != nil, SyncRecords.isPlaceholder(c["email"].text) {
            _ = try store.updateRecord(db, .contacts, id: t, fields: ["email": .text(email)], actor: actor, at: at, detail: via)
        }
        let account = try account(p.companyID) ?? companyByName(p.companyName)
        let fields: [String: FieldValue]
        switch SyncRecords.contactFields(p, mapping: mapping, email: email, accountID: account, ownerUserID: try user(p.ownerID), now: at) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        let update = target == nil ? fields : fields.filter { !SyncRecords.newContactOnlyFields.contains($0.key) }
        _ = try upsert(.contacts, object: p.object, externalID: p.externalID, existing: target, fields: update)
    }

    /// A Salesforce lead names its company only by name: the account with that name, if one.
    func companyByName(_ name: String?) throws -> String? {
        guard let name = name?.trimmingCharacters(in: .whitespaces), !name.isEmpty else { return nil }
        return try String.fetchOne(db, sql: "SELECT id FROM accounts WHERE name = ? ORDER BY created_at, id LIMIT 1", arguments: [name])
    }

    /// Merges two contacts that are one person; the earliest created is kept. Returns its id.
    mutating func mergeInto(_ a: String, _ b: String, why: String) throws -> String {
        let order = try Row.fetchAll(
            db,
            sql: "SELECT id FROM contacts WHERE id IN (?, ?) ORDER BY created_at, id",
            arguments: [a, b]
        ).map { $0[0] as String }
        guard order.count == 2 else { return order.first ?? a }
        try store.mergeContacts(db, keep: order[0], duplicate: order[1], actor: actor, at: at, reason: why)
        counts.merged += 1
        return order[0]
    }

    mutating func deal(_ d: SyncedDeal) throws {
        let object = SyncObject.deals.rawValue
        let existing = try links.record(object, d.externalID)
        if d.deleted {
            try vendorDeleted(.deals, d.externalID)
            return
        }
        var contacts: [(String, String?)] = []
        for r in d.contacts {
            if let c = try contactForPerson(r.personID), !contacts.contains(where: { $0.0 == c }) { contacts.append((c, r.role)) }
        }
        var accountID = try account(d.companyID)
        if accountID == nil, let first = contacts.first {
            accountID = try String.fetchOne(db, sql: "SELECT account_id FROM contacts WHERE id = ?", arguments: [first.0])
        }
        if accountID == nil, let existing {
            accountID = try String.fetchOne(db, sql: "SELECT account_id FROM opportunities WHERE id = ?", arguments: [existing])
        }
        guard let accountID else { throw SyncSkipError("the deal names no synced company and no person with a company") }
        let fields: [String: FieldValue]
        switch SyncRecords.opportunityFields(
            d,
            mapping: mapping,
            accountID: accountID,
            ownerUserID: try user(d.ownerID),
            primaryContactID: contacts.first?.0,
            now: at
        ) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        // A deal lives in its CRM: the vendor's values win.
        let id = try upsert(.opportunities, object: object, externalID: d.externalID, existing: existing, fields: fields, alwaysWins: true)
        for (contact, role) in contacts {
            let rid = id + "|" + contact
            if try SQLiteStore.exists(db, .opportunityContacts, id: rid) { continue }
            var rec = Record(.opportunityContacts, values: Array(repeating: .null, count: Resource.opportunityContacts.schema.fields.count))
            rec["opportunity_id"] = .text(id)
            rec["contact_id"] = .text(contact)
            rec["role"] = role.map { .text($0) } ?? .null
            try store.insertRecord(db, rec, actor: actor, at: at, detail: via)
        }
    }

    mutating func membership(_ m: SyncedMembership) throws {
        guard let contact = try contactForPerson(m.personID) else { throw SyncSkipError("names person \(m.personID), which is not synced") }
        guard let campaign = try links.record(SyncObject.campaigns.rawValue, m.campaignID) else {
            throw SyncSkipError("names campaign \(m.campaignID), which is not synced")
        }
        let channel = try String.fetchOne(db, sql: "SELECT channel FROM campaigns WHERE id = ?", arguments: [campaign])
        let fields: [String: FieldValue]
        switch SyncRecords.membershipTouch(m, vendor: mapping.vendor, contactID: contact, campaignID: campaign, channel: channel) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        let object = SyncObject.memberships.rawValue
        _ = try upsert(.touchpoints, object: object, externalID: m.externalID, existing: try links.record(object, m.externalID), fields: fields, alwaysWins: true)
    }

    mutating func activity(_ a: SyncedActivity) throws {
        guard let contact = try contactForPerson(a.personID) else { throw SyncSkipError("names person \(a.personID), which is not synced") }
        let campaign = try a.campaignID.flatMap { try links.record(SyncObject.campaigns.rawValue, $0) }
        let fields: [String: FieldValue]
        switch SyncRecords.activityTouch(a, mapping: mapping, contactID: contact, campaignID: campaign, actorID: try user(a.ownerID)) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        let object = SyncObject.activities.rawValue
        let existing = try links.record(object, a.externalID)
        let id = try upsert(.touchpoints, object: object, externalID: a.externalID, existing: existing, fields: fields, alwaysWins: true)
        if existing == nil, let scorer = try store.activeScorer(db) {
            try SQLiteStore.rescoreContact(db, scorer, contact, at: at, event: "sync")
        }
        _ = id
    }
}
