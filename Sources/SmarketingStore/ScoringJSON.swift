import SmarketingCore

/// A backtest report as JSON (without the per-contact scores; `--csv` writes those).
public struct BacktestJSON: Encodable, Sendable {
    public var modelVersion: Int?
    public var contacts, labelled, positives, censored, convertedAtStart, weeks: Int
    public var auc: Double?
    public var thresholds: [ThresholdResult]
    public var rule: ThresholdResult
    public var lift: [LiftDecile]
    public var recommended: ThresholdResult?

    public init(_ r: BacktestReport) {
        modelVersion = r.modelVersion
        contacts = r.contacts
        labelled = r.labelled
        positives = r.positives
        censored = r.censored
        convertedAtStart = r.convertedAtStart
        weeks = r.weeks
        auc = r.auc
        thresholds = r.thresholds
        rule = r.rule
        lift = r.lift
        recommended = r.recommended
    }
}

/// A score explanation as JSON (the API's shape).
public struct ScoreJSON: Encodable, Sendable {
    public struct Fit: Encodable, Sendable {
        public var rule: String
        public var attribute: String
        public var value: String?
        public var matched: Bool
        public var points: Double
    }
    public var contactId: String
    public var modelVersion: Int
    public var at: String
    public var stage: String?
    public var fit: Double
    public var grade: String
    public var fitRules: [Fit]
    public var persona: String?
    public var personaReasons: [String]
    public var engagement: Double
    public var engagementRules: [EngagementPart]
    public var mqlRule: String
    public var qualifies: Bool
    public var transitions: [StoredTransition]
    public var history: [ScoreHistoryPoint]
    public var replay: [ScoreHistoryPoint]

    public init(_ e: ScoreExplanation) {
        contactId = e.contactID
        modelVersion = e.version
        at = e.at.iso8601
        stage = e.stage
        fit = e.fitPoints
        grade = e.grade
        fitRules = e.fit.map { Fit(rule: $0.ruleID, attribute: $0.attribute, value: $0.value, matched: $0.matched, points: $0.points) }
        persona = e.personaID
        personaReasons = e.personaReasons
        engagement = e.engagement
        engagementRules = e.engagementParts
        mqlRule = e.mqlRule
        qualifies = e.qualifies
        transitions = e.transitions
        history = e.history
        replay = e.replay
    }
}
