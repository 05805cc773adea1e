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

    public var description: String {
        switch self {
        case .notFound(let r, let id): return "no \(r.rawValue) record with id \"\(id)\""
        case .conflict(let m), .reference(let m), .invalid(let m), .missing(let m): return m
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

/// The workspace database. One protocol, several backends (SQLite today; PostgreSQL next):
/// nothing here names a backend, and the conformance suite runs the same tests on each.
public protocol FunnelStore: Sendable {
    // Records
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

    // Ingest
    /// Stores batches of events in one durable transaction (group commit), each batch atomic
    /// on its own, with identity resolution and the reactions applied.
    func ingest(_ batches: [IngestBatch], at: Timestamp) async throws -> [IngestBatchResult]

    // Bundles
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

    // Identity
    /// Likely duplicate contacts.
    func duplicateContacts(limit: Int) async throws -> [DuplicateCandidate]
    /// Merges `duplicateID` into `keepID`; returns the kept record.
    func mergeContacts(keep keepID: String, duplicate duplicateID: String, actor: Actor, at: Timestamp) async throws -> Record

    // Access
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

    // Audit and settings
    /// Audit entries, newest first.
    func audit(limit: Int, before: Int64?) async throws -> [AuditEntry]
    /// A workspace setting.
    func setting(_ key: String) async throws -> String?
    /// Sets a workspace setting.
    func setSetting(_ key: String, _ value: String) async throws

    // MARK: Scoring and lifecycle

    /// The active scoring model version, if one was applied.
    func activeScoringVersion() async throws -> ScoringVersion?
    /// Every stored model version, newest first.
    func scoringVersions() async throws -> [ScoringVersion]
    /// Marks model applies that a stopped process left `applying` as `failed` (the server calls
    /// this when it starts: the old version stayed active, the new one never finished).
    func failInterruptedApplies() async throws -> Int
    /// A scorer for a candidate model with the workspace's personas.
    func candidateScorer(_ model: ScoringModel, version: Int) async throws -> Scorer
    /// What applying `model` would change now. Writes nothing.
    func scoringDiff(_ model: ScoringModel, at: Timestamp, progress: (@Sendable (RescoreProgress) -> Void)?) async throws -> ScoreDiff
    /// Stores a new version and rescores every contact; atomic (see the SQLite store).
    func applyScoringModel(
        text: String,
        model: ScoringModel,
        comment: String,
        actor: Actor,
        at: Timestamp,
        progress: (@Sendable (RescoreProgress) -> Void)?
    ) async throws -> ApplyResult
    /// Scores every contact again under the active version (nil: no model active).
    func rescoreAll(actor: Actor, at: Timestamp, progress: (@Sendable (RescoreProgress) -> Void)?) async throws -> ApplyResult?
    /// Why a contact has its score at `at` (nil: no such contact).
    func scoreExplanation(contactID: String, at: Timestamp) async throws -> ScoreExplanation?
    /// A contact's stored stage moves, oldest first.
    func transitions(contactID: String) async throws -> [StoredTransition]
    /// The history a backtest replays (`attributes`: the profile attributes to read; nil: all).
    func backtestContacts(target: BacktestTarget, attributes: Set<String>?) async throws -> [BacktestContact]
    /// The sum of the sales users' capacity.
    func salesCapacity() async throws -> Double?

    // MARK: Handover, SLA and webhooks

    /// Stores a handover configuration as the new active version (refused when it names users
    /// the workspace does not have).
    func applyHandoverConfig(text: String, config: HandoverConfig, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion
    /// Opens handovers for contacts that are MQL but have none; returns how many.
    func routeWaitingMQLs(at now: Timestamp) async throws -> Int
    /// Every stored configuration version, newest first.
    func handoverConfigVersions() async throws -> [HandoverConfigVersion]
    /// The active configuration's version and text.
    func activeHandoverConfigText() async throws -> (HandoverConfigVersion, String)?
    /// Handovers, newest first.
    func handovers(_ q: HandoverQuery, at now: Timestamp) async throws -> [HandoverView]
    /// One handover with its history.
    func handover(id: Int64, at now: Timestamp) async throws -> HandoverView?
    /// Accept, qualify or reject a handover.
    func actOnHandover(id: Int64, action: HandoverAction, note: String?, actor: Actor, at now: Timestamp) async throws -> HandoverView
    /// Gives a handover to a rep, or routes it again (nil).
    func reassignHandover(id: Int64, to: String?, actor: Actor, at now: Timestamp) async throws -> HandoverView
    /// Pauses or resumes a handover's clocks.
    func pauseHandover(id: Int64, pause: Bool, actor: Actor, at now: Timestamp) async throws -> HandoverView
    /// Whether a user manages the owner of a handover.
    func manages(userID: String, handoverOwner: String) async throws -> Bool
    /// Fires due SLA warnings and breaches exactly once each.
    func processDueClocks(now: Timestamp, limit: Int) async throws -> DueRun
    /// The earliest instant a clock needs the breach service.
    func nextDueClock() async throws -> Timestamp?
    /// A rep's open handovers, most urgent first.
    func inbox(userID: String, at now: Timestamp, limit: Int) async throws -> [InboxItem]
    /// SLA compliance per group.
    func slaReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [SLAReportRow]
    /// Acceptance and rejection reasons per group.
    func acceptanceReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [AcceptanceRow]
    /// Marketing's commitments for a month.
    func commitments(month: LocalDate, at now: Timestamp) async throws -> [Commitment]
    /// Creates a webhook subscription.
    func createWebhook(url: String, events: [String], format: String, secret: String, actor: Actor, at: Timestamp) async throws -> WebhookSubscription
    /// Every subscription.
    func webhooks() async throws -> [WebhookSubscription]
    /// Stops a subscription.
    func deactivateWebhook(id: String, actor: Actor, at: Timestamp) async throws
    /// Deliveries due now, in order per subscription.
    func dueDeliveries(now: Timestamp, perSubscription: Int) async throws -> [PendingDelivery]
    /// Records delivery attempts.
    func recordDeliveries(_ attempts: [DeliveryAttempt], at now: Timestamp) async throws
    /// The delivery log.
    func deliveries(subscriptionID: String?, status: String?, limit: Int) async throws -> [WebhookDelivery]
    /// Queues deliveries again.
    func replayDeliveries(subscriptionID: String, fromSeq: Int64?, deliveryID: Int64?, actor: Actor, at now: Timestamp) async throws -> Int

    // KPIs
    /// The KPI set of a period from the incremental aggregates.
    func kpis(_ query: KPIQuery) async throws -> KPIReport
    /// A number that grows with every committed change of the KPI aggregates.
    func kpiVersion() async throws -> Int64
    /// Recomputes the aggregates from the raw history (rolled back) and compares.
    func verifyKPIs() async throws -> KPIVerification
    /// Recomputes the aggregates from the raw history.
    func rebuildKPIs() async throws
    /// The attribution report of `models` for the deals won in `period`.
    func attribution(
        period: KPIPeriod,
        by: AttributionCut,
        models: [AttributionModel],
        lookbackDays: Int,
        halfLifeDays: Double
    ) async throws
        -> AttributionReport
    /// Won deals with their paths, journeys and spend for the attribution models.
    func attributionInputs(period: KPIPeriod, lookbackDays: Int, journeys: Bool) async throws -> AttributionInputs
    /// The funnel of the period's leads and where they get lost (stuck and stale as of `now`).
    func funnel(period: KPIPeriod, by: KPIDimension, options: FunnelOptions, now: Timestamp) async throws -> FunnelReport
    /// Touch types, content and campaigns whose presence on the paths of the contacts that
    /// reached `from` in the period goes with lower conversion to the next stage.
    func conversionKillers(period: KPIPeriod, from: FunnelStage, options: KillerOptions, now: Timestamp) async throws -> KillerReport
    /// The records counted in one metric's cells of a period under one cut value.
    func kpiRecords(metric: KPIMetric, period: KPIPeriod, dimension: KPIDimension, key: String, label: String?, limit: Int) async throws -> KPIRecordPage

    // The web app
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
    /// The lead list, newest first.
    func leads(_ query: LeadQuery, now: Timestamp) async throws -> LeadPage
    /// Open opportunities by stage and owner, aging and slipped close dates at `now` (`today` in the workspace zone).
    func pipelineReview(today: LocalDate, now: Timestamp, slippedLimit: Int) async throws -> PipelineReview
    /// How often each content asset was touched, by marketing and sales.
    func contentUsage() async throws -> [ContentUsage]
}
