/// What smarketing knows about a linked person that goes back to the vendor.
public struct WritebackSource: Sendable, Hashable {
    public var contactID: String
    public var stage: String?
    public var engagement: Double?
    public var grade: String?
    public var mqlAt: Timestamp?
    /// The vendor's id of the contact's owner (through the owner links), if the owner is linked.
    public var ownerExternalID: String?
    /// The latest handover's status and reason, and whether any of its clocks breached.
    public var handoverStatus: String?
    public var slaBreached: Bool
    public var rejectionReason: String?
    /// The subscription status (nil: nobody said).
    public var subscription: SubscriptionStatus?

    public init(
        contactID: String,
        stage: String?,
        engagement: Double?,
        grade: String?,
        mqlAt: Timestamp?,
        ownerExternalID: String?,
        handoverStatus: String?,
        slaBreached: Bool,
        rejectionReason: String?,
        subscription: SubscriptionStatus? = nil
    ) {
        self.contactID = contactID
        self.stage = stage
        self.engagement = engagement
        self.grade = grade
        self.mqlAt = mqlAt
        self.ownerExternalID = ownerExternalID
        self.handoverStatus = handoverStatus
        self.slaBreached = slaBreached
        self.rejectionReason = rejectionReason
        self.subscription = subscription
    }
}

/// The write-back fields and their values as text (docs/INTEGRATIONS.md, "Write-back").
public enum WritebackValues {
    /// Every field the write-back knows, in the order it is documented.
    public static let fields = ["stage", "score", "grade", "mql_date", "owner", "sla_status", "sla_breached", "rejection_reason", "unsubscribed"]

    /// The values of the fields the mapping writes (field → text; nil clears the vendor field).
    /// Only the fields named in `writeback` appear; an owner that is not linked is left alone.
    public static func values(_ s: WritebackSource, writeback: [String: String]) -> [String: String?] {
        var out: [String: String?] = [:]
        for field in fields where writeback[field] != nil {
            switch field {
            case "stage": out[field] = s.stage
            case "score": out[field] = s.engagement.map { String(Int64(max(-1e12, min(1e12, $0)).rounded())) }
            case "grade": out[field] = s.grade
            case "mql_date": out[field] = s.mqlAt.map { $0.utcDate.text }
            case "owner": if let o = s.ownerExternalID { out[field] = o }
            case "sla_status": out[field] = s.handoverStatus
            case "sla_breached": out[field] = s.handoverStatus == nil ? nil : (s.slaBreached ? "true" : "false")
            case "rejection_reason": out[field] = s.rejectionReason
            // The vendor's opt-out flag: an unsubscribe here stops that tool's emails too.
            case "unsubscribed": out[field] = s.subscription.map { $0 == .unsubscribed ? "true" : "false" }
            default: break
            }
        }
        return out
    }
}
