/// What a vendor's deal stage means here.
public struct DealStageMapping: Sendable, Hashable {
    /// The stage name stored on the opportunity.
    public var stage: String
    public var closed: Bool
    public var won: Bool

    public init(stage: String, closed: Bool, won: Bool) {
        self.stage = stage
        self.closed = closed
        self.won = won
    }
}

/// What a vendor's activity type becomes: a touchpoint type and channel.
public struct ActivityMapping: Sendable, Hashable {
    public var type: String
    public var channel: String?

    public init(type: String, channel: String?) {
        self.type = type
        self.channel = channel
    }
}

/// A value a mapping could not place, reported with the record it came from.
public struct MappingProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How one connection's records map onto ours: lifecycle stages, deal stages, activity types,
/// owners, which source wins each field, and the vendor fields the write-back fills. Every
/// vendor has defaults (`SyncMapping.defaults`); `connections.yaml` overrides them. Vendor values
/// are matched case-insensitively.
public struct SyncMapping: Sendable, Hashable {
    public var vendor: Vendor
    public var lifecycle: [String: LifecycleStage]
    public var dealStages: [String: DealStageMapping]
    public var activities: [String: ActivityMapping]
    /// Vendor owner id → smarketing user id (owners not listed match users by email).
    public var owners: [String: String]
    /// Vendor campaign type → channel.
    public var campaignChannels: [String: String]
    /// Field → the sources that win it, first first; `smarketing` means our own decisions and
    /// a source is a vendor or a connection name. `*` is every field not listed.
    public var precedence: [String: [String]]
    /// Our write-back field (`WritebackField`) → the vendor's field name; absent: not written.
    public var writeback: [String: String]
    /// Whether a vendor value that is not in a table is a problem (the record is skipped and
    /// reported) or kept as is (deal stages) / ignored (lifecycle).
    public var strict: Bool
    /// Vendor person fields (custom fields too) → the contact field they fill (`fields:` in
    /// connections.yaml).
    public var personFields: [String: String] = [:]

    /// The contact fields a vendor field may fill.
    public static let mappableContactFields = ["first_name", "last_name", "title", "phone", "country", "source_channel"]

    public init(
        vendor: Vendor,
        lifecycle: [String: LifecycleStage],
        dealStages: [String: DealStageMapping],
        activities: [String: ActivityMapping],
        owners: [String: String] = [:],
        campaignChannels: [String: String] = [:],
        precedence: [String: [String]],
        writeback: [String: String],
        strict: Bool = false
    ) {
        self.vendor = vendor
        self.lifecycle = Self.lowerKeys(lifecycle)
        self.dealStages = Self.lowerKeys(dealStages)
        self.activities = Self.lowerKeys(activities)
        self.owners = owners
        self.campaignChannels = Self.lowerKeys(campaignChannels)
        self.precedence = precedence
        self.writeback = writeback
        self.strict = strict
    }

    static func lowerKeys<V>(_ d: [String: V]) -> [String: V] {
        var out: [String: V] = [:]
        for (k, v) in d { out[k.lowercased()] = v }
        return out
    }

    // MARK: Lookups

    /// Our lifecycle stage for a vendor stage; nil when the value is blank, or unknown and not strict.
    public func lifecycleStage(_ raw: String?) -> Result<LifecycleStage?, MappingProblem> {
        guard let raw = raw?.trimmingSpaces, !raw.isEmpty else { return .success(nil) }
        if let s = lifecycle[raw.lowercased()] { return .success(s) }
        if strict { return .failure(MappingProblem("lifecycle stage \"\(raw)\" is not mapped (add it under lifecycle: in connections.yaml)")) }
        return .success(nil)
    }

    /// The opportunity stage for a vendor deal stage; the vendor's own won/closed flags win.
    public func dealStage(_ raw: String?, won: Bool?, closed: Bool?) -> Result<DealStageMapping?, MappingProblem> {
        guard let raw = raw?.trimmingSpaces, !raw.isEmpty else {
            if let won { return .success(DealStageMapping(stage: won ? "closed_won" : "closed_lost", closed: true, won: won)) }
            return .success(nil)
        }
        var m: DealStageMapping
        if let known = dealStages[raw.lowercased()] {
            m = known
        } else if strict {
            return .failure(MappingProblem("deal stage \"\(raw)\" is not mapped (add it under deal_stages: in connections.yaml)"))
        } else {
            m = DealStageMapping(stage: raw, closed: false, won: false)
        }
        if let closed { m.closed = closed }
        if let won {
            m.won = won
            if won { m.closed = true }
        }
        return .success(m)
    }

    /// The touchpoint an activity becomes; unknown types are kept under their own name
    /// (lower-cased, spaces as `_`) unless strict.
    public func activity(_ kind: String) -> Result<ActivityMapping, MappingProblem> {
        let key = kind.trimmingSpaces.lowercased()
        if let m = activities[key] { return .success(m) }
        if strict || key.isEmpty { return .failure(MappingProblem("activity type \"\(kind)\" is not mapped (add it under activities: in connections.yaml)")) }
        let name = String(key.map { $0.isLetter || $0.isNumber ? $0 : "_" }.prefix(64))
        return .success(ActivityMapping(type: name, channel: nil))
    }

    /// The channel of a campaign type.
    public func channel(campaignType: String?) -> String {
        guard let t = campaignType?.trimmingSpaces.lowercased(), !t.isEmpty else { return "other" }
        return campaignChannels[t] ?? String(t.map { $0.isLetter || $0.isNumber ? $0 : "_" }.prefix(64))
    }

    // MARK: Which source wins

    /// Whether `source` (a vendor and its connection name) may overwrite a field that already
    /// has a different value. A blank field is always filled.
    public func wins(_ field: String, vendor: Vendor, connection: String, connected: Set<String>) -> Bool {
        let order = precedence[field] ?? precedence["*"] ?? []
        for name in order {
            if name == "smarketing" { return false }
            if name == connection || name == vendor.rawValue { return true }
            if connected.contains(name) { return false }
        }
        return false
    }

    /// The fields of `incoming` to write over `existing` (field → value): blanks filled, values
    /// changed only where this source wins.
    public func apply(
        incoming: [String: FieldValue],
        existing: (String) -> FieldValue,
        connection: String,
        connected: Set<String>
    ) -> [String: FieldValue] {
        var out: [String: FieldValue] = [:]
        for (field, value) in incoming where !value.isNull {
            let old = existing(field)
            if old == value { continue }
            if old.isNull || wins(field, vendor: vendor, connection: connection, connected: connected) { out[field] = value }
        }
        return out
    }
}

// MARK: Defaults per vendor

extension SyncMapping {
    /// The CRMs first, then the marketing tools: who wins a person's or company's field by default.
    public static let defaultPrecedence: [String: [String]] = [
        "*": ["salesforce", "pipedrive", "hubspot", "marketo", "pardot"],
        // Identity and the funnel are ours: vendors only fill them when blank.
        "email": ["smarketing"],
        "lifecycle_stage": ["smarketing"],
        "created_at": ["smarketing"],
    ]

    /// The defaults for a vendor (docs/INTEGRATIONS.md lists them).
    public static func defaults(_ vendor: Vendor) -> SyncMapping {
        switch vendor {
        case .hubspot:
            return SyncMapping(
                vendor: vendor,
                lifecycle: [
                    "subscriber": .subscriber, "lead": .lead, "marketingqualifiedlead": .mql, "salesqualifiedlead": .sql,
                    "opportunity": .opportunity, "customer": .customer, "evangelist": .customer, "other": .lead,
                ],
                dealStages: [
                    "appointmentscheduled": .init(stage: "appointment_scheduled", closed: false, won: false),
                    "qualifiedtobuy": .init(stage: "qualified", closed: false, won: false),
                    "presentationscheduled": .init(stage: "presentation", closed: false, won: false),
                    "decisionmakerboughtin": .init(stage: "decision_maker_bought_in", closed: false, won: false),
                    "contractsent": .init(stage: "contract_sent", closed: false, won: false),
                    "closedwon": .init(stage: "closed_won", closed: true, won: true),
                    "closedlost": .init(stage: "closed_lost", closed: true, won: false),
                ],
                activities: [
                    "email": .init(type: "email_sent", channel: "email"), "incoming_email": .init(type: "email_reply", channel: "email"),
                    "call": .init(type: "call", channel: "sales"), "meeting": .init(type: "meeting", channel: "sales"),
                    "task": .init(type: "task", channel: "sales"), "note": .init(type: "note", channel: "sales"),
                    "form_submission": .init(type: "form_submit", channel: nil), "page_view": .init(type: "page_view", channel: nil),
                ],
                campaignChannels: ["email": "email", "webinar": "webinar", "event": "event", "paid": "paid", "social": "social"],
                precedence: defaultPrecedence,
                writeback: [
                    "stage": "smarketing_lifecycle_stage", "score": "smarketing_score", "grade": "smarketing_grade",
                    "mql_date": "smarketing_mql_date", "owner": "hubspot_owner_id", "sla_status": "smarketing_sla_status",
                    "sla_breached": "smarketing_sla_breached", "rejection_reason": "smarketing_rejection_reason",
                ]
            )
        case .salesforce:
            return SyncMapping(
                vendor: vendor,
                lifecycle: [
                    "open - not contacted": .lead, "working - contacted": .sal, "closed - converted": .sql,
                    "closed - not converted": .disqualified,
                ],
                dealStages: [
                    "prospecting": .init(stage: "prospecting", closed: false, won: false),
                    "qualification": .init(stage: "qualification", closed: false, won: false),
                    "needs analysis": .init(stage: "needs_analysis", closed: false, won: false),
                    "value proposition": .init(stage: "value_proposition", closed: false, won: false),
                    "id. decision makers": .init(stage: "decision_makers", closed: false, won: false),
                    "perception analysis": .init(stage: "perception_analysis", closed: false, won: false),
                    "proposal/price quote": .init(stage: "proposal", closed: false, won: false),
                    "negotiation/review": .init(stage: "negotiation", closed: false, won: false),
                    "closed won": .init(stage: "closed_won", closed: true, won: true),
                    "closed lost": .init(stage: "closed_lost", closed: true, won: false),
                ],
                activities: [
                    "call": .init(type: "call", channel: "sales"), "email": .init(type: "email_sent", channel: "email"),
                    "meeting": .init(type: "meeting", channel: "sales"), "task": .init(type: "task", channel: "sales"),
                    "event": .init(type: "meeting", channel: "sales"), "listemail": .init(type: "email_sent", channel: "email"),
                ],
                campaignChannels: [
                    "email": "email", "webinar": "webinar", "conference": "event", "trade show": "event", "advertisement": "paid",
                    "banner ads": "paid", "direct mail": "direct_mail", "telemarketing": "outbound", "partners": "partner",
                    "referral program": "referral", "public relations": "pr",
                ],
                precedence: defaultPrecedence,
                writeback: [
                    "stage": "Smarketing_Stage__c", "score": "Smarketing_Score__c", "grade": "Smarketing_Grade__c",
                    "mql_date": "Smarketing_MQL_Date__c", "owner": "OwnerId", "sla_status": "Smarketing_SLA_Status__c",
                    "sla_breached": "Smarketing_SLA_Breached__c", "rejection_reason": "Smarketing_Rejection_Reason__c",
                ]
            )
        case .pipedrive:
            return SyncMapping(
                vendor: vendor,
                lifecycle: [:],
                dealStages: [:],
                activities: [
                    "call": .init(type: "call", channel: "sales"), "meeting": .init(type: "meeting", channel: "sales"),
                    "task": .init(type: "task", channel: "sales"), "deadline": .init(type: "task", channel: "sales"),
                    "email": .init(type: "email_sent", channel: "email"), "lunch": .init(type: "meeting", channel: "sales"),
                ],
                precedence: defaultPrecedence,
                // Custom person fields by name (Pipedrive keys them by a hash per account; the
                // connector looks the keys up); the owner is the standard owner_id.
                writeback: [
                    "stage": "smarketing stage", "score": "smarketing score", "grade": "smarketing grade", "mql_date": "smarketing MQL date",
                    "owner": "owner_id", "sla_status": "smarketing SLA status", "rejection_reason": "smarketing rejection reason",
                ]
            )
        case .marketo:
            return SyncMapping(
                vendor: vendor,
                lifecycle: [:],
                dealStages: [:],
                activities: [
                    "1": .init(type: "page_view", channel: "web"), "2": .init(type: "form_submit", channel: "web"),
                    "3": .init(type: "link_click", channel: "web"), "6": .init(type: "email_sent", channel: "email"),
                    "7": .init(type: "email_delivered", channel: "email"), "8": .init(type: "email_bounced", channel: "email"),
                    "9": .init(type: "unsubscribe", channel: "email"), "10": .init(type: "email_open", channel: "email"),
                    "11": .init(type: "email_click", channel: "email"), "46": .init(type: "interesting_moment", channel: nil),
                    "104": .init(type: "program_status", channel: nil),
                ],
                campaignChannels: ["webinar": "webinar", "email": "email", "event": "event", "nurture": "email"],
                precedence: defaultPrecedence,
                writeback: [
                    "stage": "smarketingStage", "score": "smarketingScore", "grade": "smarketingGrade", "mql_date": "smarketingMQLDate",
                    "sla_status": "smarketingSLAStatus", "rejection_reason": "smarketingRejectionReason",
                ]
            )
        case .pardot:
            return SyncMapping(
                vendor: vendor,
                lifecycle: ["visitor": .subscriber, "prospect": .lead, "mql": .mql, "sql": .sql, "won opportunity": .customer],
                dealStages: [:],
                activities: [
                    "1": .init(type: "email_click", channel: "email"), "2": .init(type: "page_view", channel: "web"),
                    "4": .init(type: "form_submit", channel: "web"), "6": .init(type: "email_sent", channel: "email"),
                    "11": .init(type: "email_open", channel: "email"), "12": .init(type: "unsubscribe", channel: "email"),
                    "13": .init(type: "email_bounced", channel: "email"), "20": .init(type: "page_view", channel: "web"),
                    "21": .init(type: "link_click", channel: "web"), "23": .init(type: "webinar_invited", channel: "webinar"),
                    "24": .init(type: "webinar_attended", channel: "webinar"), "25": .init(type: "webinar_registered", channel: "webinar"),
                    "28": .init(type: "event_registered", channel: "event"), "29": .init(type: "event_visit", channel: "event"),
                ],
                precedence: defaultPrecedence,
                // score and grade are editable prospect fields; the lifecycle stage is Pardot's own.
                writeback: ["score": "score", "grade": "grade"]
            )
        }
    }
}
