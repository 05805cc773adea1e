import Foundation
import GRDB
import SmarketingCore
import Synchronization

extension SQLiteStore {
    static let scoringVersionKey = ScoringRows.scoringVersionKey
    static let personasGenerationKey = ScoringRows.personasGenerationKey

    /// The active scorer, or nil when no model has been applied (or the store cannot read models).
    func activeScorer(_ db: Database) throws -> Scorer? {
        guard let parser = modelParser else { return nil }
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT key, value FROM settings WHERE key IN (?, ?)"),
            arguments: [Self.scoringVersionKey, Self.personasGenerationKey]
        )
        var version: Int?
        var generation = ""
        for row in rows {
            let key: String = row[0]
            if key == Self.scoringVersionKey { version = Int(row[1] as String) } else { generation = row[1] }
        }
        guard let version else { return nil }
        if let cached = scorerCache.withLock({ $0 }), cached.version == version, cached.personasGeneration == generation {
            return cached.scorer
        }
        guard let text = try String.fetchOne(db, sql: "SELECT text FROM scoring_models WHERE version = ?", arguments: [version]),
            let model = parser(text)
        else { throw StoreError.invalid("the active scoring model (version \(version)) cannot be read") }
        let scorer = Scorer(model: model, version: version, personas: try Self.personas(db))
        scorerCache.withLock { $0 = CachedScorer(version: version, personasGeneration: generation, scorer: scorer) }
        return scorer
    }

    /// The workspace's persona definitions (unknown rule keys are ignored here; the API reports them).
    static func personas(_ db: Database) throws -> [PersonaDefinition] {
        try Row.fetchAll(db, sql: "SELECT id, rules FROM personas ORDER BY id").map { row in
            let id: String = row[0]
            let text: String? = row[1]
            let rules = text.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) } ?? .object([:])
            return PersonaDefinition.from(id: id, rules: rules).0
        }
    }

    /// Marks persona definitions changed, so every process reloads them.
    static func bumpPersonas(_ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            arguments: [personasGenerationKey, UUID().uuidString]
        )
    }

    // MARK: Reading contacts and touches

    static let profileSelect = ScoringRows.profileSelect

    /// A contact's profile and stage from a `profileSelect` row (see `ScoringRows.profile`).
    static func profile(_ row: Row, only: Set<String>? = nil) -> (ContactProfile, LifecycleStage?, Timestamp?, String?) {
        ScoringRows.profile({ i, type in SQLiteValue.field(row[i], type) }, only: only)
    }

    static func loadProfile(_ db: Database, _ contactID: String) throws -> (ContactProfile, LifecycleStage?, Timestamp?, String?)? {
        try Row.fetchOne(db.cachedStatement(sql: profileSelect + " WHERE c.id = ?"), arguments: [contactID]).map { profile($0) }
    }

    static let touchSelect = ScoringRows.touchSelect

    static func touch(_ row: Row, properties: Bool) -> TouchFacts {
        ScoringRows.touch(
            id: row[1],
            at: row[2],
            type: row[3],
            channel: row[4],
            campaignID: row[5],
            contentID: row[6],
            actorID: row[7],
            properties: row[8],
            contentStage: row[9],
            parseProperties: properties
        )
    }

    static func loadTouches(_ db: Database, _ contactID: String, properties: Bool) throws -> [TouchFacts] {
        try Row.fetchAll(db.cachedStatement(sql: touchSelect + " WHERE t.contact_id = ? ORDER BY t.occurred_at, t.id"), arguments: [contactID])
            .map { touch($0, properties: properties) }
    }

    // MARK: Writing scores, history and stage moves

    static let saveScoreSQL = """
        INSERT INTO contact_scores(contact_id, version, fit, grade, engagement, latest, persona_id, state)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(contact_id) DO UPDATE SET version = excluded.version, fit = excluded.fit, grade = excluded.grade,
          engagement = excluded.engagement, latest = excluded.latest, persona_id = excluded.persona_id, state = excluded.state
        """

    static func saveScore(_ db: Database, _ contactID: String, _ s: ContactScore) throws {
        let engagement = s.latest.map { s.engagement.value(at: $0) } ?? 0
        try db.cachedStatement(sql: saveScoreSQL).execute(arguments: [
            contactID, s.version, s.fitPoints, s.grade, engagement, s.latest?.milliseconds, s.assignedPersona, Data(ScoreCodec.encode(s)),
        ])
    }

    static func history(_ db: Database, _ contactID: String, _ s: ContactScore, at: Timestamp, event: String) throws {
        try db.cachedStatement(
            sql: "INSERT INTO score_history(contact_id, at, version, fit, grade, engagement, event) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [contactID, at.milliseconds, s.version, s.fitPoints, s.grade, s.engagement.value(at: at), event])
    }

    static func actorText(_ a: LifecycleActor) -> String { a.storedText }

    /// Stores a stage move: the transition row and the contact's stage and `became_*_at` time
    /// (an earlier recorded time is kept).
    static func recordTransition(_ db: Database, _ contactID: String, _ t: LifecycleTransition) throws {
        try db.cachedStatement(
            sql: "INSERT INTO lifecycle_transitions(contact_id, from_stage, to_stage, at, actor, reason, model_version) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [contactID, t.from?.rawValue, t.to.rawValue, t.at.milliseconds, actorText(t.actor), t.reason, t.modelVersion])
        var sets = ["lifecycle_stage = ?"]
        var args: [(any DatabaseValueConvertible)?] = [t.to.rawValue]
        if let column = t.to.historyColumn {
            sets.append(t.to == .recycled ? "\(column) = ?" : "\(column) = coalesce(\(column), ?)")
            args.append(t.at.milliseconds)
        }
        if t.to == .recycled {
            sets.append("recycle_reason = ?")
            args.append(t.reason)
        }
        args.append(contactID)
        // A handful of distinct texts (one per target stage): prepared once per connection.
        try db.cachedStatement(sql: "UPDATE contacts SET \(sets.joined(separator: ", ")) WHERE id = ?").execute(arguments: StatementArguments(args))
    }

    /// The persona scoring last assigned to a contact (whatever model version stored it).
    static func lastAssigned(_ db: Database, _ contactID: String) throws -> (found: Bool, persona: String?) {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT persona_id FROM contact_scores WHERE contact_id = ?"), arguments: [contactID])
        else { return (false, nil) }
        return (true, row[0])
    }

    /// Rescores one contact from scratch under `scorer` (after its profile changed or when its
    /// stored state does not fit the model), stores it and makes the MQL move if due.
    static func rescoreContact(_ db: Database, _ scorer: Scorer, _ contactID: String, at now: Timestamp, event: String) throws {
        guard let (profile, stage, recycledAt, stored) = try loadProfile(db, contactID) else { return }
        let before = try lastAssigned(db, contactID)
        let previousGrade = try String.fetchOne(db, sql: "SELECT grade FROM contact_scores WHERE contact_id = ?", arguments: [contactID])
        let state = scorer.replay(profile, touches: try loadTouches(db, contactID, properties: scorer.needsProperties), lastAssigned: before.found ? before.persona : nil)
        try saveScore(db, contactID, state)
        if !state.personaByHand, stored != state.personaID {
            try db.execute(sql: "UPDATE contacts SET persona_id = ? WHERE id = ?", arguments: [state.personaID, contactID])
        }
        if previousGrade != state.grade { try history(db, contactID, state, at: now, event: event) }
        if let move = scorer.mqlMove(stage: stage, recycledAt: recycledAt, state: state, at: now) {
            try recordTransition(db, contactID, move)
            try history(db, contactID, state, at: now, event: "mql")
        }
        try db.execute(sql: "INSERT OR IGNORE INTO scoring_dirty(contact_id) VALUES (?)", arguments: [contactID])
    }
}
