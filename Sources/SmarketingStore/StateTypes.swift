import Foundation

/// One stored value of a workspace's state, as both backends hold it (the same columns and
/// representations: times as epoch milliseconds, flags as 0/1).
public enum StateValue: Sendable, Hashable {
    case null
    case int(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// The kind of a state column (how a backend reads it).
public enum StateColumnKind: Sendable {
    case int, real, text, blob
}

/// A table of the workspace's state beyond its records: configuration (models, handover and
/// connection configurations, settings, tokens, webhooks, vendor connections), history (stage
/// transitions, scores, handovers and their log, the audit log, sync runs) and queues (outbox,
/// webhook deliveries, write-backs). `smarketing db copy` carries these beside the bundle, so
/// a copy is the whole workspace, not only its records.
public struct StateTable: Sendable {
    public enum Mode: Sendable {
        /// Emptied and filled with the source's rows.
        case replace
        /// Rows matched by the first column (the records' id) get the other columns' values
        /// (the bundle carries the rest of the row).
        case update
    }

    public let name: String
    public let columns: [(name: String, kind: StateColumnKind)]
    /// The read order: unique (a key), so two databases with the same rows read them alike.
    public let order: [String]
    /// Whether `order`'s columns may hold NULL (a table without a key, ordered by every column).
    public let orderMayBeNull: Bool
    /// Rows of equal `order` keep the order they were written in (SQLite's rowid, PostgreSQL's
    /// identity column `seq`); the column is not copied, a copy writes the rows in that order.
    public let writeOrder: Bool
    /// A column PostgreSQL generates (an identity): after a copy its sequence continues after
    /// the copied values.
    public let identity: String?
    public let mode: Mode

    init(
        _ name: String,
        _ columns: [(String, StateColumnKind)],
        order: [String],
        orderMayBeNull: Bool = false,
        writeOrder: Bool = false,
        identity: String? = nil,
        mode: Mode = .replace
    ) {
        self.name = name
        self.columns = columns.map { (name: $0.0, kind: $0.1) }
        self.order = order
        self.orderMayBeNull = orderMayBeNull
        self.writeOrder = writeOrder
        self.identity = identity
        self.mode = mode
    }

    public var columnNames: [String] { columns.map(\.name) }

    /// The column list for SQL, each name quoted (`full` is a keyword of PostgreSQL).
    var columnList: String { columns.map { "\"\($0.name)\"" }.joined(separator: ", ") }

    /// `ORDER BY` terms that order alike on both backends: text compares bytewise on both, and
    /// a column that may be null sorts its NULLs last (SQLite and PostgreSQL differ there).
    func orderSQL(writeOrderColumn: String) -> String {
        var terms = order.map { c in orderMayBeNull ? "(\(c) IS NULL), \(c)" : c }
        if writeOrder { terms.append(writeOrderColumn) }
        return terms.joined(separator: ", ")
    }

    /// The workspace's tables that are neither records nor in `all`: web sessions and failed
    /// sign-ins (everyone signs in again on the copy), pending work queues of one process
    /// (scoring staging) and the contact merges (`IdentityStore.mergeHistory` carries them).
    /// The KPI aggregates (`kpi_*`) and the search indexes are rebuilt from the copy. A test
    /// holds every table of the schema to one of these, so a new table is not silently left out.
    public static let notCarried: Set<String> = [
        "web_sessions", "login_failures", "score_staging", "scoring_dirty", "contact_merges",
    ]

    /// The state tables in the order they are written (a table before those naming it).
    public static let all: [StateTable] = [
        StateTable("users", [("id", .text), ("password_hash", .text)], order: ["id"], mode: .update),
        StateTable("settings", [("key", .text), ("value", .text)], order: ["key"]),
        StateTable(
            "api_tokens",
            [("id", .text), ("user_id", .text), ("role", .text), ("name", .text), ("token_hash", .text), ("created_at", .int), ("revoked_at", .int)],
            order: ["id"]
        ),
        StateTable(
            "scoring_models",
            [
                ("version", .int), ("status", .text), ("author", .text), ("created_at", .int), ("applied_at", .int), ("comment", .text), ("diff", .text),
                ("text", .text),
            ],
            order: ["version"]
        ),
        StateTable(
            "contact_scores",
            [
                ("contact_id", .text), ("version", .int), ("fit", .real), ("grade", .text), ("engagement", .real), ("latest", .int), ("persona_id", .text),
                ("state", .blob),
            ],
            order: ["contact_id"]
        ),
        StateTable(
            "score_history",
            [("contact_id", .text), ("at", .int), ("version", .int), ("fit", .real), ("grade", .text), ("engagement", .real), ("event", .text)],
            order: ["contact_id", "at"],
            writeOrder: true,
            identity: "seq"
        ),
        StateTable(
            "lifecycle_transitions",
            [
                ("seq", .int), ("contact_id", .text), ("from_stage", .text), ("to_stage", .text), ("at", .int), ("actor", .text), ("reason", .text),
                ("model_version", .int),
            ],
            order: ["seq"],
            identity: "seq"
        ),
        StateTable("transition_cursor", [("id", .int), ("seq", .int)], order: ["id"]),
        StateTable(
            "handover_configs",
            [("version", .int), ("text", .text), ("applied_at", .int), ("author", .text), ("comment", .text), ("active", .int)],
            order: ["version"]
        ),
        StateTable(
            "handovers",
            [
                ("id", .int), ("contact_id", .text), ("status", .text), ("owner_id", .text), ("queue", .text), ("team", .text), ("segment", .text),
                ("policy", .text), ("grade", .text), ("channel", .text), ("campaign_id", .text), ("rule", .text), ("routing", .text),
                ("config_version", .int), ("created_at", .int), ("assigned_at", .int), ("answered_at", .int), ("first_touch_at", .int),
                ("closed_at", .int), ("reason", .text), ("note", .text),
            ],
            order: ["id"],
            identity: "id"
        ),
        StateTable(
            "handover_log",
            [("seq", .int), ("handover_id", .int), ("at", .int), ("actor", .text), ("action", .text), ("detail", .text)],
            order: ["seq"],
            identity: "seq"
        ),
        StateTable(
            "sla_clocks",
            [
                ("id", .int), ("handover_id", .int), ("kind", .text), ("owner_id", .text), ("status", .text), ("due_at", .int), ("next_at", .int),
                ("state", .text),
            ],
            order: ["id"],
            identity: "id"
        ),
        StateTable("routing_counters", [("pool", .text), ("user_id", .text), ("assigned", .int)], order: ["pool", "user_id"]),
        StateTable("outbox", [("seq", .int), ("type", .text), ("at", .int), ("subject", .text), ("payload", .text)], order: ["seq"], identity: "seq"),
        StateTable(
            "webhook_subscriptions",
            [("id", .text), ("url", .text), ("events", .text), ("secret", .text), ("format", .text), ("active", .int), ("created_at", .int)],
            order: ["id"]
        ),
        StateTable(
            "webhook_deliveries",
            [
                ("id", .int), ("subscription_id", .text), ("outbox_seq", .int), ("status", .text), ("attempts", .int), ("next_attempt_at", .int),
                ("last_status", .int), ("last_error", .text), ("delivered_at", .int),
            ],
            order: ["id"],
            identity: "id"
        ),
        StateTable(
            "connections",
            [
                ("name", .text), ("vendor", .text), ("base_url", .text), ("sealed_secrets", .blob), ("settings", .text), ("created_at", .int),
                ("status", .text), ("last_sync_at", .int), ("last_error", .text), ("counts", .text),
            ],
            order: ["name"]
        ),
        StateTable(
            "connection_configs",
            [("version", .int), ("text", .text), ("applied_at", .int), ("author", .text), ("comment", .text), ("active", .int)],
            order: ["version"]
        ),
        StateTable(
            "sync_cursors",
            [("connection", .text), ("object", .text), ("cursor", .text), ("watermark", .text), ("complete", .int), ("updated_at", .int)],
            order: ["connection", "object"]
        ),
        StateTable(
            "sync_links",
            [("connection", .text), ("object", .text), ("external_id", .text), ("resource", .text), ("record_id", .text), ("synced_at", .int)],
            order: ["connection", "object", "external_id"]
        ),
        StateTable(
            "sync_runs",
            [
                ("id", .int), ("connection", .text), ("started_at", .int), ("finished_at", .int), ("status", .text), ("full", .int), ("counts", .text),
                ("error", .text),
            ],
            order: ["id"],
            identity: "id"
        ),
        StateTable(
            "sync_skips",
            [("run_id", .int), ("connection", .text), ("object", .text), ("external_id", .text), ("reason", .text), ("at", .int)],
            order: ["run_id", "connection", "object", "external_id", "at", "reason"],
            orderMayBeNull: true
        ),
        StateTable(
            "writeback_outbox",
            [
                ("seq", .int), ("connection", .text), ("record_id", .text), ("object", .text), ("external_id", .text), ("field", .text), ("value", .text),
                ("status", .text), ("attempts", .int), ("next_attempt_at", .int), ("last_error", .text), ("created_at", .int), ("delivered_at", .int),
            ],
            order: ["seq"],
            identity: "seq"
        ),
        StateTable("writeback_state", [("connection", .text), ("record_id", .text), ("field", .text), ("value", .text)], order: ["connection", "record_id", "field"]),
        StateTable("inbound_receipts", [("connection", .text), ("event_id", .text), ("received_at", .int)], order: ["connection", "event_id"]),
        StateTable("erasures", [("contact_id", .text), ("email_hash", .text), ("erased_at", .int), ("actor", .text), ("reason", .text)], order: ["contact_id"]),
        StateTable("contact_consent", [("contact_id", .text), ("status", .text), ("source", .text), ("at", .int)], order: ["contact_id"]),
        StateTable("erasure_matches", [("contact_id", .text), ("erased_contact_id", .text), ("erased_at", .int)], order: ["contact_id"]),
        // The rituals: meetings before their action items, ratings after the handovers they rate.
        StateTable(
            "meetings",
            [("id", .int), ("week", .text), ("title", .text), ("status", .text), ("attendees", .text), ("decisions", .text), ("notes", .text),
             ("created_at", .int), ("created_by", .text), ("finished_at", .int), ("agenda", .text)],
            order: ["id"],
            identity: "id"
        ),
        StateTable(
            "action_items",
            [("id", .int), ("title", .text), ("owner_id", .text), ("due", .text), ("status", .text), ("meeting_id", .int), ("created_at", .int),
             ("created_by", .text), ("done_at", .int), ("done_by", .text)],
            order: ["id"],
            identity: "id"
        ),
        StateTable(
            "lead_ratings",
            [("handover_id", .int), ("contact_id", .text), ("rating", .text), ("reason", .text), ("rated_by", .text), ("rated_at", .int)],
            order: ["handover_id"]
        ),
        StateTable(
            "campaign_notes",
            [("id", .int), ("campaign_id", .text), ("author", .text), ("text", .text), ("decision", .text), ("created_at", .int)],
            order: ["id"],
            identity: "id"
        ),
        StateTable(
            "owners",
            [("subject", .text), ("team", .text), ("responsible", .text), ("accountable", .text), ("consulted", .text), ("informed", .text),
             ("updated_at", .int), ("updated_by", .text)],
            order: ["subject"]
        ),
        StateTable(
            "kpi_configs",
            [("version", .int), ("text", .text), ("applied_at", .int), ("author", .text), ("comment", .text), ("active", .int)],
            order: ["version"]
        ),
        StateTable("audit_log", [("seq", .int), ("at", .int), ("actor", .text), ("action", .text), ("resource", .text), ("record_id", .text), ("detail", .text)], order: ["seq"], identity: "seq"),
    ]

    public static func named(_ name: String) -> StateTable? { all.first { $0.name == name } }
}

/// The rows a state copy writes, table by table in chunks (an empty chunk ends a table).
public protocol StateRowSource: Sendable {
    func nextChunk(of table: StateTable) throws -> [[StateValue]]
    /// Starts every table again from its first row (a retried transaction).
    func rewind() throws
}

/// The workspace's state beyond its records (see `StateTable`).
public protocol StateStore: Sendable {
    /// Calls `body` with the rows of a state table in its read order, in chunks.
    func readState(_ table: StateTable, chunkSize: Int, _ body: @escaping @Sendable ([[StateValue]]) throws -> Void) async throws
    /// In one transaction: every table of `tables` replaced (or updated) with the rows `source`
    /// gives, then the KPI aggregates rebuilt from the result.
    func replaceState(_ tables: [StateTable], from source: any StateRowSource) async throws
}
