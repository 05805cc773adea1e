/// What scoring sees of a contact and its account: attribute texts by name (`contact.title`,
/// `account.employees`, …), empty values left out.
public struct ContactProfile: Sendable, Hashable {
    public var attributes: [String: String]

    /// Creates a profile from the contact's and the account's fields (texts, empty ones dropped).
    public init(contact: [String: String], account: [String: String] = [:]) {
        var a: [String: String] = [:]
        for (k, v) in contact where !v.isEmpty { a["contact." + k] = v }
        for (k, v) in account where !v.isEmpty { a["account." + k] = v }
        attributes = a
    }

    public subscript(_ name: String) -> String? { attributes[name] }

    /// What persona matching sees.
    var personaFacts: PersonaFacts {
        PersonaFacts(
            title: attributes["contact.title"],
            industry: attributes["account.industry"],
            country: attributes["contact.country"] ?? attributes["account.country"],
            employees: attributes["account.employees"].flatMap(Double.init)
        )
    }
}

/// A contact's scoring state under one model version — what the store keeps per contact.
///
/// Engagement is one decayed (value, reference time) pair per rule (`EngagementState`), so the
/// score at any time is O(1) to read and every touch is O(1) to add. Fit and persona are
/// recomputed whenever the contact or its account changes.
public struct ContactScore: Sendable, Hashable {
    /// The model version that produced this state.
    public var version: Int
    public var fitPoints: Double
    public var grade: String
    /// The persona the contact carries: the best match, or one set by hand.
    public var personaID: String?
    /// Why (the rules that held, or "set by hand").
    public var personaReasons: [String]
    /// The best-matching persona, whatever the contact carries.
    public var assignedPersona: String?
    /// Whether a person chose the persona (matching then leaves it alone).
    public var personaByHand = false
    public var engagement: EngagementState
    /// The time of the latest touch of a type some rule looks at (nil: none yet).
    public var latest: Timestamp?

    /// Creates an empty state.
    public init(version: Int, fitPoints: Double = 0, grade: String, personaID: String? = nil, personaReasons: [String] = []) {
        self.version = version
        self.fitPoints = fitPoints
        self.grade = grade
        self.personaID = personaID
        self.personaReasons = personaReasons
        self.engagement = EngagementState()
        self.latest = nil
    }
}

/// One model version at work: grades, assigns personas, adds touches and decides the MQL rule.
/// Pure and deterministic; the store calls it inside its transactions. A class so that passing
/// it around per event costs one reference count, not one per array of the model.
public final class Scorer: Sendable {
    public let model: ScoringModel
    public let version: Int
    public let personas: [PersonaDefinition]
    /// Grades best first, computed once.
    let gradeOrder: [String]
    /// The MQL rule, cheap conditions first.
    let mqlRule: MQLRule
    /// Whether rules look at touch properties other than `url`.
    public let needsPropertyMap: Bool
    /// Whether any rule looks at the `url` property.
    public let needsURL: Bool
    /// The contact and account attributes fit rules and persona matching read.
    public let attributes: Set<String>

    /// Creates a scorer for a model version and the workspace's personas.
    public init(model: ScoringModel, version: Int, personas: [PersonaDefinition]) {
        self.model = model
        self.version = version
        self.personas = personas.sorted { $0.id < $1.id }
        gradeOrder = model.fit.bands.order
        mqlRule = model.mql.cheapFirst
        needsPropertyMap = model.engagement.rules.contains { !$0.properties.isEmpty }
        needsURL = model.engagement.rules.contains { $0.url != nil }
        attributes = Set(model.fit.rules.map(\.attribute)).union([
            "contact.title", "contact.country", "contact.persona_id", "contact.account_id", "account.industry", "account.employees",
            "account.country",
        ])
    }

    /// The fit of a contact, with the persona it carries (`contact.persona_id` in rules).
    public func fit(_ profile: ContactProfile, persona: String?) -> FitEvaluation {
        model.fit.evaluate { name in name == "contact.persona_id" ? persona : profile[name] }
    }

    /// Grades a contact anew (persona and fit), keeping its engagement. `lastAssigned` is the
    /// persona scoring assigned before: a stored persona other than that was set by hand and is
    /// kept; otherwise the contact carries its best match (or none).
    public func regrade(_ state: inout ContactScore, _ profile: ContactProfile, lastAssigned: String?) {
        let match = PersonaMatcher.best(personas, profile.personaFacts)
        state.assignedPersona = match?.personaID
        let stored = profile["contact.persona_id"]
        if let stored, stored != lastAssigned {
            state.personaID = stored
            state.personaByHand = true
            state.personaReasons = ["set by hand"]
        } else {
            state.personaID = match?.personaID
            state.personaByHand = false
            state.personaReasons = match?.reasons ?? []
        }
        let f = fit(profile, persona: state.personaID)
        state.fitPoints = f.points
        state.grade = f.grade
    }

    /// A fresh state for a contact with no touches counted yet.
    public func newState(_ profile: ContactProfile, lastAssigned: String?) -> ContactScore {
        var s = ContactScore(version: version, grade: model.fit.bands.lowest)
        regrade(&s, profile, lastAssigned: lastAssigned)
        return s
    }

    /// Counts a touch (constant time for touches in time order; see `CapLedger` for late ones).
    /// `latest` follows only touches some rule could match (touches of other types change
    /// nothing, and the ingest skips them).
    public func add(_ touch: TouchFacts, to state: inout ContactScore) {
        guard model.engagement.anyRuleCanMatch(touch) else { return }
        state.engagement.add(touch, model: model.engagement)
        if state.latest == nil || touch.at > state.latest! { state.latest = touch.at }
    }

    /// The engagement score at `t`.
    public func engagement(_ state: ContactScore, at t: Timestamp) -> Double { state.engagement.value(at: t) }

    /// Whether the MQL rule holds at `t`.
    public func qualifies(_ state: ContactScore, at t: Timestamp) -> Bool {
        // Only the engagement goes into the closure: capturing the whole state copies it.
        let engagement = state.engagement
        return mqlRule.holds(
            MQLRule.Facts(engagement: 0, fit: state.fitPoints, grade: state.grade, persona: state.personaID, gradeOrder: gradeOrder)
        ) { engagement.value(at: t) }
    }

    /// The stage move the MQL rule makes for a contact in `stage`, if any. Only subscribers and
    /// leads (and contacts without a stage) are moved; a recycled contact qualifies again only on
    /// engagement after its recycling (`latestTouch` later than `recycledAt`); later stages
    /// already passed MQL.
    public func mqlMove(
        stage: LifecycleStage?,
        recycledAt: Timestamp?,
        state: ContactScore,
        at: Timestamp
    ) -> LifecycleTransition? {
        switch stage {
        case nil, .subscriber?, .lead?: break
        case .recycled?:
            guard let latest = state.latest, let recycledAt, latest > recycledAt else { return nil }
        default: return nil
        }
        guard qualifies(state, at: at) else { return nil }
        let reason = "\(model.mqlText) (engagement \(Self.format(state.engagement.value(at: at))), fit \(Self.format(state.fitPoints)), grade \(state.grade))"
        return try? Lifecycle.move(from: stage, to: .mql, at: at, actor: .rule("mql"), reason: reason, modelVersion: version).get()
    }

    /// Scores a contact from scratch: its profile and its touches (any order).
    public func replay(_ profile: ContactProfile, touches: [TouchFacts], lastAssigned: String? = nil) -> ContactScore {
        var s = newState(profile, lastAssigned: lastAssigned)
        for t in touches { add(t, to: &s) }
        return s
    }

    static func format(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}

extension GradeBands {
    /// Grades best first, the lowest last.
    public var order: [String] { bands.map(\.grade) + (bands.contains { $0.grade == lowest } ? [] : [lowest]) }
}
