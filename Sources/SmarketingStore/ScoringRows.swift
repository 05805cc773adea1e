import Foundation
import SmarketingCore

/// The scorer in use, cached per process and checked against the database once per transaction
/// (another process may have applied a model or changed a persona).
struct CachedScorer: Sendable {
    var version: Int
    var personasGeneration: String
    var scorer: Scorer
}

/// One contact's fresh scoring result in a rescoring pass.
struct Rescored {
    var contactID: String
    var state: ContactScore
    var stage: LifecycleStage?
    var recycledAt: Timestamp?
    var storedPersona: String?
    var profile: ContactProfile
}

/// A contact's current score as a diff compares it: grade, assigned persona, and whether the
/// active model's MQL rule holds now.
typealias CurrentScore = (grade: String, assigned: String?, qualifies: Bool)

extension Scorer {
    /// Whether any rule looks at touch properties (else they are not parsed at all).
    var needsProperties: Bool { needsURL || needsPropertyMap }
}

/// What both backends read and compute the same way around scoring: a profile from the contact
/// and account columns, a diff's counts, a score's explanation.
enum ScoringRows {
    /// Settings keys: the active model version, and a token every persona edit changes.
    static let scoringVersionKey = "scoring_version"
    static let personasGenerationKey = "personas_generation"

    /// `SELECT` of every contact column then every account column (the profile's input).
    static let profileSelect: String = {
        let c = Resource.contacts.schema.fields.map { "c.\($0.name)" }
        let a = Resource.accounts.schema.fields.map { "a.\($0.name)" }
        return "SELECT \((c + a).joined(separator: ", ")) FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id"
    }()

    /// `SELECT` of a contact's touches for scoring (contact id first, then `touch(...)`'s columns).
    static let touchSelect = """
        SELECT t.contact_id, t.id, t.occurred_at, t.type, t.channel, t.campaign_id, t.content_id, t.actor_id, t.properties, k.funnel_stage
        FROM touchpoints t LEFT JOIN content k ON k.id = t.content_id
        """

    /// A contact's profile, stage, recycling time and persona column from a `profileSelect` row,
    /// given how to read its cells. `only` limits the attributes read: bulk passes read just
    /// what the model looks at, since turning every column into text costs more than scoring.
    static func profile(_ cell: (Int, FieldType) -> FieldValue, only: Set<String>? = nil) -> (ContactProfile, LifecycleStage?, Timestamp?, String?) {
        let cf = Resource.contacts.schema.fields
        let af = Resource.accounts.schema.fields
        var contact: [String: String] = [:]
        var account: [String: String] = [:]
        let always: Set<String> = ["lifecycle_stage", "recycled_at", "persona_id"]
        for (i, f) in cf.enumerated() {
            if let only, !always.contains(f.name), !only.contains("contact." + f.name) { continue }
            let v = cell(i, f.type)
            if v != .null { contact[f.name] = v.csvText }
        }
        for (i, f) in af.enumerated() {
            if let only, !only.contains("account." + f.name) { continue }
            let v = cell(cf.count + i, f.type)
            if v != .null { account[f.name] = v.csvText }
        }
        let stage = contact["lifecycle_stage"].flatMap(LifecycleStage.init(rawValue:))
        let recycled = contact["recycled_at"].flatMap { try? Timestamp.parse($0).get() }
        return (ContactProfile(contact: contact, account: account), stage, recycled, contact["persona_id"])
    }

    /// A touch from a `touchSelect` row's columns 1…9.
    static func touch(
        id: String,
        at: Int64,
        type: String,
        channel: String?,
        campaignID: String?,
        contentID: String?,
        actorID: String?,
        properties: String?,
        contentStage: String?,
        parseProperties: Bool
    ) -> TouchFacts {
        var props: [String: String] = [:]
        if parseProperties, let properties { props = JSONObjectCheck.topLevelStrings(properties) ?? [:] }
        return TouchFacts(
            id: id,
            at: Timestamp(milliseconds: at),
            type: type,
            channel: channel,
            campaignID: campaignID,
            contentID: contentID,
            contentStage: contentStage,
            properties: props,
            actorID: actorID
        )
    }

    /// The engagement a score shows when stored (its value at its latest counted touch).
    static func storedEngagement(_ s: ContactScore) -> Double { s.latest.map { s.engagement.value(at: $0) } ?? 0 }

    /// Why a contact has its score now. `stored` is its stored state when it was scored under
    /// the active version (else the score is replayed from `touches`); `lastAssigned` the persona
    /// scoring last assigned it (nil when it has no score row).
    static func explanation(
        scorer: Scorer,
        contactID: String,
        profile: ContactProfile,
        stage: LifecycleStage?,
        touches: [TouchFacts],
        stored: ContactScore?,
        lastAssigned: String?,
        transitions: [StoredTransition],
        history: [ScoreHistoryPoint],
        at now: Timestamp
    ) -> ScoreExplanation {
        let state = stored ?? scorer.replay(profile, touches: touches, lastAssigned: lastAssigned)
        // Persona reasons are not stored: matching the profile again gives them.
        var persona = state
        scorer.regrade(&persona, profile, lastAssigned: lastAssigned)
        var replay: [ScoreHistoryPoint] = []
        var running = scorer.newState(profile, lastAssigned: lastAssigned)
        for t in touches {
            scorer.add(t, to: &running)
            replay.append(
                ScoreHistoryPoint(
                    at: t.at,
                    version: scorer.version,
                    fit: running.fitPoints,
                    grade: running.grade,
                    engagement: running.engagement.value(at: t.at),
                    event: "touch"
                )
            )
        }
        let parts: [EngagementPart] = state.engagement.slots.compactMap { slot in
            guard let r = slot else { return nil }
            return EngagementPart(
                rule: r.ruleID,
                count: r.count,
                rawPoints: r.rawPoints,
                cappedAway: r.cappedAway,
                grantedPoints: r.grantedPoints,
                halfLifeDays: Double(r.score.halfLife) / 86_400_000,
                contributionNow: r.score.value(at: now)
            )
        }
        return ScoreExplanation(
            contactID: contactID,
            version: scorer.version,
            at: now,
            stage: stage?.rawValue,
            fitPoints: state.fitPoints,
            grade: state.grade,
            fit: scorer.fit(profile, persona: state.personaID).contributions,
            personaID: persona.personaID,
            personaReasons: persona.personaReasons,
            engagement: state.engagement.value(at: now),
            engagementParts: parts,
            qualifies: scorer.qualifies(state, at: now),
            mqlRule: scorer.model.mqlText,
            transitions: transitions,
            history: history,
            replay: Array(replay.suffix(500))
        )
    }

    /// The queries that say when contacts reached a backtest target (PRODUCT.md): the
    /// `became_*_at` time, else the creation (opportunity) or winning close (won) of the first
    /// deal it is a contact or the primary contact of. Each returns (contact id, time); the
    /// earliest wins (`earliest`).
    static func reachedQueries(_ target: BacktestTarget) -> (own: String, deals: [String]) {
        switch target {
        case .opportunity:
            return (
                "SELECT id, became_opportunity_at FROM contacts WHERE became_opportunity_at IS NOT NULL",
                [
                    "SELECT oc.contact_id, min(o.created_at) FROM opportunity_contacts oc JOIN opportunities o ON o.id = oc.opportunity_id GROUP BY 1",
                    "SELECT primary_contact_id, min(created_at) FROM opportunities WHERE primary_contact_id IS NOT NULL GROUP BY 1",
                ]
            )
        case .won:
            return (
                "SELECT id, became_customer_at FROM contacts WHERE became_customer_at IS NOT NULL",
                [
                    "SELECT oc.contact_id, min(o.closed_at) FROM opportunity_contacts oc JOIN opportunities o ON o.id = oc.opportunity_id WHERE o.is_won = 1 AND o.closed_at IS NOT NULL GROUP BY 1",
                    "SELECT primary_contact_id, min(closed_at) FROM opportunities WHERE primary_contact_id IS NOT NULL AND is_won = 1 AND closed_at IS NOT NULL GROUP BY 1",
                ]
            )
        }
    }

    /// When each contact reached the target (`ReachedRule`), from the rows of `reachedQueries`:
    /// its own stage time, else the earliest of its deals'.
    static func reached(own: [(String, Int64)], deals: [[(String, Int64)]]) -> [String: Int64] {
        var firstDeal: [String: Int64] = [:]
        for rows in deals { earliest(rows, into: &firstDeal) }
        var mine: [String: Int64] = [:]
        earliest(own, into: &mine)
        return ReachedRule.merge(own: mine, firstDeal: firstDeal)
    }

    /// Keeps the earlier time per contact.
    static func earliest(_ rows: [(String, Int64)], into reached: inout [String: Int64]) {
        for (id, t) in rows {
            if let known = reached[id], known <= t { continue }
            reached[id] = t
        }
    }
}

extension ScoreDiff {
    /// Adds what a contact's rescoring means for the diff.
    mutating func count(_ r: Rescored, current: CurrentScore?, scorer: Scorer, at now: Timestamp) {
        contacts += 1
        grades[r.state.grade, default: 0] += 1
        if let current {
            if current.grade != r.state.grade {
                gradeChanged += 1
                gradeMoves["\(current.grade)→\(r.state.grade)", default: 0] += 1
            }
            if current.assigned != r.state.assignedPersona { personaChanged += 1 }
        } else {
            gradeChanged += 1
            gradeMoves["(none)→\(r.state.grade)", default: 0] += 1
            if r.state.assignedPersona != nil { personaChanged += 1 }
        }
        let qualifiesNew = scorer.qualifies(r.state, at: now)
        if scorer.mqlMove(stage: r.stage, recycledAt: r.recycledAt, state: r.state, at: now) != nil {
            newMQLs += 1
            if newMQLSample.count < 100 { newMQLSample.append(r.contactID) }
        }
        if current?.qualifies == true, !qualifiesNew { stopQualifying += 1 }
    }
}
