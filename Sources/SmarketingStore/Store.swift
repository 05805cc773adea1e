import SmarketingCore

/// A record of any resource: its values in schema field order.
public struct Record: Sendable, Hashable {
    public var resource: Resource
    public var values: [FieldValue]

    /// Creates a record.
    public init(_ resource: Resource, values: [FieldValue]) {
        self.resource = resource
        self.values = values
    }

    /// The record id (own `id` or the derived key).
    public var id: String { resource.schema.recordID(values) }

    /// The value of a field by name.
    public subscript(field: String) -> FieldValue {
        get { resource.schema.index[field].map { values[$0] } ?? .null }
        set { if let i = resource.schema.index[field] { values[i] = newValue } }
    }
}

/// Who is acting, for authorisation and the audit log.
public struct Actor: Sendable, Hashable {
    /// The user id (or `system`, `import`, `demo`).
    public var userID: String
    public var role: AccessRole
    /// How they came: `token:<id>`, `session`, `cli`.
    public var via: String

    /// Creates an actor.
    public init(userID: String, role: AccessRole, via: String) {
        self.userID = userID
        self.role = role
        self.via = via
    }

    /// The command line, acting with full rights on the local database.
    public static let cli = Actor(userID: "cli", role: .admin, via: "cli")
}

/// A list request: filters, search, sort and a cursor.
public struct ListQuery: Sendable, Hashable {
    /// Field equals value.
    public var equals: [String: FieldValue] = [:]
    /// The time field is at or after this.
    public var from: FieldValue?
    /// The time field is before this.
    public var to: FieldValue?
    /// Text contained (case-insensitive) in a search field.
    public var search: String?
    /// The field to sort by (the record id when nil) and the direction.
    public var sort: String?
    public var descending = false
    public var limit = 50
    /// The opaque cursor of the previous page.
    public var cursor: String?

    /// Creates an empty query.
    public init() {}
}

/// One page of a list.
public struct Page: Sendable {
    public var records: [Record]
    /// The cursor for the next page; nil on the last.
    public var nextCursor: String?
}

/// How a write went wrong in a way the caller can fix.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No record with this id.
    case notFound(Resource, String)
    /// A record with this id (or unique key) exists.
    case conflict(String)
    /// A field names a record that does not exist, or a record is still referenced.
    case reference(String)
    /// The request is not valid for the store.
    case invalid(String)
    /// Something other than a record is missing (a handover, a webhook subscription).
    case missing(String)
    /// The database cannot be reached (or has no connection free) now; the caller may retry.
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let r, let id): return "no \(r.rawValue) record with id \"\(id)\""
        case .conflict(let m), .reference(let m), .invalid(let m), .missing(let m), .unavailable(let m): return m
        }
    }
}

/// One request's events for the ingest transaction.
public struct IngestBatch: Sendable {
    /// Each event, or why it was rejected before reaching the store.
    public var events: [Result<IncomingEvent, EventRejection>]
    /// When set, a batch with any rejected event stores nothing.
    public var atomic: Bool
    /// Who sent it.
    public var actor: Actor

    /// Creates a batch.
    public init(events: [Result<IncomingEvent, EventRejection>], atomic: Bool, actor: Actor) {
        self.events = events
        self.atomic = atomic
        self.actor = actor
    }
}

/// What became of a batch.
public struct IngestBatchResult: Sendable {
    public var outcomes: [EventOutcome]
    /// Whether the batch's accepted events were stored (false for an atomic batch with rejections).
    public var committed: Bool
}

/// Per-file import counts.
public struct FileSummary: Sendable, Codable, Hashable {
    public var file: String
    public var rows = 0
    public var inserted = 0
    public var updated = 0
    public var unchanged = 0
    public var rejected = 0
    /// Rows of contacts merged into an earlier one by a previous import (they change nothing).
    public var mergedAway = 0
    /// Wall-clock seconds spent on this file.
    public var seconds = 0.0
    public var warnings: [String] = []

    /// Creates an empty summary.
    public init(file: String) { self.file = file }
}

/// How an import treats invalid rows.
public struct ImportOptions: Sendable {
    /// Import the valid rows and report the rejected ones (default: import nothing on any problem).
    public var skipInvalid = false
    /// Rows per chunk.
    public var chunkSize = 8192

    /// Creates default options.
    public init(skipInvalid: Bool = false) { self.skipInvalid = skipInvalid }
}

/// Where an import is.
public struct ImportProgress: Sendable {
    public var file: String
    public var rows: Int
    /// How much of the file has been read (0…1), when known.
    public var fraction: Double?
}

/// The result of an import.
public struct ImportReport: Sendable {
    public var files: [FileSummary]
    /// Every problem found (all of them, also when nothing was imported).
    public var problems: [BundleProblem]
    /// The raw cells of rejected rows, by problem (for the `--skip-invalid` report).
    public var rejectedRows: [(problem: BundleProblem, raw: [String])]
    /// Whether anything was written.
    public var committed: Bool
    /// Problems found beyond those listed (a file full of errors is not kept in memory whole).
    public var moreProblems = 0
    /// Contacts merged into an earlier contact with the same email (one record per person).
    public var mergedContacts = 0
}

/// A contact merged away into another.
public struct MergeEntry: Sendable, Hashable, Codable {
    public var removedID: String
    public var keptID: String
    public var at: Timestamp
    public var actor: String

    /// Creates an entry.
    public init(removedID: String, keptID: String, at: Timestamp, actor: String) {
        self.removedID = removedID
        self.keptID = keptID
        self.at = at
        self.actor = actor
    }
}

/// A likely duplicate pair of contacts.
public struct DuplicateCandidate: Sendable, Hashable, Codable {
    /// The record to keep (the earliest created).
    public var keepID: String
    public var duplicateID: String
    /// Why they look like one person.
    public var reason: String

    /// Creates a candidate.
    public init(keepID: String, duplicateID: String, reason: String) {
        self.keepID = keepID
        self.duplicateID = duplicateID
        self.reason = reason
    }
}

/// An entry of the audit log.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var seq: Int64
    public var at: Timestamp
    public var actor: String
    public var action: String
    public var resource: String
    public var recordID: String
    /// JSON text with what changed.
    public var detail: String
}

/// A stored API token's owner.
public struct TokenPrincipal: Sendable, Hashable {
    public var tokenID: String
    public var userID: String
    public var role: AccessRole

    /// Creates a principal.
    public init(tokenID: String, userID: String, role: AccessRole) {
        self.tokenID = tokenID
        self.userID = userID
        self.role = role
    }
}

/// The workspace database, as small role protocols: each part of the product asks for the roles
/// it uses, and a backend conforms to each. Nothing here names a backend; the conformance suite
/// runs the same tests on SQLite and PostgreSQL.

/// Records of every resource, the audit log and workspace settings.
public protocol RecordStore: Sendable {
    /// The record of `resource` with this id.
    func get(_ resource: Resource, id: String) async throws -> Record?
    /// A page of records.
    func list(_ resource: Resource, _ query: ListQuery) async throws -> Page
    /// Number of records of a resource.
    func count(_ resource: Resource) async throws -> Int
    /// Stores a new record; `conflict` if its id exists, `reference` if it names a missing record.
    func create(_ record: Record, actor: Actor, at: Timestamp) async throws
    /// Changes fields of a record and returns it.
    func update(_ resource: Resource, id: String, fields: [String: FieldValue], actor: Actor, at: Timestamp) async throws -> Record
    /// Deletes a record; `reference` if other records still name it.
    func delete(_ resource: Resource, id: String, actor: Actor, at: Timestamp) async throws
    /// A contact's stored stage moves, oldest first.
    func transitions(contactID: String) async throws -> [StoredTransition]

    /// Audit entries, newest first.
    func audit(limit: Int, before: Int64?) async throws -> [AuditEntry]
    /// A workspace setting.
    func setting(_ key: String) async throws -> String?
    /// Sets a workspace setting.
    func setSetting(_ key: String, _ value: String) async throws

    /// Storage upkeep a server runs on start, now and then, and after imports. On PostgreSQL:
    /// touchpoints of months without a partition moved into one, and the partitions of this month
    /// and the next two made. Returns how many partitions it made (0 where there is nothing to do).
    func housekeeping(at: Timestamp) async throws -> Int
    /// The storage partitions of the touchpoints, oldest month first (none where the store does
    /// not partition them).
    func touchpointPartitions() async throws -> [TouchpointPartition]
}

/// One partition of the touchpoints: a month (from its first instant to the next month's, UTC),
/// or the default partition that holds months without their own.
public struct TouchpointPartition: Sendable, Codable, Equatable {
    public var name: String
    /// The month's first instant; nil for the default partition.
    public var from: Timestamp?
    /// The next month's first instant; nil for the default partition.
    public var to: Timestamp?
    /// Rows (PostgreSQL's estimate after ANALYZE; exact for the default partition).
    public var rows: Int
    public var bytes: Int

    public init(name: String, from: Timestamp?, to: Timestamp?, rows: Int, bytes: Int) {
        self.name = name
        self.from = from
        self.to = to
        self.rows = rows
        self.bytes = bytes
    }
}

/// Who may do what: API tokens, passwords, browser sessions and sign-in failures. Kept in the
/// store so that every app instance sees the same (a revoked token stops everywhere).
public protocol AccessStore: Sendable {
    /// Stores a token (only its hash) for a user; returns the token id.
    func createToken(userID: String, role: AccessRole, name: String, hash: String, actor: Actor, at: Timestamp) async throws -> String
    /// The principal of a token hash, if the token exists and is not revoked.
    func principal(tokenHash: String) async throws -> TokenPrincipal?
    /// Revokes a token.
    func revokeToken(id: String, actor: Actor, at: Timestamp) async throws
    /// Sets a user's password hash.
    func setPasswordHash(userID: String, hash: String, actor: Actor, at: Timestamp) async throws
    /// The user id, role and password hash of a user by email key.
    func passwordHash(emailKey: String) async throws -> (userID: String, role: AccessRole, hash: String)?

    /// Stores a new browser session.
    func createWebSession(_ session: WebSession) async throws
    /// The unexpired session with this hash; expired ones are removed on the way.
    func webSession(idHash: String, now: Timestamp) async throws -> WebSession?
    /// Ends a session (logout).
    func deleteWebSession(idHash: String) async throws
    /// Failed sign-ins per key (an email, a client address) since `since`: how many and the
    /// oldest. Kept in the store so that every app instance counts the same failures.
    func loginFailures(keys: [String], since: Timestamp) async throws -> [String: (count: Int, oldest: Timestamp)]
    /// Notes a failed sign-in under each key (and forgets failures older than `forgetBefore`).
    func recordLoginFailure(keys: [String], at: Timestamp, forgetBefore: Timestamp) async throws
    /// Forgets the failures of these keys (after a successful sign-in).
    func clearLoginFailures(keys: [String]) async throws
    /// Every API token, newest first (never the token).
    func tokens() async throws -> [TokenInfo]
}

/// Portable bundles: import and export.
public protocol BundleStore: Sendable {
    /// Imports files (in `Resource.importOrder`) in one transaction.
    func importRows(
        _ sources: [any RowSource],
        options: ImportOptions,
        actor: Actor,
        at: Timestamp,
        progress: @escaping @Sendable (ImportProgress) -> Void
    ) async throws -> ImportReport
    /// Calls `body` with the records of a resource in id order, in chunks.
    func exportRecords(_ resource: Resource, chunkSize: Int, _ body: @escaping @Sendable ([Record]) throws -> Void) async throws
    /// Tidies up after a bulk load (SQLite: copies the WAL into the file; PostgreSQL: updates
    /// the planner's statistics).
    func afterBulkLoad() async throws
}

/// One record per person: duplicate candidates and merges.
public protocol IdentityStore: Sendable {
    /// Likely duplicate contacts.
    func duplicateContacts(limit: Int) async throws -> [DuplicateCandidate]
    /// Merges `duplicateID` into `keepID`; returns the kept record.
    func mergeContacts(keep keepID: String, duplicate duplicateID: String, actor: Actor, at: Timestamp) async throws -> Record
    /// Every contact merged away and the contact it lives on in (so a later import or sync of the
    /// old id reaches the kept record), oldest first.
    func mergeHistory() async throws -> [MergeEntry]
    /// Adds merge history from another database (a copy); entries already known are kept.
    func addMergeHistory(_ entries: [MergeEntry]) async throws
}

/// Events in, with identity, scoring and the reactions they cause.
public protocol IngestStore: Sendable {
    /// Stores batches of events in one durable transaction (group commit), each batch atomic
    /// on its own, with identity resolution and the reactions applied.
    func ingest(_ batches: [IngestBatch], at: Timestamp) async throws -> [IngestBatchResult]
}

/// The workspace database with every role: what the server and most commands use.
public protocol FunnelStore: RecordStore, AccessStore, BundleStore, IdentityStore, IngestStore, ScoringStore, HandoverStore, KPIStore, WebReadStore, SyncStore, StateStore, SettingsStore, RitualStore, PrivacyStore, SchemaStatus {}
