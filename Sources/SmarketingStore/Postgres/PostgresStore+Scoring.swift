import Foundation
import PostgresNIO
import SmarketingCore
import Synchronization

/// Scoring on PostgreSQL: the active scorer, scores kept current by every write that changes
/// them, and model applies that several instances can run beside (but never two at once).
///
/// Concurrency: a contact's score is read and written only while its contact row is locked
/// (`FOR NO KEY UPDATE`, taken in id order), so two instances scoring one contact take turns.
/// Every writer that scores holds the scoring lock shared; an apply takes it alone twice, for
/// an instant each: when it marks itself running (so that every later writer sees the apply
/// and marks the contacts it scores dirty) and when it switches (so that no writer is between
/// reading the old version and writing its score). The dirty contacts are then scored again from
/// their whole history. This replaces SQLite's "touches stored after rowid N", which PostgreSQL
/// cannot use: its ids are handed out in one order and committed in another.
extension PostgresStore {
    /// Writers that score take it shared; an apply's start and switch take it alone.
    static let scoringLock: Int64 = 0x736D_6B5F_7363_6F72  // "smk_scor"
    /// Held (per session) by the instance applying a model, for as long as the apply runs.
    static let applyRunning: Int64 = 0x736D_6B5F_6170_706C  // "smk_appl"

    /// Takes the scoring lock shared for this transaction; true when an apply is running (the
    /// caller then marks the contacts it scores dirty).
    static func shareScoring(_ c: PGConn) async throws -> Bool {
        try await c.execute("SELECT pg_advisory_xact_lock_shared(?)", [.int(scoringLock)])
        return try await c.one("SELECT 1 FROM settings WHERE key = ?", [.text(scoringPassKey)]) != nil
    }

    /// Present in `settings` while an apply or a rescoring runs.
    static let scoringPassKey = "scoring_pass_running"

    /// Marks a pass running (in the transaction that holds the scoring lock alone).
    static func startPass(_ c: PGConn) async throws {
        try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(scoringLock)])
        try await c.execute("INSERT INTO settings(key, value) VALUES (?, '1') ON CONFLICT(key) DO NOTHING", [.text(scoringPassKey)])
        try await c.execute("DELETE FROM score_staging")
        try await c.execute("DELETE FROM scoring_dirty")
    }

    /// Ends a pass (switched or failed): nothing staged or dirty stays.
    static func endPass(_ c: PGConn) async throws {
        try await c.execute("DELETE FROM settings WHERE key = ?", [.text(scoringPassKey)])
        try await c.execute("DELETE FROM score_staging")
        try await c.execute("DELETE FROM scoring_dirty")
    }

    /// Marks contacts to be scored again when the running apply switches (with how many events
    /// each got meanwhile).
    static func markDirty(_ c: PGConn, _ counts: [String: Int]) async throws {
        guard !counts.isEmpty else { return }
        let ids = counts.keys.sorted()
        try await c.execute(
            """
            INSERT INTO scoring_dirty(contact_id, events) SELECT * FROM unnest(?::text[], ?::bigint[])
            ON CONFLICT (contact_id) DO UPDATE SET events = scoring_dirty.events + excluded.events
            """,
            [.textArray(ids), .textArray(ids.map { String(counts[$0] ?? 0) })]
        )
    }

    /// The active scorer, or nil when no model has been applied (or the store cannot read models).
    func activeScorer(_ c: PGConn) async throws -> Scorer? {
        guard let parser = modelParser else { return nil }
        let rows = try await c.rows(
            "SELECT key, value FROM settings WHERE key IN (?, ?)",
            [.text(ScoringRows.scoringVersionKey), .text(ScoringRows.personasGenerationKey)]
        )
        var version: Int?
        var generation = ""
        for row in rows {
            if row.text(0) == ScoringRows.scoringVersionKey { version = row.text(1).flatMap { Int($0) } } else { generation = row.text(1) ?? "" }
        }
        guard let version else { return nil }
        if let cached = scorerCache.withLock({ $0 }), cached.version == version, cached.personasGeneration == generation {
            return cached.scorer
        }
        guard let text = try await c.one("SELECT text FROM scoring_models WHERE version = ?", [.int(Int64(version))])?.text(0),
            let model = parser(text)
        else { throw StoreError.invalid("the active scoring model (version \(version)) cannot be read") }
        let scorer = Scorer(model: model, version: version, personas: try await Self.personas(c))
        scorerCache.withLock { $0 = CachedScorer(version: version, personasGeneration: generation, scorer: scorer) }
        return scorer
    }

    /// The workspace's persona definitions (unknown rule keys are ignored here; the API reports them).
    static func personas(_ c: PGConn) async throws -> [PersonaDefinition] {
        try await c.rows("SELECT id, rules FROM personas ORDER BY id").map { row in
            let rules = row.text(1).flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) } ?? .object([:])
            return PersonaDefinition.from(id: row.text(0) ?? "", rules: rules).0
        }
    }

    /// Marks persona definitions changed, so every instance reloads them.
    static func bumpPersonas(_ c: PGConn) async throws {
        try await c.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [.text(ScoringRows.personasGenerationKey), .text(UUID().uuidString)]
        )
    }

    // MARK: Reading contacts and touches

    static func profile(_ row: PGRow, only: Set<String>? = nil) -> (ContactProfile, LifecycleStage?, Timestamp?, String?) {
        ScoringRows.profile({ i, type in field(row[i], type) }, only: only)
    }

    static func loadProfile(_ c: PGConn, _ contactID: String) async throws -> (ContactProfile, LifecycleStage?, Timestamp?, String?)? {
        try await c.one(ScoringRows.profileSelect + " WHERE c.id = ?", [.text(contactID)]).map { profile($0) }
    }

    static func touch(_ row: PGRow, properties: Bool) -> TouchFacts {
        ScoringRows.touch(
            id: row.text(1) ?? "",
            at: row.int(2) ?? 0,
            type: row.text(3) ?? "",
            channel: row.text(4),
            campaignID: row.text(5),
            contentID: row.text(6),
            actorID: row.text(7),
            properties: row.text(8),
            contentStage: row.text(9),
            parseProperties: properties
        )
    }

    static func loadTouches(_ c: PGConn, _ contactID: String, properties: Bool) async throws -> [TouchFacts] {
        try await c.rows(ScoringRows.touchSelect + " WHERE t.contact_id = ? ORDER BY t.occurred_at, t.id", [.text(contactID)])
            .map { touch($0, properties: properties) }
    }

    // MARK: Writing scores and history

    static let saveScoreSQL = """
        INSERT INTO contact_scores(contact_id, version, fit, grade, engagement, latest, persona_id, state)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(contact_id) DO UPDATE SET version = excluded.version, fit = excluded.fit, grade = excluded.grade,
          engagement = excluded.engagement, latest = excluded.latest, persona_id = excluded.persona_id, state = excluded.state
        """

    static func scoreArguments(_ contactID: String, _ s: ContactScore) -> [PGValue] {
        [
            .text(contactID), .int(Int64(s.version)), .double(s.fitPoints), .text(s.grade), .double(ScoringRows.storedEngagement(s)),
            .of(s.latest?.milliseconds), .of(s.assignedPersona), .bytes(ScoreCodec.encode(s)),
        ]
    }

    static func saveScore(_ c: PGConn, _ contactID: String, _ s: ContactScore) async throws {
        try await c.execute(saveScoreSQL, scoreArguments(contactID, s))
    }

    static func history(_ c: PGConn, _ contactID: String, _ s: ContactScore, at: Timestamp, event: String) async throws {
        try await c.execute(
            "INSERT INTO score_history(contact_id, at, version, fit, grade, engagement, event) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [.text(contactID), .int(at.milliseconds), .int(Int64(s.version)), .double(s.fitPoints), .text(s.grade), .double(s.engagement.value(at: at)), .text(event)]
        )
    }

    /// The persona scoring last assigned to a contact (whatever model version stored it).
    static func lastAssigned(_ c: PGConn, _ contactID: String) async throws -> (found: Bool, persona: String?) {
        guard let row = try await c.one("SELECT persona_id FROM contact_scores WHERE contact_id = ?", [.text(contactID)]) else { return (false, nil) }
        return (true, row.text(0))
    }

    /// Rescores one contact from scratch under `scorer` (after its profile changed), stores it and
    /// makes the MQL move if due. The caller holds the contact's row lock and the scoring lock.
    static func rescoreContact(_ c: PGConn, _ scorer: Scorer, _ contactID: String, at now: Timestamp, event: String, applying: Bool) async throws {
        guard let (profile, stage, recycledAt, stored) = try await loadProfile(c, contactID) else { return }
        let before = try await c.one("SELECT persona_id, grade FROM contact_scores WHERE contact_id = ?", [.text(contactID)])
        let state = scorer.replay(
            profile,
            touches: try await loadTouches(c, contactID, properties: scorer.needsProperties),
            lastAssigned: before == nil ? nil : before?.text(0)
        )
        try await saveScore(c, contactID, state)
        if !state.personaByHand, stored != state.personaID {
            try await c.execute("UPDATE contacts SET persona_id = ? WHERE id = ?", [.of(state.personaID), .text(contactID)])
        }
        if before?.text(1) != state.grade { try await history(c, contactID, state, at: now, event: event) }
        if let move = scorer.mqlMove(stage: stage, recycledAt: recycledAt, state: state, at: now) {
            try await recordTransition(c, contactID, move)
            try await history(c, contactID, state, at: now, event: "mql")
        }
        if applying { try await markDirty(c, [contactID: 0]) }
    }

    /// Scores contacts again after a record write changed their profile (their rows locked in
    /// id order first, so that two writers cannot deadlock on them).
    func rescoreAfterEdit(_ c: PGConn, contacts ids: [String], at: Timestamp, event: String = "regrade") async throws {
        guard let scorer = try await activeScorer(c), !ids.isEmpty else { return }
        let applying = try await Self.shareScoring(c)
        let locked = try await c.rows("SELECT id FROM contacts WHERE id = ANY(?::text[]) ORDER BY id FOR NO KEY UPDATE", [.textArray(ids)])
        for row in locked {
            guard let id = row.text(0) else { continue }
            try await Self.rescoreContact(c, scorer, id, at: at, event: event, applying: applying)
        }
    }
}

extension PostgresStore: ScoringStore {
    public func activeScoringVersion() async throws -> ScoringVersion? {
        try await read { c in
            guard let v = try await c.one("SELECT value FROM settings WHERE key = ?", [.text(ScoringRows.scoringVersionKey)])?.text(0).flatMap({ Int64($0) })
            else { return nil }
            return try await Self.versions(c, where: "version = ?", [.int(v)]).first
        }
    }

    public func scoringVersions() async throws -> [ScoringVersion] {
        try await read { c in try await Self.versions(c, where: "TRUE", []) }
    }

    static func versions(_ c: PGConn, where condition: String, _ args: [PGValue]) async throws -> [ScoringVersion] {
        try await c.rows(
            "SELECT version, status, author, created_at, applied_at, comment, diff, text FROM scoring_models WHERE \(condition) ORDER BY version DESC",
            args
        ).map {
            ScoringVersion(
                version: Int(clamping: $0.int(0) ?? 0),
                status: $0.text(1) ?? "",
                author: $0.text(2) ?? "",
                createdAt: Timestamp(milliseconds: $0.int(3) ?? 0),
                appliedAt: $0.int(4).map(Timestamp.init(milliseconds:)),
                comment: $0.text(5) ?? "",
                diff: $0.text(6) ?? "",
                text: $0.text(7) ?? ""
            )
        }
    }

    public func candidateScorer(_ model: ScoringModel, version: Int) async throws -> Scorer {
        let personas = try await read { c in try await Self.personas(c) }
        return Scorer(model: model, version: version, personas: personas)
    }

    /// Marks applies left `applying` by an instance that died as failed — only when no instance
    /// is applying now (the one that is holds the apply lock).
    public func failInterruptedApplies() async throws -> Int {
        guard !applying.withLock({ $0 }) else { return 0 }
        return try await write { c in
            guard try await c.one("SELECT pg_try_advisory_xact_lock(?)", [.int(Self.applyRunning)])?.int(0) == 1 else { return 0 }
            try await c.execute("DELETE FROM settings WHERE key = ?", [.text(Self.scoringPassKey)])
            return try await c.execute("UPDATE scoring_models SET status = 'failed' WHERE status = 'applying' RETURNING 1")
        }
    }

    public func scoringDiff(_ model: ScoringModel, at now: Timestamp, progress: (@Sendable (RescoreProgress) -> Void)?) async throws -> ScoreDiff {
        let active = try await read { c in try await self.activeScorer(c) }
        let scorer = try await candidateScorer(model, version: (active?.version ?? 0) + 1)
        var diff = ScoreDiff(currentVersion: active?.version)
        _ = try await rescorePass(scorer, progress: progress) { chunk in
            let current = try await self.currentScores(chunk, active: active, at: now)
            for r in chunk { diff.count(r, current: current[r.contactID], scorer: scorer, at: now) }
        }
        return diff
    }

    public func applyScoringModel(
        text: String,
        model: ScoringModel,
        comment: String,
        actor: Actor,
        at now: Timestamp,
        progress: (@Sendable (RescoreProgress) -> Void)?
    ) async throws -> ApplyResult {
        try await holdingApplyLock("another scoring model is being applied; wait for it to finish") {
            let started = DispatchTime.now().uptimeNanoseconds
            let active = try await self.read { c in try await self.activeScorer(c) }
            let version = try await self.write { c -> Int in
                try await Self.startPass(c)
                // Any row still `applying` was left by an instance that died (this one holds the apply lock).
                try await c.execute("UPDATE scoring_models SET status = 'failed' WHERE status = 'applying'")
                let version = Int(clamping: try await c.one("SELECT coalesce(max(version), 0) + 1 FROM scoring_models")?.int(0) ?? 1)
                try await c.execute(
                    "INSERT INTO scoring_models(version, status, author, created_at, comment, diff, text) VALUES (?, 'applying', ?, ?, ?, '{}', ?)",
                    [.int(Int64(version)), .text(actor.userID), .int(now.milliseconds), .text(comment), .text(text)]
                )
                return version
            }
            do {
                let scorer = try await self.candidateScorer(model, version: version)
                return try await self.stagedRescore(scorer, comparedWith: active, actor: actor, at: now, activate: true, started: started, progress: progress)
            } catch {
                _ = try? await self.write { c in
                    try await c.execute("UPDATE scoring_models SET status = 'failed' WHERE version = ?", [.int(Int64(version))])
                    try await Self.endPass(c)
                }
                throw error
            }
        }
    }

    public func rescoreAll(actor: Actor, at now: Timestamp, progress: (@Sendable (RescoreProgress) -> Void)?) async throws -> ApplyResult? {
        try await holdingApplyLock("a scoring model is being applied; wait for it to finish") {
            guard let scorer = try await self.read({ c in try await self.activeScorer(c) }) else { return nil }
            let started = DispatchTime.now().uptimeNanoseconds
            // Marked running like an apply (writers meanwhile mark what they score dirty), without a new version.
            try await self.write { c in try await Self.startPass(c) }
            do {
                return try await self.stagedRescore(scorer, comparedWith: scorer, actor: actor, at: now, activate: false, started: started, progress: progress)
            } catch {
                _ = try? await self.write { c in try await Self.endPass(c) }
                throw error
            }
        }
    }

    /// Runs an apply or a rescoring while holding the apply lock: one at a time in this process
    /// and across every instance on the database.
    func holdingApplyLock<T: Sendable>(_ busyMessage: String, _ body: () async throws -> T) async throws -> T {
        let claimed = applying.withLock { busy in
            if busy { return false }
            busy = true
            return true
        }
        guard claimed else { throw StoreError.conflict(busyMessage) }
        defer { applying.withLock { $0 = false } }
        do {
            // A session lock on a connection held for the whole apply: released when the apply
            // ends, and by the server when this instance dies.
            return try await client.withConnection(timeout: connectionWait) { connection in
                let c = PGConn(connection: connection, logger: logger)
                guard try await c.one("SELECT pg_try_advisory_lock(?)", [.int(Self.applyRunning)])?.int(0) == 1 else {
                    throw StoreError.conflict(busyMessage)
                }
                do {
                    let value = try await body()
                    _ = try? await c.execute("SELECT pg_advisory_unlock(?)", [.int(Self.applyRunning)])
                    return value
                } catch {
                    _ = try? await c.execute("SELECT pg_advisory_unlock(?)", [.int(Self.applyRunning)])
                    throw error
                }
            }
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseFailure {
            throw e
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Scores every contact from scratch under `scorer`, a chunk of contacts at a time (each read
    /// in its own short transaction, so writers are never held up).
    func rescorePass(
        _ scorer: Scorer,
        chunkSize: Int = 2000,
        progress: (@Sendable (RescoreProgress) -> Void)?,
        _ body: ([Rescored]) async throws -> Void
    ) async throws -> Int {
        let total = Int(clamping: try await read { c in try await c.one("SELECT count(*) FROM contacts")?.int(0) ?? 0 })
        var after = ""
        var done = 0
        let properties = scorer.needsProperties
        while true {
            let from = after
            let chunk: [Rescored] = try await read { c in
                let profiles = try await c.rows(ScoringRows.profileSelect + " WHERE c.id > ? ORDER BY c.id LIMIT ?", [.text(from), .int(Int64(chunkSize))])
                    .map { row in (row.text(0) ?? "", Self.profile(row, only: scorer.attributes)) }
                guard let first = profiles.first?.0, let last = profiles.last?.0 else { return [] }
                var assigned: [String: String?] = [:]
                for row in try await c.rows(
                    "SELECT contact_id, persona_id FROM contact_scores WHERE contact_id >= ? AND contact_id <= ?",
                    [.text(first), .text(last)]
                ) { assigned[row.text(0) ?? ""] = .some(row.text(1)) }
                var touches: [String: [TouchFacts]] = [:]
                for row in try await c.rows(
                    ScoringRows.touchSelect + " WHERE t.contact_id >= ? AND t.contact_id <= ? ORDER BY t.contact_id, t.occurred_at, t.id",
                    [.text(first), .text(last)]
                ) { touches[row.text(0) ?? "", default: []].append(Self.touch(row, properties: properties)) }
                return profiles.map { id, p in
                    let (profile, stage, recycledAt, stored) = p
                    let state = scorer.replay(profile, touches: touches[id] ?? [], lastAssigned: assigned[id] ?? nil)
                    return Rescored(contactID: id, state: state, stage: stage, recycledAt: recycledAt, storedPersona: stored, profile: profile)
                }
            }
            guard let last = chunk.last else { break }
            after = last.contactID
            try await body(chunk)
            done += chunk.count
            progress?(RescoreProgress(done: done, total: max(total, done)))
        }
        return done
    }

    /// The current scores of a chunk.
    func currentScores(_ chunk: [Rescored], active: Scorer?, at now: Timestamp) async throws -> [String: CurrentScore] {
        guard let first = chunk.first?.contactID, let last = chunk.last?.contactID else { return [:] }
        return try await read { c in
            var out: [String: CurrentScore] = [:]
            for row in try await c.rows(
                "SELECT contact_id, grade, persona_id, state FROM contact_scores WHERE contact_id >= ? AND contact_id <= ?",
                [.text(first), .text(last)]
            ) {
                var qualifies = false
                if let active, let bytes = row.bytes(3), let s = ScoreCodec.decode(bytes, model: active.model) { qualifies = active.qualifies(s, at: now) }
                out[row.text(0) ?? ""] = (row.text(1) ?? "", row.text(2), qualifies)
            }
            return out
        }
    }

    /// Scores everyone into the staging table (counting the diff against `active`), then switches
    /// in one transaction.
    func stagedRescore(
        _ scorer: Scorer,
        comparedWith active: Scorer?,
        actor: Actor,
        at now: Timestamp,
        activate: Bool,
        started: UInt64,
        progress: (@Sendable (RescoreProgress) -> Void)?
    ) async throws -> ApplyResult {
        var diff = ScoreDiff(currentVersion: active?.version)
        let rescored = try await rescorePass(scorer, progress: progress) { chunk in
            let current = try await self.currentScores(chunk, active: active, at: now)
            for r in chunk { diff.count(r, current: current[r.contactID], scorer: scorer, at: now) }
            try await self.write { c in
                try await Self.stage(c, chunk.map { ($0.contactID, $0.state, scorer.qualifies($0.state, at: now)) })
            }
        }
        let diffJSON = String(decoding: try JSONEncoder().encode(diff), as: UTF8.self)
        let (moved, caughtUp) = try await write { c in
            let result = try await self.switchModel(c, scorer, diffJSON: diffJSON, actor: actor, at: now, activate: activate)
            try await self.reactToTransitions(c, at: now)
            return result
        }
        return ApplyResult(
            version: scorer.version,
            diff: diff,
            rescored: rescored,
            movedToMQL: moved,
            caughtUpEvents: caughtUp,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        )
    }

    /// Writes staged scores, one statement per chunk.
    static func stage(_ c: PGConn, _ scores: [(String, ContactScore, Bool)]) async throws {
        for part in stride(from: 0, to: scores.count, by: 1000) {
            let slice = scores[part..<min(part + 1000, scores.count)]
            var args: [PGValue] = []
            args.reserveCapacity(slice.count * 10)
            for (id, s, qualifies) in slice {
                args += scoreArguments(id, s)
                args += [.int(qualifies ? 1 : 0), .int(s.personaByHand ? 0 : 1)]
            }
            try await c.execute(
                """
                INSERT INTO score_staging(contact_id, version, fit, grade, engagement, latest, persona_id, state, qualifies, persona_automatic)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: slice.count).joined(separator: ", "))
                ON CONFLICT(contact_id) DO UPDATE SET version = excluded.version, fit = excluded.fit, grade = excluded.grade,
                  engagement = excluded.engagement, latest = excluded.latest, persona_id = excluded.persona_id, state = excluded.state,
                  qualifies = excluded.qualifies, persona_automatic = excluded.persona_automatic
                """,
                args
            )
        }
    }

    /// The last step of an apply, in one transaction holding the scoring lock alone: score again
    /// the contacts written meanwhile, make the new scores current, move contacts that now
    /// qualify to MQL, activate the version.
    func switchModel(_ c: PGConn, _ scorer: Scorer, diffJSON: String, actor: Actor, at now: Timestamp, activate: Bool) async throws -> (Int, Int) {
        try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.scoringLock)])
        let caughtUp = Int(clamping: try await c.one("SELECT coalesce(sum(events), 0) FROM scoring_dirty")?.int(0) ?? 0)
        let again = try await c.rows(
            """
            SELECT contact_id FROM scoring_dirty
            UNION SELECT id FROM contacts WHERE NOT EXISTS (SELECT 1 FROM score_staging s WHERE s.contact_id = contacts.id)
            ORDER BY 1
            """
        ).compactMap { $0.text(0) }
        var restaged: [(String, ContactScore, Bool)] = []
        for id in again {
            guard let (profile, _, _, _) = try await Self.loadProfile(c, id) else { continue }
            let before = try await Self.lastAssigned(c, id)
            let state = scorer.replay(
                profile,
                touches: try await Self.loadTouches(c, id, properties: scorer.needsProperties),
                lastAssigned: before.found ? before.persona : nil
            )
            restaged.append((id, state, scorer.qualifies(state, at: now)))
        }
        try await Self.stage(c, restaged)
        try await c.execute("DELETE FROM score_staging s WHERE NOT EXISTS (SELECT 1 FROM contacts WHERE id = s.contact_id)")
        try await c.execute("DELETE FROM contact_scores")
        try await c.execute(
            """
            INSERT INTO contact_scores(contact_id, version, fit, grade, engagement, latest, persona_id, state)
              SELECT contact_id, version, fit, grade, engagement, latest, persona_id, state FROM score_staging
            """
        )
        try await c.execute(
            """
            UPDATE contacts SET persona_id = s.persona_id FROM score_staging s
            WHERE s.contact_id = contacts.id AND s.persona_automatic = 1 AND contacts.persona_id IS DISTINCT FROM s.persona_id
            """
        )
        try await c.execute(
            "INSERT INTO score_history(contact_id, at, version, fit, grade, engagement, event) SELECT contact_id, ?, version, fit, grade, engagement, 'apply' FROM score_staging ORDER BY contact_id",
            [.int(now.milliseconds)]
        )
        var moved = 0
        let qualifying = try await c.rows(
            "SELECT s.contact_id, s.state, c.lifecycle_stage, c.recycled_at FROM score_staging s JOIN contacts c ON c.id = s.contact_id WHERE s.qualifies = 1 ORDER BY s.contact_id"
        )
        for row in qualifying {
            guard let id = row.text(0), let bytes = row.bytes(1), let state = ScoreCodec.decode(bytes, model: scorer.model),
                let move = scorer.mqlMove(
                    stage: row.text(2).flatMap(LifecycleStage.init(rawValue:)),
                    recycledAt: row.int(3).map(Timestamp.init(milliseconds:)),
                    state: state,
                    at: now
                )
            else { continue }
            try await Self.recordTransition(c, id, move)
            moved += 1
        }
        try await Self.endPass(c)
        let version = Int64(scorer.version)
        guard activate else {
            try await Self.audit(c, actor, now, "rescore", "scoring_models", String(version), diffJSON)
            return (moved, caughtUp)
        }
        try await c.execute("UPDATE scoring_models SET status = 'superseded' WHERE status = 'active'")
        try await c.execute("UPDATE scoring_models SET status = 'active', applied_at = ?, diff = ? WHERE version = ?", [.int(now.milliseconds), .text(diffJSON), .int(version)])
        try await c.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [.text(ScoringRows.scoringVersionKey), .text(String(version))]
        )
        try await Self.audit(c, actor, now, "apply", "scoring_models", String(version), diffJSON)
        return (moved, caughtUp)
    }

    // MARK: Explanations, backtests, capacity

    public func scoreExplanation(contactID given: String, at now: Timestamp) async throws -> ScoreExplanation? {
        try await read { c in
            guard let scorer = try await self.activeScorer(c) else {
                throw StoreError.conflict("no scoring model is active; apply one first (smarketing scoring apply FILE)")
            }
            var contactID = given
            if try await !Self.exists(c, .contacts, id: given) {
                guard let kept = try await c.one("SELECT kept_id FROM contact_merges WHERE removed_id = ?", [.text(given)])?.text(0) else { return nil }
                contactID = kept
            }
            guard let (profile, stage, _, _) = try await Self.loadProfile(c, contactID) else { return nil }
            let touches = try await Self.loadTouches(c, contactID, properties: scorer.needsProperties)
            let before = try await Self.lastAssigned(c, contactID)
            var stored: ContactScore?
            if let bytes = try await c.one("SELECT state FROM contact_scores WHERE contact_id = ?", [.text(contactID)])?.bytes(0),
                let s = ScoreCodec.decode(bytes, model: scorer.model), s.version == scorer.version
            {
                stored = s
            }
            let history = try await c.rows(
                "SELECT at, version, fit, grade, engagement, event FROM score_history WHERE contact_id = ? ORDER BY at, seq",
                [.text(contactID)]
            ).map {
                ScoreHistoryPoint(
                    at: Timestamp(milliseconds: $0.int(0) ?? 0),
                    version: Int(clamping: $0.int(1) ?? 0),
                    fit: $0.double(2) ?? 0,
                    grade: $0.text(3) ?? "",
                    engagement: $0.double(4) ?? 0,
                    event: $0.text(5) ?? ""
                )
            }
            return ScoringRows.explanation(
                scorer: scorer,
                contactID: contactID,
                profile: profile,
                stage: stage,
                touches: touches,
                stored: stored,
                lastAssigned: before.found ? before.persona : nil,
                transitions: try await Self.transitions(c, contactID),
                history: history,
                at: now
            )
        }
    }

    /// When each contact reached `target` (PRODUCT.md, `ReachedRule`): the `became_*_at` time,
    /// and only when that is empty its first deal's.
    static func reached(_ target: BacktestTarget, _ c: PGConn) async throws -> [String: Int64] {
        let (own, deals) = ScoringRows.reachedQueries(target)
        func rows(_ sql: String) async throws -> [(String, Int64)] {
            try await c.rows(sql).compactMap { row in row.text(0).flatMap { id in row.int(1).map { (id, $0) } } }
        }
        var dealRows: [[(String, Int64)]] = []
        for sql in deals { dealRows.append(try await rows(sql)) }
        return ScoringRows.reached(own: try await rows(own), deals: dealRows)
    }

    public func backtestContacts(target: BacktestTarget, attributes: Set<String>?) async throws -> [BacktestContact] {
        try await reportRead { c in
            let reachedAt = try await Self.reached(target, c)
            var touches: [String: [TouchFacts]] = [:]
            for row in try await c.rows(ScoringRows.touchSelect + " ORDER BY t.contact_id, t.occurred_at, t.id") {
                touches[row.text(0) ?? "", default: []].append(Self.touch(row, properties: true))
            }
            let createdIndex = Resource.contacts.schema.index["created_at"] ?? 0
            return try await c.rows(ScoringRows.profileSelect + " ORDER BY c.id").map { row in
                let id = row.text(0) ?? ""
                let (profile, _, _, _) = Self.profile(row, only: attributes)
                return BacktestContact(
                    id: id,
                    profile: profile,
                    start: Timestamp(milliseconds: row.int(createdIndex) ?? 0),
                    touches: touches[id] ?? [],
                    target: reachedAt[id].map(Timestamp.init(milliseconds:))
                )
            }
        }
    }

    public func salesCapacity() async throws -> Double? {
        try await read { c in try await c.one("SELECT sum(capacity) FROM users WHERE team = 'sales' AND capacity IS NOT NULL")?.double(0) }
    }
}
