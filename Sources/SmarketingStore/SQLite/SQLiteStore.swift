import CSQLiteTuning
import GRDBSQLite
import Foundation
import GRDB
import SmarketingCore
import Synchronization

/// The embedded store: one SQLite file in WAL mode through GRDB.
///
/// Commits are durable (`synchronous=FULL`): a reply that follows a commit survives a crash of
/// the process and of the machine. Group commit in the server keeps that from costing one fsync
/// per event.
public final class SQLiteStore: FunnelStore {
    let pool: MeteredPool
    /// Connections in use and the aggregates' refresh times, for `/metrics`.
    public var telemetry: StoreTelemetry { pool.telemetry }
    /// Reads stored scoring models; nil turns scoring off (the store then keeps no scores).
    let modelParser: ScoringModelParser?
    let scorerCache = Mutex<CachedScorer?>(nil)
    /// Scores of recently ingested contacts (see `ScoreCache`).
    let scoreCache = Mutex(ScoreCache())
    /// One model apply at a time in this process.
    let applying = Mutex(false)
    /// Reads stored handover configurations; nil turns routing and SLA clocks off.
    let handoverParser: HandoverConfigParser?
    let handoverCache = Mutex<(version: Int, config: HandoverConfig)?>(nil)
    /// Who hears a rebuild's progress (a settings change run with `progress:`); nil: nobody.
    let rebuildProgress = Mutex<Listener<RebuildProgress>?>(nil)
    /// Makes ids for records the ingest creates.
    let makeID: @Sendable (String) -> String

    private let checkpointer: WALCheckpointer?

    /// Opens (creating and migrating when needed) the database at `path`. `scoringModels` reads
    /// stored model files; with it, scores and MQL moves follow every change. With
    /// `backgroundCheckpoints` (the server), the WAL is copied into the main file by a background
    /// thread instead of inside commits, which keeps commit latency flat under load; the log
    /// starts over once it holds more than `walResetFrames` frames (see `WALCheckpointer`).
    public init(
        path: String,
        backgroundCheckpoints: Bool = false,
        scoringModels: ScoringModelParser? = nil,
        handoverConfigs: HandoverConfigParser? = nil,
        pageCacheMiB: Int = SQLiteStore.defaultPageCacheMiB,
        walResetFrames: Int32 = 16_384,
        makeID: @escaping @Sendable (String) -> String = { prefix in prefix + "-" + UUID().uuidString.lowercased() }
    ) throws {
        _ = SQLiteStore.processSetup
        let cacheKiB = SQLiteStore.pageCacheRange.contains(pageCacheMiB) ? pageCacheMiB * 1024 : SQLiteStore.defaultPageCacheMiB * 1024
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // Deleted content is zeroed inside the pages it leaves (no extra I/O), so an erased
            // person's old values do not linger in a page's free space (docs/OPERATIONS.md).
            try db.execute(sql: "PRAGMA secure_delete = FAST")
            db.add(function: SQLiteStore.sha256Function)
            if backgroundCheckpoints { try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        }
        pool = MeteredPool(try DatabasePool(path: path, configuration: config), readers: config.maximumReaderCount)
        self.modelParser = scoringModels
        self.handoverParser = handoverConfigs
        self.makeID = makeID
        try SQLiteSchema.migrator.migrate(pool.raw)
        let writer = pool.raw
        checkpointer =
            backgroundCheckpoints
            ? try WALCheckpointer(path: path, resetFrames: max(64, walResetFrames)) { SQLiteStore.restartLog(writer) }
            : nil
    }

    deinit { checkpointer?.stop() }

    /// Makes the write-ahead log start over, from the writer's own connection: writers queue
    /// behind it, readers of older snapshots get up to 10 ms to finish (then it gives up until
    /// the checkpointer's next try, 0.2 s later: a long report holds the log that long, and
    /// writers never wait more than 10 ms for a try). Sets the busy timeout back to the store's
    /// 10 s after.
    static func restartLog(_ writer: DatabasePool) {
        try? writer.writeWithoutTransaction { db in
            sqlite3_busy_timeout(db.sqliteConnection, 10)
            defer { sqlite3_busy_timeout(db.sqliteConnection, 10_000) }
            _ = try? db.checkpoint(.truncate)
        }
    }

    /// Stops the background checkpoints (waiting for the last one), copies the log into the
    /// database file and closes every connection. The store is unusable afterwards; a server
    /// calls this last, so that nothing of SQLite still runs while the process exits.
    public func close() async throws {
        checkpointer?.stop()
        try await checkpoint()
        try pool.raw.close()
    }

    /// Each connection's page cache in MiB, by default and allowed: the store holds up to six
    /// connections (five readers and the writer), so the caches take up to six times this.
    public static let defaultPageCacheMiB = 64
    public static let pageCacheRange = 1...4_096

    /// Process-wide SQLite settings, applied once before the first connection opens.
    static let processSetup: Int32 = smk_sqlite_disable_memstatus()

    /// Flushes the WAL into the main file (after a bulk import).
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    public func afterBulkLoad() async throws { try await checkpoint() }

    /// A write transaction that brings the KPI aggregates up to date with its changes before it
    /// commits (see `refreshKPIs`). Every write of the store goes through here.
    func writeRefreshingKPIs<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.write { db in
            let result = try updates(db)
            try self.refreshKPIs(db)
            return result
        }
    }

    // MARK: Settings and audit

    public func setting(_ key: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]) }
    }

    /// Nothing to keep up: one file, no partitions (WAL checkpoints run on their own).
    public func housekeeping(at: Timestamp) async throws -> Int { 0 }

    /// SQLite keeps the touchpoints in one table.
    public func touchpointPartitions() async throws -> [TouchpointPartition] { [] }

    public func setSetting(_ key: String, _ value: String) async throws {
        try await writeRefreshingKPIs { db in
            try db.execute(
                sql: "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [key, value]
            )
        }
    }

    public func audit(limit: Int, before: Int64?) async throws -> [AuditEntry] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT seq, at, actor, action, resource, record_id, detail FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                arguments: [before ?? Int64.max, limit]
            )
            return rows.map {
                AuditEntry(
                    seq: $0[0],
                    at: Timestamp(milliseconds: $0[1]),
                    actor: $0[2],
                    action: $0[3],
                    resource: $0[4],
                    recordID: $0[5],
                    detail: $0[6]
                )
            }
        }
    }

    static func audit(_ db: Database, _ actor: Actor, _ at: Timestamp, _ action: String, _ resource: String, _ id: String, _ detail: String) throws {
        try db.cachedStatement(
            sql: "INSERT INTO audit_log(at, actor, action, resource, record_id, detail) VALUES (?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [at.milliseconds, actor.userID + " (" + actor.via + ")", action, resource, id, detail])
    }
}

/// The SQLite schema, derived from the resource schemas, and its migrations.
enum SQLiteSchema {
    static func columnType(_ t: FieldType) -> String {
        switch t {
        case .integer, .bool, .timestamp: return "INTEGER"
        case .number: return "REAL"
        default: return "TEXT"
        }
    }

    /// Store-only columns beyond the schema fields.
    static func extraColumns(_ r: Resource) -> [String] {
        switch r {
        case .contacts: return ["email_key TEXT NOT NULL"]
        case .users: return ["email_key TEXT NOT NULL", "password_hash TEXT"]
        default: return []
        }
    }

    static func createTable(_ r: Resource) -> String {
        let s = r.schema
        var cols: [String] = []
        if !s.hasOwnID { cols.append("id TEXT PRIMARY KEY NOT NULL") }
        for f in s.fields {
            var c = "\(f.name) \(columnType(f.type))"
            if f.name == "id" { c += " PRIMARY KEY NOT NULL" } else if f.required { c += " NOT NULL" }
            if let ref = f.references { c += " REFERENCES \(ref.rawValue)(id) DEFERRABLE INITIALLY DEFERRED" }
            cols.append(c)
        }
        cols += extraColumns(r)
        return "CREATE TABLE \(r.rawValue) (\(cols.joined(separator: ", ")))"
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1 workspace") { db in
            for r in Resource.importOrder { try db.execute(sql: createTable(r)) }
            try db.execute(
                sql: """
                    CREATE UNIQUE INDEX users_email ON users(email_key);
                    CREATE INDEX contacts_email ON contacts(email_key, created_at);
                    CREATE INDEX contacts_account ON contacts(account_id);
                    CREATE INDEX contacts_created ON contacts(created_at);
                    CREATE UNIQUE INDEX contacts_external ON contacts(source, external_id) WHERE external_id IS NOT NULL;
                    CREATE INDEX accounts_domain ON accounts(domain, created_at);
                    CREATE UNIQUE INDEX accounts_external ON accounts(source, external_id) WHERE external_id IS NOT NULL;
                    CREATE UNIQUE INDEX opportunities_external ON opportunities(source, external_id) WHERE external_id IS NOT NULL;
                    CREATE INDEX opportunities_account ON opportunities(account_id);
                    CREATE INDEX opportunity_contacts_contact ON opportunity_contacts(contact_id);
                    CREATE INDEX touchpoints_contact_time ON touchpoints(contact_id, occurred_at);
                    CREATE TABLE contact_merges (
                        removed_id TEXT PRIMARY KEY NOT NULL, kept_id TEXT NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL);
                    CREATE TABLE api_tokens (
                        id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL REFERENCES users(id),
                        role TEXT NOT NULL, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL, revoked_at INTEGER);
                    CREATE TABLE audit_log (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
                        action TEXT NOT NULL, resource TEXT NOT NULL, record_id TEXT NOT NULL, detail TEXT NOT NULL);
                    CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    """
            )
        }
        m.registerMigration("v2 list indexes") { db in
            // The API's most common list filters, with the id order of cursor paging.
            try db.execute(
                sql: """
                    CREATE INDEX contacts_stage ON contacts(lifecycle_stage, id);
                    CREATE INDEX contacts_owner ON contacts(owner_id, id);
                    """
            )
        }
        m.registerMigration("v3 scoring and lifecycle") { db in
            try db.execute(
                sql: """
                    CREATE TABLE scoring_models (
                        version INTEGER PRIMARY KEY, status TEXT NOT NULL, author TEXT NOT NULL, created_at INTEGER NOT NULL,
                        applied_at INTEGER, comment TEXT NOT NULL, diff TEXT NOT NULL, text TEXT NOT NULL);
                    CREATE TABLE contact_scores (
                        contact_id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, fit REAL NOT NULL, grade TEXT NOT NULL,
                        engagement REAL NOT NULL, latest INTEGER, persona_id TEXT, state BLOB NOT NULL) WITHOUT ROWID;
                    CREATE INDEX contact_scores_grade ON contact_scores(grade, contact_id);
                    CREATE TABLE score_staging (
                        contact_id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, fit REAL NOT NULL, grade TEXT NOT NULL,
                        engagement REAL NOT NULL, latest INTEGER, persona_id TEXT, state BLOB NOT NULL,
                        qualifies INTEGER NOT NULL, persona_automatic INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE scoring_dirty (contact_id TEXT PRIMARY KEY NOT NULL);
                    CREATE TABLE score_history (
                        contact_id TEXT NOT NULL, at INTEGER NOT NULL, version INTEGER NOT NULL, fit REAL NOT NULL,
                        grade TEXT NOT NULL, engagement REAL NOT NULL, event TEXT NOT NULL);
                    CREATE INDEX score_history_contact ON score_history(contact_id, at);
                    CREATE TABLE lifecycle_transitions (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, contact_id TEXT NOT NULL, from_stage TEXT, to_stage TEXT NOT NULL,
                        at INTEGER NOT NULL, actor TEXT NOT NULL, reason TEXT, model_version INTEGER);
                    CREATE INDEX lifecycle_transitions_contact ON lifecycle_transitions(contact_id, at);
                    """
            )
        }
        m.registerMigration("v4 handover, SLA clocks, outbox") { db in
            try db.execute(
                sql: """
                    CREATE TABLE handover_configs (
                        version INTEGER PRIMARY KEY, text TEXT NOT NULL, applied_at INTEGER NOT NULL, author TEXT NOT NULL,
                        comment TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0);
                    CREATE TABLE handovers (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, contact_id TEXT NOT NULL, status TEXT NOT NULL, owner_id TEXT NOT NULL,
                        queue TEXT, team TEXT, segment TEXT, policy TEXT, grade TEXT, channel TEXT, campaign_id TEXT,
                        rule TEXT NOT NULL, routing TEXT NOT NULL, config_version INTEGER NOT NULL, created_at INTEGER NOT NULL,
                        assigned_at INTEGER, answered_at INTEGER, first_touch_at INTEGER, closed_at INTEGER, reason TEXT, note TEXT);
                    CREATE INDEX handovers_open_contact ON handovers(contact_id) WHERE status IN ('queued', 'assigned', 'accepted');
                    CREATE INDEX handovers_owner ON handovers(owner_id, status);
                    CREATE INDEX handovers_created ON handovers(created_at);
                    CREATE TABLE sla_clocks (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, handover_id INTEGER NOT NULL REFERENCES handovers(id),
                        kind TEXT NOT NULL, owner_id TEXT, status TEXT NOT NULL, due_at INTEGER NOT NULL, next_at INTEGER,
                        state TEXT NOT NULL);
                    CREATE INDEX sla_clocks_next ON sla_clocks(next_at) WHERE next_at IS NOT NULL;
                    CREATE INDEX sla_clocks_handover ON sla_clocks(handover_id);
                    CREATE TABLE handover_log (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, handover_id INTEGER NOT NULL, at INTEGER NOT NULL,
                        actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
                    CREATE INDEX handover_log_handover ON handover_log(handover_id, seq);
                    CREATE TABLE routing_counters (
                        pool TEXT NOT NULL, user_id TEXT NOT NULL, assigned INTEGER NOT NULL, PRIMARY KEY (pool, user_id)) WITHOUT ROWID;
                    CREATE TABLE transition_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
                    INSERT INTO transition_cursor(id, seq) VALUES (1, coalesce((SELECT max(seq) FROM lifecycle_transitions), 0));
                    CREATE TABLE outbox (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, at INTEGER NOT NULL, subject TEXT NOT NULL,
                        payload TEXT NOT NULL);
                    CREATE TABLE webhook_subscriptions (
                        id TEXT PRIMARY KEY NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL, secret TEXT NOT NULL,
                        format TEXT NOT NULL, active INTEGER NOT NULL, created_at INTEGER NOT NULL);
                    CREATE TABLE webhook_deliveries (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id),
                        outbox_seq INTEGER NOT NULL REFERENCES outbox(seq), status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER, last_status INTEGER, last_error TEXT, delivered_at INTEGER);
                    CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(subscription_id, id) WHERE status = 'pending';
                    CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, id);
                    """
            )
        }
        m.registerMigration("v5 KPI aggregates") { db in
            try db.execute(sql: SQLiteStore.kpiSchema)
        }
        m.registerMigration("v6 reporting views") { db in
            // A stable, documented view for BI tools (docs/KPIS.md, "Reporting view"): the
            // aggregate cells with the local day as a date.
            try db.execute(
                sql: """
                    CREATE VIEW reporting_kpi_cells AS
                    SELECT metric, dim AS cut, key AS cut_value, date(day * 86400, 'unixepoch') AS day, label,
                           value AS sample_value, n AS count, total
                    FROM kpi_cells WHERE metric <> 'open_opportunities';
                    CREATE VIEW reporting_open_pipeline AS
                    SELECT dim AS cut, key AS cut_value, n AS open_opportunities, total AS amount_cents
                    FROM kpi_cells WHERE metric = 'open_opportunities';
                    """
            )
        }
        m.registerMigration("v7 funnel aggregates") { db in
            // The funnel's facts: later stages and the stale-lead skip column; the next write
            // rebuilds the aggregates (the facts version is part of their build key).
            try db.execute(
                sql: """
                    ALTER TABLE kpi_facts ADD COLUMN idle_until INTEGER;
                    DROP TRIGGER IF EXISTS kpi_contacts_update;
                    """
            )
            try db.execute(sql: SQLiteStore.kpiContactsUpdateTrigger)
        }
        m.registerMigration("v8 KPI month roll-ups") { db in
            // Filled by the next write's rebuild (the facts version is part of the build key).
            try db.execute(sql: SQLiteStore.kpiMonthSchema)
        }
        m.registerMigration("v9 web sessions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE web_sessions (
                        id_hash TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        role TEXT NOT NULL, csrf TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
                    CREATE INDEX kpi_facts_idle ON kpi_facts(idle_until) WHERE idle_until IS NOT NULL;
                    """
            )
        }
        m.registerMigration("v10 sign-in failures") { db in
            try db.execute(
                sql: "CREATE TABLE login_failures (key TEXT NOT NULL, at INTEGER NOT NULL); CREATE INDEX login_failures_key ON login_failures(key, at);"
            )
        }
        m.registerMigration("v11 connections and sync") { db in
            // Vendor connections (secrets sealed by the caller, never stored in clear), the link
            // of every vendor record to exactly one smarketing record, resumable cursors, sync
            // runs with their skipped records, the write-back outbox and its last-sent values,
            // and the inbound webhook receipts that make deliveries idempotent.
            try db.execute(
                sql: """
                    CREATE TABLE connections (
                        name TEXT PRIMARY KEY NOT NULL, vendor TEXT NOT NULL, base_url TEXT, sealed_secrets BLOB NOT NULL,
                        settings TEXT NOT NULL, created_at INTEGER NOT NULL, status TEXT NOT NULL,
                        last_sync_at INTEGER, last_error TEXT, counts TEXT NOT NULL DEFAULT '{}');
                    CREATE TABLE sync_links (
                        connection TEXT NOT NULL, object TEXT NOT NULL, external_id TEXT NOT NULL, resource TEXT NOT NULL,
                        record_id TEXT NOT NULL, synced_at INTEGER NOT NULL, PRIMARY KEY (connection, object, external_id)) WITHOUT ROWID;
                    CREATE INDEX sync_links_record ON sync_links(resource, record_id);
                    CREATE INDEX contact_merges_kept ON contact_merges(kept_id);
                    CREATE TABLE sync_cursors (
                        connection TEXT NOT NULL, object TEXT NOT NULL, cursor TEXT, watermark TEXT, complete INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL, PRIMARY KEY (connection, object)) WITHOUT ROWID;
                    CREATE TABLE sync_runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL, started_at INTEGER NOT NULL,
                        finished_at INTEGER, status TEXT NOT NULL, full INTEGER NOT NULL, counts TEXT NOT NULL DEFAULT '{}', error TEXT);
                    CREATE INDEX sync_runs_connection ON sync_runs(connection, id);
                    CREATE TABLE sync_skips (
                        run_id INTEGER NOT NULL, connection TEXT NOT NULL, object TEXT NOT NULL, external_id TEXT NOT NULL,
                        reason TEXT NOT NULL, at INTEGER NOT NULL);
                    CREATE INDEX sync_skips_run ON sync_skips(run_id);
                    CREATE TABLE writeback_state (
                        connection TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT,
                        PRIMARY KEY (connection, record_id, field)) WITHOUT ROWID;
                    CREATE TABLE writeback_outbox (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL, record_id TEXT NOT NULL,
                        object TEXT NOT NULL, external_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT,
                        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER,
                        last_error TEXT, created_at INTEGER NOT NULL, delivered_at INTEGER);
                    CREATE INDEX writeback_outbox_pending ON writeback_outbox(connection, seq) WHERE status = 'pending';
                    CREATE TABLE inbound_receipts (
                        connection TEXT NOT NULL, event_id TEXT NOT NULL, received_at INTEGER NOT NULL,
                        PRIMARY KEY (connection, event_id)) WITHOUT ROWID;
                    """
            )
        }
        m.registerMigration("v12 connection mappings") { db in
            try db.execute(
                sql: """
                    CREATE TABLE connection_configs (
                        version INTEGER PRIMARY KEY, text TEXT NOT NULL, applied_at INTEGER NOT NULL, author TEXT NOT NULL,
                        comment TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0);
                    """
            )
        }
        m.registerMigration("v13 sync link lookups") { db in
            // A person is looked up by (connection, vendor id) across the vendor's objects (a
            // Salesforce id may be a Lead's or a Contact's): without this, each lookup scanned
            // every link of the connection.
            try db.execute(sql: "CREATE INDEX sync_links_external ON sync_links(connection, external_id, resource)")
            // A newer value replaces the one still waiting for the same record and field.
            try db.execute(
                sql: "CREATE INDEX writeback_outbox_field ON writeback_outbox(connection, record_id, field) WHERE status = 'pending'"
            )
        }
        m.registerMigration("v14 text search") { db in try db.execute(sql: SQLiteSearch.schema) }
        m.registerMigration("v15 meetings and action items") { db in try db.execute(sql: SQLiteStore.ritualSchema) }
        m.registerMigration("v16 lead ratings, campaign reviews, owners, KPI files") { db in try db.execute(sql: SQLiteStore.ritualSchema2) }
        m.registerMigration("v17 erasures") { db in try db.execute(sql: SQLiteStore.privacySchema) }
        m.registerMigration("v18 consent") { db in try db.execute(sql: SQLiteStore.consentSchema) }
        return m
    }
}

/// Conversions between field values and SQLite values.
enum SQLiteValue {
    static func database(_ v: FieldValue) -> DatabaseValue {
        switch v {
        case .null: return .null
        case .text(let s), .json(let s): return s.databaseValue
        case .integer(let i): return i.databaseValue
        case .number(let d): return d.databaseValue
        case .bool(let b): return (b ? 1 : 0).databaseValue
        case .timestamp(let t): return t.milliseconds.databaseValue
        case .date(let d): return d.text.databaseValue
        }
    }

    static func field(_ v: DatabaseValue, _ type: FieldType) -> FieldValue {
        switch v.storage {
        case .null: return .null
        case .int64(let i): return StoredValue.field(int: i, type)
        case .double(let d): return .number(d)
        case .string(let s): return StoredValue.field(text: s, type)
        case .blob: return .null
        }
    }

    /// Reads a record from a row whose columns are the schema fields in order.
    static func record(_ r: Resource, _ row: Row) -> Record {
        let fields = r.schema.fields
        var values = [FieldValue]()
        values.reserveCapacity(fields.count)
        for (i, f) in fields.enumerated() { values.append(field(row[i], f.type)) }
        return Record(r, values: values)
    }

    static func columns(_ r: Resource) -> String { r.schema.fields.map(\.name).joined(separator: ", ") }
}

extension SQLiteStore {
    /// The applied migrations, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try SQLiteSchema.migrator.appliedIdentifiers(db).sorted { Self.migrationNumber($0) < Self.migrationNumber($1) } }
    }

    static func migrationNumber(_ id: String) -> Int { Int(id.dropFirst().prefix { $0.isNumber }) ?? 0 }
}
