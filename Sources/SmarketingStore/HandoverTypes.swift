import SmarketingCore

/// Reads stored handover configuration texts (the store keeps the text, as typed).
public typealias HandoverConfigParser = @Sendable (String) -> HandoverConfig?

/// A stored handover configuration version.
public struct HandoverConfigVersion: Sendable, Codable, Hashable {
    public var version: Int
    public var appliedAt: Timestamp
    public var author: String
    public var comment: String
    public var active: Bool
}

/// A clock as stored, with its countdown at the instant it was read.
public struct StoredClock: Sendable, Codable, Hashable {
    public var id: Int64
    public var kind: ClockKind
    public var status: ClockStatus
    public var ownerID: String?
    public var startedAt: Timestamp
    public var dueAt: Timestamp
    public var warnAt: Timestamp?
    public var breachedAt: Timestamp?
    public var completedAt: Timestamp?
    /// Whether the budget counts business hours.
    public var business: Bool
    public var budgetMs: Int64
    /// Wall-clock time left (negative: overdue).
    public var remainingMs: Int64
    /// Budget left in the clock's measure (business time for business clocks).
    public var remainingBusinessMs: Int64
    public var goal: Int
    public var progress: Int
}

/// One step in a handover's history.
public struct HandoverLogEntry: Sendable, Codable, Hashable {
    public var at: Timestamp
    public var actor: String
    public var action: String
    /// JSON text with the details (the routing decision, the clock, the reason).
    public var detail: String
}

/// A handover: a qualified lead given to sales, with its routing, clocks and history.
public struct HandoverView: Sendable, Codable, Hashable {
    public var id: Int64
    public var contactID: String
    public var status: HandoverStatus
    public var ownerID: String
    public var queue: String?
    public var team: String?
    public var segment: String?
    public var policy: String?
    public var grade: String?
    public var channel: String?
    public var campaignID: String?
    public var rule: String
    public var routing: RoutingDecision?
    public var configVersion: Int
    public var createdAt: Timestamp
    public var assignedAt: Timestamp?
    public var answeredAt: Timestamp?
    public var firstTouchAt: Timestamp?
    public var closedAt: Timestamp?
    public var reason: String?
    public var note: String?
    public var clocks: [StoredClock]
    public var log: [HandoverLogEntry]?
}

/// A handover list request.
public struct HandoverQuery: Sendable, Hashable {
    public var ownerID: String?
    public var contactID: String?
    /// Only open handovers (queued, assigned, accepted).
    public var openOnly = false
    public var status: HandoverStatus?
    public var limit = 50
    /// Handovers with an id below this (paging, newest first).
    public var before: Int64?

    /// Creates an empty query.
    public init() {}
}

/// What a breach-service run did.
public struct DueRun: Sendable, Codable, Hashable {
    public var clocksSeen = 0
    public var warnings = 0
    public var breaches = 0
    public var reassigned = 0
    public var requeued = 0
    /// The next instant a clock is due (nil: none).
    public var nextDue: Timestamp?

    /// Creates an empty run.
    public init() {}
}

/// A webhook subscription (its secret is shown only when created).
public struct WebhookSubscription: Sendable, Codable, Hashable {
    public var id: String
    public var url: String
    /// Event types, or `*` for all.
    public var events: [String]
    /// `json` (the event envelope) or `slack` (an incoming-webhook message).
    public var format: String
    public var active: Bool
    public var createdAt: Timestamp
}

/// A delivery of one outbox event to one subscription.
public struct WebhookDelivery: Sendable, Codable, Hashable {
    public var id: Int64
    public var subscriptionID: String
    public var seq: Int64
    public var eventType: String
    /// `pending`, `delivered` or `failed` (retries used up; replayable).
    public var status: String
    public var attempts: Int
    public var nextAttemptAt: Timestamp?
    public var lastStatus: Int?
    public var lastError: String?
    public var deliveredAt: Timestamp?
}

/// A delivery due now, with what the sender needs.
public struct PendingDelivery: Sendable, Hashable {
    public var id: Int64
    public var subscriptionID: String
    public var url: String
    public var secret: String
    public var format: String
    public var seq: Int64
    public var eventType: String
    public var at: Timestamp
    /// What the event is about (a contact or deal id): deliveries of one subject keep their order.
    public var subject: String
    /// The event's JSON object text.
    public var payload: String
    public var attempts: Int
    /// The subject contact's subscription status, when one was stated (`unsubscribed`,
    /// `subscribed`): the envelope carries it so receivers honour it.
    public var consent: String? = nil
}

/// How an attempt went.
public struct DeliveryAttempt: Sendable, Hashable {
    public var id: Int64
    public var ok: Bool
    public var status: Int?
    public var error: String?

    /// Creates an attempt result.
    public init(id: Int64, ok: Bool, status: Int?, error: String?) {
        self.id = id
        self.ok = ok
        self.status = status
        self.error = error
    }
}

/// An entry of a rep's inbox.
public struct InboxItem: Sendable, Codable, Hashable {
    public var handover: HandoverView
    public var contact: InboxContact
    /// The earliest due time of its running clocks (the sort key).
    public var nextDueAt: Timestamp?
    /// Short sentences on why this lead is hot.
    public var why: [String]
    public var topContributions: [ScoreContribution]
    public var lastTouches: [InboxTouch]
    public var recommendedContent: [RecommendedContent]
}

/// The contact as the inbox shows it.
public struct InboxContact: Sendable, Codable, Hashable {
    public var id: String
    public var name: String
    public var email: String
    public var title: String?
    public var accountName: String?
    public var stage: String?
    public var grade: String?
    public var engagement: Double?
    public var personaID: String?
}

/// A rule's share of a contact's score.
public struct ScoreContribution: Sendable, Codable, Hashable {
    public var rule: String
    public var kind: String
    public var points: Double
}

/// A recent touch.
public struct InboxTouch: Sendable, Codable, Hashable {
    public var type: String
    public var at: Timestamp
    public var channel: String?
    public var campaignID: String?
    public var contentID: String?
}

/// Content that fits the lead's persona and stage.
public struct RecommendedContent: Sendable, Codable, Hashable {
    public var id: String
    public var title: String
    public var type: String
    public var funnelStage: String?
    public var url: String?
}

/// SLA compliance of one group.
public struct SLAReportRow: Sendable, Codable, Hashable {
    public var group: String
    public var handovers: Int
    /// Per clock kind: met, breached, running.
    public var clocks: [String: ClockTally]
    /// Met ÷ (met + breached) over every decided clock.
    public var compliance: Double?
    /// Handovers answered (first sales action) and the response times in hours.
    public var answered: Int
    public var responseMedianBusinessHours: Double?
    public var responseP90BusinessHours: Double?
    public var responseMedianHours: Double?
    public var responseP90Hours: Double?
    public var responseMeanHours: Double?
}

/// Acceptance of one group's handovers.
public struct AcceptanceRow: Sendable, Codable, Hashable {
    public var group: String
    public var handovers: Int
    public var accepted: Int
    public var rejected: Int
    public var open: Int
    /// (accepted or qualified) ÷ answered.
    public var acceptanceRate: Double?
    public var reasons: [String: Int]
}

/// How a report groups handovers.
public enum ReportGrouping: String, Sendable, CaseIterable {
    case rep, team, segment, campaign, channel, policy
}

/// The handover from marketing to sales: configuration, routing, SLA clocks, the inbox, reports
/// and the webhook outbox.
public protocol HandoverStore: Sendable {

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
    /// Rewrites stored signing secrets in one transaction: `transform` gets each stored form and
    /// returns the new one, or nil to leave it (the server seals secrets an earlier version
    /// stored in clear). Returns how many changed.
    func rewriteWebhookSecrets(_ transform: @escaping @Sendable (String) throws -> String?) async throws -> Int
    /// Deliveries due now, in order per subscription.
    func dueDeliveries(now: Timestamp, perSubscription: Int) async throws -> [PendingDelivery]
    /// Records delivery attempts.
    func recordDeliveries(_ attempts: [DeliveryAttempt], at now: Timestamp) async throws
    /// The delivery log.
    func deliveries(subscriptionID: String?, status: String?, limit: Int) async throws -> [WebhookDelivery]
    /// Queues deliveries again.
    func replayDeliveries(subscriptionID: String, fromSeq: Int64?, deliveryID: Int64?, actor: Actor, at now: Timestamp) async throws -> Int
}
