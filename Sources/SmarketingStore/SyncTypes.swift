import SmarketingCore

/// A stored connection to a vendor account. Its secrets are sealed by the caller (the store never
/// sees them in clear) and never returned by the API.
public struct StoredConnection: Sendable, Hashable {
    public var name: String
    public var vendor: Vendor
    public var baseURL: String?
    public var sealedSecrets: [UInt8]
    /// JSON object text: non-secret settings (sync interval, business unit id, field keys).
    public var settings: String
    public var createdAt: Timestamp
    /// `new`, `ok`, `error`, `syncing`.
    public var status: String
    public var lastSyncAt: Timestamp?
    public var lastError: String?
    public var counts: SyncCounts

    public init(
        name: String,
        vendor: Vendor,
        baseURL: String?,
        sealedSecrets: [UInt8],
        settings: String,
        createdAt: Timestamp,
        status: String = "new",
        lastSyncAt: Timestamp? = nil,
        lastError: String? = nil,
        counts: SyncCounts = SyncCounts()
    ) {
        self.name = name
        self.vendor = vendor
        self.baseURL = baseURL
        self.sealedSecrets = sealedSecrets
        self.settings = settings
        self.createdAt = createdAt
        self.status = status
        self.lastSyncAt = lastSyncAt
        self.lastError = lastError
        self.counts = counts
    }
}

/// Where a sync of one object stands.
public struct SyncCursor: Sendable, Hashable {
    public var object: SyncObject
    /// The vendor's paging cursor of the next page (nil: start from the watermark).
    public var cursor: String?
    /// The latest modification time read to the end (incremental syncs start here).
    public var watermark: String?
    /// Whether the last pass read the object to the end.
    public var complete: Bool

    public init(object: SyncObject, cursor: String?, watermark: String?, complete: Bool) {
        self.object = object
        self.cursor = cursor
        self.watermark = watermark
        self.complete = complete
    }
}

/// A sync run and what it did.
public struct SyncRunInfo: Sendable, Hashable, Codable {
    public var id: Int64
    public var connection: String
    public var startedAt: Timestamp
    public var finishedAt: Timestamp?
    /// `running`, `ok`, `failed`.
    public var status: String
    public var full: Bool
    public var counts: [String: SyncCounts]
    public var error: String?
}

/// A smarketing record's id in another system.
public struct SyncLink: Sendable, Hashable, Codable {
    public var connection: String
    public var object: String
    public var externalID: String
    public var resource: String
    public var recordID: String
}

/// One field value waiting to go back to a vendor.
public struct WritebackChange: Sendable, Hashable {
    public var seq: Int64
    public var connection: String
    public var recordID: String
    public var object: String
    public var externalID: String
    public var field: String
    /// nil clears the vendor field.
    public var value: String?
    public var attempts: Int
}

/// How a write-back delivery went.
public struct WritebackResult: Sendable, Hashable {
    public var seq: Int64
    public var delivered: Bool
    /// When not delivered: retry (rate limit, 5xx) or give up (the vendor refused the value).
    public var retry: Bool
    public var error: String?

    public init(seq: Int64, delivered: Bool, retry: Bool, error: String?) {
        self.seq = seq
        self.delivered = delivered
        self.retry = retry
        self.error = error
    }
}

/// A logged write-back attempt.
public struct WritebackLogEntry: Sendable, Hashable, Codable {
    public var seq: Int64
    public var connection: String
    public var recordID: String
    public var externalID: String
    public var field: String
    public var value: String?
    public var status: String
    public var attempts: Int
    public var lastError: String?
    public var deliveredAt: Timestamp?
}

/// The store's role for connectors: connections, links, cursors, runs, the write-back outbox and
/// inbound receipts. Each page of a sync is one transaction: its records, their links and the
/// cursor move together, so a sync stopped at any point resumes from its cursor with nothing
/// half-written.
public protocol SyncStore: Sendable {
    /// Stores a new connection; `conflict` when the name is taken.
    func addConnection(_ c: StoredConnection, actor: Actor, at: Timestamp) async throws
    /// Every connection, by name.
    func connections() async throws -> [StoredConnection]
    /// One connection.
    func connection(named: String) async throws -> StoredConnection?
    /// Removes a connection with its cursors, outbox and links (the records stay).
    func removeConnection(named: String, actor: Actor, at: Timestamp) async throws
    /// Records the outcome of a test or sync on the connection.
    func setConnectionStatus(named: String, status: String, error: String?, at: Timestamp) async throws

    /// The cursors of a connection.
    func syncCursors(connection: String) async throws -> [SyncCursor]
    /// Forgets the cursors and watermarks (the next sync reads everything).
    func resetSyncCursors(connection: String) async throws
    /// Starts a run.
    func startSyncRun(connection: String, full: Bool, at: Timestamp) async throws -> Int64
    /// Stores one page (records, links, cursor) in one transaction.
    func applySyncPage(
        _ page: SyncPage,
        connection: String,
        mapping: SyncMapping,
        runID: Int64,
        actor: Actor,
        at: Timestamp
    ) async throws -> (SyncCounts, [SyncSkip])
    /// Ends a run.
    func finishSyncRun(id: Int64, status: String, counts: [String: SyncCounts], error: String?, at: Timestamp) async throws
    /// Runs, newest first.
    func syncRuns(connection: String?, limit: Int) async throws -> [SyncRunInfo]
    /// The records a run skipped, with why.
    func syncSkips(runID: Int64, limit: Int) async throws -> [SyncSkip]
    /// A record's ids in other systems.
    func syncLinks(resource: Resource, recordID: String) async throws -> [SyncLink]
    /// The smarketing record a vendor id is linked to.
    func linkedRecord(connection: String, object: String, externalID: String) async throws -> String?

    /// Queues the write-back values (field → value per contact) that differ from what was last
    /// queued for each linked contact; returns how many were queued.
    func queueWriteback(connection: String, values: [String: [String: String?]], at: Timestamp) async throws -> Int
    /// What goes back to the vendor for each linked person (one read for all of them).
    func writebackSources(connection: String) async throws -> [WritebackSource]
    /// The linked people of a connection: contact id → (vendor object, vendor id).
    func linkedPeople(connection: String) async throws -> [String: (object: String, externalID: String)]
    /// Pending changes, oldest first (in order per record).
    func pendingWriteback(connection: String, now: Timestamp, limit: Int) async throws -> [WritebackChange]
    /// Records delivery outcomes.
    func recordWriteback(_ results: [WritebackResult], at: Timestamp) async throws
    /// The delivery log, newest first.
    func writebackLog(connection: String, limit: Int) async throws -> [WritebackLogEntry]

    /// Drops the links of records the vendor deleted (our records and their history stay).
    func unlinkDeleted(connection: String, mapping: SyncMapping, object: SyncObject, externalIDs: [String], actor: Actor, at: Timestamp) async throws -> Int
    /// Stores a `connections.yaml` text as the new active version.
    func applyConnectionsConfig(text: String, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion
    /// The active `connections.yaml` and its version.
    func activeConnectionsConfig() async throws -> (HandoverConfigVersion, String)?
    /// Every stored version, newest first.
    func connectionsConfigVersions() async throws -> [HandoverConfigVersion]
    /// Notes inbound webhook events; returns the ids not seen before (replay protection).
    func recordInbound(connection: String, eventIDs: [String], at: Timestamp) async throws -> [String]
}

/// SQL both backends run alike (the same tables and columns; `?` placeholders).
enum SyncSQL {
    /// What goes back to the vendor for each linked person: stage, score, grade, MQL time, owner,
    /// the latest handover's status, breach and rejection reason. Arguments: connection twice.
    static let writebackSources = """
        WITH linked AS (SELECT DISTINCT record_id FROM sync_links WHERE connection = ? AND resource = 'contacts'),
        newest AS (SELECT contact_id, max(id) AS id FROM handovers GROUP BY contact_id),
        latest AS (SELECT h.contact_id, h.id, h.status, h.reason FROM newest JOIN handovers h ON h.id = newest.id)
        SELECT c.id, c.lifecycle_stage, s.engagement, s.grade, c.became_mql_at,
          (SELECT external_id FROM sync_links o WHERE o.connection = ? AND o.resource = 'users' AND o.record_id = c.owner_id
             ORDER BY external_id LIMIT 1),
          l.status, EXISTS (SELECT 1 FROM sla_clocks k WHERE k.handover_id = l.id AND k.status = 'breached'), l.reason,
          (SELECT status FROM contact_consent cc WHERE cc.contact_id = c.id)
        FROM linked JOIN contacts c ON c.id = linked.record_id
        LEFT JOIN contact_scores s ON s.contact_id = c.id
        LEFT JOIN latest l ON l.contact_id = c.id
        ORDER BY c.id
        """
}
