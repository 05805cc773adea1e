/// What an engagement rule can see of a touchpoint.
public struct TouchFacts: Sendable, Hashable {
    public var id: String
    public var at: Timestamp
    public var type: String
    public var channel: String?
    public var campaignID: String?
    public var contentID: String?
    /// The funnel stage of the touch's content (`tofu`, `mofu`, `bofu`).
    public var contentStage: String?
    /// Top-level string properties of the touch (`url`, `form`, …).
    public var properties: [String: String]
    /// Set for sales activities.
    public var actorID: String?
    /// The `url` property lower-cased once, as UTF-8, for the rules' patterns.
    public var lowercasedURL: [UInt8]?
    /// The type's number in the model + 1 when known (0: look it up; -1... never).
    var typeNumber = 0

    /// Creates facts.
    public init(
        id: String,
        at: Timestamp,
        type: String,
        channel: String? = nil,
        campaignID: String? = nil,
        contentID: String? = nil,
        contentStage: String? = nil,
        properties: [String: String] = [:],
        actorID: String? = nil
    ) {
        self.init(
            url: properties["url"],
            typeNumber: nil,
            id: id,
            at: at,
            type: type,
            channel: channel,
            campaignID: campaignID,
            contentID: contentID,
            contentStage: contentStage,
            properties: properties,
            actorID: actorID
        )
    }

    /// Creates facts whose only property the rules need is the url (no property map is built),
    /// with the touch's type number in `model` looked up already.
    public init(
        url: String?,
        typeNumber: Int?,
        id: String,
        at: Timestamp,
        type: String,
        channel: String?,
        campaignID: String?,
        contentID: String?,
        contentStage: String?,
        properties: [String: String],
        actorID: String?
    ) {
        self.id = id
        self.at = at
        self.type = type
        self.channel = channel
        self.campaignID = campaignID
        self.contentID = contentID
        self.contentStage = contentStage
        self.properties = properties
        self.actorID = actorID
        self.lowercasedURL = url.map { TouchFacts.lowercasedBytes($0) }
        self.typeNumber = typeNumber.map { $0 + 1 } ?? 0
    }

    /// ASCII letters lower-cased on the bytes; other text through Foundation.
    static func lowercasedBytes(_ s: String) -> [UInt8] {
        var bytes = Array(s.utf8)
        for i in bytes.indices {
            let b = bytes[i]
            if b >= 0x80 { return Array(s.lowercased().utf8) }
            if b >= 65, b <= 90 { bytes[i] = b + 32 }
        }
        return bytes
    }
}

/// What of a touch the rules that can match it look at.
public struct TouchNeeds: Sendable, Hashable {
    public var url: Bool
    public var properties: Bool
    public var contentStage: Bool
}

/// An engagement rule: points for touches that match every condition given.
public struct EngagementRule: Sendable, Hashable {
    public var id: String
    public var points: Double
    /// Touch types (any of them); nil: any type.
    public var types: [String]?
    /// A `*` pattern on the `url` property (`/pricing*`, `*/careers*`).
    public var url: String?
    public var channels: [String]?
    public var campaigns: [String]?
    public var contentStages: [String]?
    /// Property patterns that must all match (`form: demo*`).
    public var properties: [String: String]
    public var caps: PointCaps
    /// Overrides the model's half-life (milliseconds); 0 means no decay is not allowed — use a long one.
    public var halfLife: Int64?

    /// Creates a rule.
    public init(
        id: String,
        points: Double,
        types: [String]? = nil,
        url: String? = nil,
        channels: [String]? = nil,
        campaigns: [String]? = nil,
        contentStages: [String]? = nil,
        properties: [String: String] = [:],
        caps: PointCaps = PointCaps(),
        halfLife: Int64? = nil
    ) {
        self.id = id
        self.points = points
        self.types = types
        self.url = url
        self.channels = channels
        self.campaigns = campaigns
        self.contentStages = contentStages
        self.properties = properties
        self.caps = caps
        self.halfLife = halfLife
    }

    /// Whether the touch meets every condition of the rule.
    public func matches(_ t: TouchFacts) -> Bool {
        guard Self.within(types, t.type) else { return false }
        if let url {
            guard let u = t.lowercasedURL, GlobPattern(url.lowercased()).matches(u) else { return false }
        }
        return matchesOtherConditions(t)
    }

    static func within(_ list: [String]?, _ value: String?) -> Bool {
        guard let list else { return true }
        guard let value else { return false }
        return list.contains(value)
    }

    /// The conditions besides type and URL (which `EngagementModel` checks in compiled form).
    func matchesOtherConditions(_ t: TouchFacts) -> Bool {
        guard Self.within(channels, t.channel), Self.within(campaigns, t.campaignID), Self.within(contentStages, t.contentStage)
        else { return false }
        for (key, pattern) in properties {
            guard let v = t.properties[key], Glob.matches(pattern.lowercased(), v.lowercased()) else { return false }
        }
        return true
    }
}

/// One rule's part in a contact's engagement: raw points, how many touches, what the caps cut,
/// and the decayed contribution at any time.
public struct RuleEngagement: Sendable, Hashable {
    public var ruleID: String
    /// The rule's points per touch.
    public var points: Double
    public var count = 0
    public var score: EngagementScore
    public var ledger: CapLedger?

    /// Points before caps: every matching touch at full points.
    public var rawPoints: Double { Double(count) * points }
    /// Points the caps let through.
    public var grantedPoints: Double { ledger?.grantedTotal ?? rawPoints }
    /// Points the caps took away.
    public var cappedAway: Double { rawPoints - grantedPoints }
}

/// A contact's engagement under a model: one decayed score per rule, so that the total is exact
/// with per-rule half-lives and every point can be explained. Touches reach it once: the ingest
/// drops re-sent touchpoint ids before any reaction, and capped rules also ignore a repeated id.
public struct EngagementState: Sendable, Hashable {
    /// Per rule, in the model's rule order (nil until a rule first matches).
    public private(set) var slots: [RuleEngagement?] = []

    /// An empty state.
    public init() {}

    /// A stored state.
    init(slots: [RuleEngagement?]) { self.slots = slots }

    /// The rules that matched so far, by rule id.
    public var rules: [String: RuleEngagement] {
        Dictionary(uniqueKeysWithValues: slots.compactMap { $0 }.map { ($0.ruleID, $0) })
    }

    /// The engagement score at `t`.
    public func value(at t: Timestamp) -> Double { slots.reduce(0) { $0 + ($1?.score.value(at: t) ?? 0) } }

    /// Applies a touch under `model`; returns the ids of the rules it matched (for tests and
    /// explanations; scoring uses `add`).
    @discardableResult
    public mutating func apply(_ touch: TouchFacts, model: EngagementModel) -> [String] {
        let before = slots.map { $0?.count ?? 0 }
        add(touch, model: model)
        return slots.indices.compactMap { i in (slots[i]?.count ?? 0) > (i < before.count ? before[i] : 0) ? model.rules[i].id : nil }
    }

    /// Adds a touch under `model`: only the rules that can match its type are checked, and each
    /// matching rule's slot changes in place.
    public mutating func add(_ touch: TouchFacts, model: EngagementModel) {
        if slots.count < model.rules.count { slots += Array(repeating: nil, count: model.rules.count - slots.count) }
        let typeID = touch.typeNumber > 0 ? touch.typeNumber - 1 : model.typeIDs[touch.type]
        let candidates = typeID.map { model.rulesForType[$0] } ?? model.anyTypeRules
        for i in candidates {
            if let pattern = model.urlPatterns[i] {
                guard let u = touch.lowercasedURL, pattern.matches(u) else { continue }
            }
            if model.hasOtherConditions[i], !model.rules[i].matchesOtherConditions(touch) { continue }
            let points = model.rules[i].points
            if slots[i] == nil {
                let rule = model.rules[i]
                slots[i] = RuleEngagement(
                    ruleID: rule.id,
                    points: points,
                    score: EngagementScore(halfLife: rule.halfLife ?? model.halfLife),
                    ledger: rule.caps.isEmpty ? nil : CapLedger(caps: rule.caps)
                )
            }
            if slots[i]!.ledger != nil {
                var accepted = false
                var score = slots[i]!.score
                slots[i]!.ledger!.record(id: touch.id, at: touch.at, points: points) { t, delta in
                    accepted = true
                    score.add(delta, at: t)
                }
                if !accepted { continue }  // a re-sent touch
                slots[i]!.score = score
            } else {
                slots[i]!.score.add(points, at: touch.at)
            }
            slots[i]!.count += 1
        }
    }
}

/// The engagement part of a scoring model, with its rules compiled for matching: touch types
/// become small integers looked up once per touch, URL patterns are lower-cased once.
public final class EngagementModel: Sendable, Hashable {
    public let rules: [EngagementRule]
    /// Default half-life in milliseconds.
    public let halfLife: Int64
    /// Every touch type a rule names, numbered.
    let typeIDs: [String: Int]
    /// Per rule: the allowed type numbers (nil: any type).
    let allowedTypes: [[Bool]?]
    /// Per rule: the URL pattern, lower-cased and compiled.
    let urlPatterns: [GlobPattern?]
    /// Per type number: the rules that may match a touch of that type, in rule order.
    let rulesForType: [[Int]]
    /// The rules that name no type (all a touch of an unnamed type can match).
    let anyTypeRules: [Int]
    /// Per rule: whether it has conditions besides type and url.
    let hasOtherConditions: [Bool]
    /// Per type number (and, last, for types no rule names): what the candidate rules look at.
    let needsByType: [TouchNeeds]

    /// Creates a model.
    public init(rules: [EngagementRule], halfLife: Int64) {
        self.rules = rules
        self.halfLife = halfLife
        var ids: [String: Int] = [:]
        for rule in rules { for t in rule.types ?? [] where ids[t] == nil { ids[t] = ids.count } }
        typeIDs = ids
        allowedTypes = rules.map { rule in
            rule.types.map { types in
                var allowed = [Bool](repeating: false, count: ids.count)
                for t in types { allowed[ids[t]!] = true }
                return allowed
            }
        }
        urlPatterns = rules.map { $0.url.map { GlobPattern($0.lowercased()) } }
        anyTypeRules = rules.indices.filter { rules[$0].types == nil }
        rulesForType = (0..<ids.count).map { t in rules.indices.filter { rules[$0].types.map { types in types.contains { ids[$0] == t } } ?? true } }
        hasOtherConditions = rules.map { r in r.channels != nil || r.campaigns != nil || r.contentStages != nil || !r.properties.isEmpty }
        func needs(_ candidates: [Int]) -> TouchNeeds {
            TouchNeeds(
                url: candidates.contains { rules[$0].url != nil },
                properties: candidates.contains { !rules[$0].properties.isEmpty },
                contentStage: candidates.contains { rules[$0].contentStages != nil }
            )
        }
        needsByType = rulesForType.map(needs) + [needs(anyTypeRules)]
    }

    /// What the rules that can match a touch of `type` look at, so that a caller builds only
    /// those facts (no url parsing for an email click when only page rules read urls).
    public func needs(forType type: String) -> TouchNeeds { needsByType[typeIDs[type] ?? needsByType.count - 1] }

    /// Whether any rule could match the touch (its type number is used when known).
    public func anyRuleCanMatch(_ touch: TouchFacts) -> Bool {
        if touch.typeNumber > 0 { return !rulesForType[touch.typeNumber - 1].isEmpty }
        return anyRuleCanMatch(type: touch.type)
    }

    /// Whether any rule could match a touch of `type`.
    public func anyRuleCanMatch(type: String) -> Bool {
        if let n = typeIDs[type] { return !rulesForType[n].isEmpty }
        return !anyTypeRules.isEmpty
    }

    /// The type's number (nil: no rule names it) and what its candidate rules look at.
    public func lookup(type: String) -> (number: Int?, needs: TouchNeeds) {
        let n = typeIDs[type]
        return (n, needsByType[n ?? needsByType.count - 1])
    }

    /// Whether rule `i` matches the touch (`typeID`: the touch's type number, if any rule names it).
    func matches(_ i: Int, _ t: TouchFacts, typeID: Int?) -> Bool {
        if let allowed = allowedTypes[i] {
            guard let typeID, allowed[typeID] else { return false }
        }
        if let pattern = urlPatterns[i] {
            guard let u = t.lowercasedURL, pattern.matches(u) else { return false }
        }
        return rules[i].matchesOtherConditions(t)
    }

    public static func == (a: EngagementModel, b: EngagementModel) -> Bool { a.rules == b.rules && a.halfLife == b.halfLife }
    public func hash(into h: inout Hasher) {
        h.combine(rules)
        h.combine(halfLife)
    }
}
