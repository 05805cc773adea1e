import SmarketingCore

/// Reads a scoring model from its file text (the connectors' YAML reader). The store keeps the
/// text of every version and needs this to use one.
public typealias ScoringModelParser = @Sendable (String) -> ScoringModel?

/// A stored scoring model version.
public struct ScoringVersion: Sendable, Hashable, Codable {
    public var version: Int
    /// `active`, `superseded`, `applying` or `failed`.
    public var status: String
    public var author: String
    public var createdAt: Timestamp
    public var appliedAt: Timestamp?
    public var comment: String
    /// The diff against the version before, as JSON text.
    public var diff: String
    /// The model file as written.
    public var text: String
}

/// What applying a model would change (or changed).
public struct ScoreDiff: Sendable, Hashable, Codable {
    /// The version compared against (nil: no model was active).
    public var currentVersion: Int?
    public var contacts: Int
    /// Contacts whose grade changes.
    public var gradeChanged: Int
    /// Grade moves and their counts, e.g. `"B→A": 12`.
    public var gradeMoves: [String: Int]
    /// Contacts whose automatically assigned persona changes.
    public var personaChanged: Int
    /// Contacts that would become MQL now (eligible stage, rule holds under the new model).
    public var newMQLs: Int
    /// The first of them, by id.
    public var newMQLSample: [String]
    /// Contacts that qualify under the current model but would not under the new one (stage
    /// moves are never undone; listed so nobody is surprised).
    public var stopQualifying: Int
    /// Grade counts after the change.
    public var grades: [String: Int]

    public init(currentVersion: Int?) {
        self.currentVersion = currentVersion
        contacts = 0
        gradeChanged = 0
        gradeMoves = [:]
        personaChanged = 0
        newMQLs = 0
        newMQLSample = []
        stopQualifying = 0
        grades = [:]
    }
}

/// Progress of a rescoring.
public struct RescoreProgress: Sendable {
    public var done: Int
    public var total: Int
}

/// The result of applying a model.
public struct ApplyResult: Sendable, Codable {
    public var version: Int
    public var diff: ScoreDiff
    public var rescored: Int
    /// Contacts moved to MQL by the new model.
    public var movedToMQL: Int
    /// Events that arrived while rescoring and were replayed into the new scores.
    public var caughtUpEvents: Int
    public var seconds: Double
}

/// One rule's part of an engagement score, for explanations.
public struct EngagementPart: Sendable, Hashable, Codable {
    public var rule: String
    public var count: Int
    public var rawPoints: Double
    public var cappedAway: Double
    public var grantedPoints: Double
    public var halfLifeDays: Double
    /// What the rule contributes at the explanation's time, decayed.
    public var contributionNow: Double
}

/// A stored stage move.
public struct StoredTransition: Sendable, Hashable, Codable {
    public var from: String?
    public var to: String
    public var at: Timestamp
    /// `rule:mql`, `user:u-1`, `import`, `connector:hubspot`, `system:opportunity o-1`.
    public var actor: String
    public var reason: String?
    public var modelVersion: Int?
}

/// A point of a contact's stored score history.
public struct ScoreHistoryPoint: Sendable, Hashable, Codable {
    public var at: Timestamp
    public var version: Int
    public var fit: Double
    public var grade: String
    public var engagement: Double
    /// What caused it: `touch`, `created`, `regrade`, `apply`, `mql`.
    public var event: String
}

/// Why a contact has its score: every fit rule, every engagement rule, history.
public struct ScoreExplanation: Sendable {
    public var contactID: String
    public var version: Int
    public var at: Timestamp
    public var stage: String?
    public var fitPoints: Double
    public var grade: String
    public var fit: [FitContribution]
    public var personaID: String?
    public var personaReasons: [String]
    public var engagement: Double
    public var engagementParts: [EngagementPart]
    public var qualifies: Bool
    public var mqlRule: String
    public var transitions: [StoredTransition]
    public var history: [ScoreHistoryPoint]
    /// Engagement after each touch under the active model (the fine-grained curve).
    public var replay: [ScoreHistoryPoint]
}

/// What a backtest compares against.
public enum BacktestTarget: String, Sendable, CaseIterable {
    case opportunity, won
}

/// Scoring models, scores, stages and their history.
public protocol ScoringStore: Sendable {

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
    /// The history a backtest replays (`attributes`: the profile attributes to read; nil: all).
    func backtestContacts(target: BacktestTarget, attributes: Set<String>?) async throws -> [BacktestContact]
    /// The sum of the sales users' capacity.
    func salesCapacity() async throws -> Double?
}
