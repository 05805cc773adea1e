import Foundation
import GRDB
import SmarketingCore
import Synchronization

extension SQLiteStore {
    // MARK: Rescoring passes

    /// Scores every contact from scratch under `scorer`, a chunk of contacts at a time (each read
    /// in its own short read transaction, so writers are never held up), counting only touches
    /// stored up to `upTo` (a touchpoints rowid) so that a later catch-up adds the rest exactly
    /// once.
    func rescorePass(
        _ scorer: Scorer,
        upTo: Int64,
        chunkSize: Int = 2000,
        progress: (@Sendable (RescoreProgress) -> Void)?,
        _ body: ([Rescored]) async throws -> Void
    ) async throws -> Int {
        let total = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM contacts") ?? 0 }
        var after = ""
        var done = 0
        let properties = scorer.needsProperties
        while true {
            let from = after
            let chunk: [Rescored] = try await pool.read { db in
                let profiles = try Row.fetchAll(
                    db.cachedStatement(sql: Self.profileSelect + " WHERE c.id > ? ORDER BY c.id LIMIT ?"),
                    arguments: [from, chunkSize]
                ).map { row in (row[0] as String, Self.profile(row, only: scorer.attributes)) }
                guard let first = profiles.first?.0, let last = profiles.last?.0 else { return [] }
                var assigned: [String: String?] = [:]
                for row in try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT contact_id, persona_id FROM contact_scores WHERE contact_id >= ? AND contact_id <= ?"),
                    arguments: [first, last]
                ) { assigned[row[0]] = .some(row[1]) }
                var touches: [String: [TouchFacts]] = [:]
                let cursor = try Row.fetchCursor(
                    db.cachedStatement(sql: Self.touchSelect + " WHERE t.contact_id >= ? AND t.contact_id <= ? AND t.rowid <= ?"),
                    arguments: [first, last, upTo]
                )
                while let row = try cursor.next() { touches[row[0], default: []].append(Self.touch(row, properties: properties)) }
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

    /// The current scores of a chunk: grade, assigned persona, and whether the active model's
    /// MQL rule holds now.
    func currentScores(_ chunk: [Rescored], active: Scorer?, at now: Timestamp) async throws -> [String: CurrentScore] {
        guard let first = chunk.first?.contactID, let last = chunk.last?.contactID else { return [:] }
        return try await pool.read { db in
            var out: [String: CurrentScore] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT contact_id, grade, persona_id, state FROM contact_scores WHERE contact_id >= ? AND contact_id <= ?",
                arguments: [first, last]
            ) {
                var qualifies = false
                if let active, let data = row[3] as Data?, let s = ScoreCodec.decode([UInt8](data), model: active.model) {
                    qualifies = active.qualifies(s, at: now)
                }
                out[row[0]] = (row[1], row[2], qualifies)
            }
            return out
        }
    }

    // MARK: Model versions

    /// The scorer for a candidate model with the workspace's personas.
    public func candidateScorer(_ model: ScoringModel, version: Int) async throws -> Scorer {
        let personas = try await pool.read { db in try Self.personas(db) }
        return Scorer(model: model, version: version, personas: personas)
    }

    public func activeScoringVersion() async throws -> ScoringVersion? {
        try await pool.read { db in
            guard let v = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [Self.scoringVersionKey]).flatMap(Int.init)
            else { return nil }
            return try Self.versions(db, where: "version = \(v)").first
        }
    }

    public func scoringVersions() async throws -> [ScoringVersion] {
        try await pool.read { db in try Self.versions(db, where: "1") }
    }

    static func versions(_ db: Database, where condition: String) throws -> [ScoringVersion] {
        try Row.fetchAll(
            db,
            sql: "SELECT version, status, author, created_at, applied_at, comment, diff, text FROM scoring_models WHERE \(condition) ORDER BY version DESC"
        ).map {
            ScoringVersion(
                version: $0[0],
                status: $0[1],
                author: $0[2],
                createdAt: Timestamp(milliseconds: $0[3]),
                appliedAt: ($0[4] as Int64?).map(Timestamp.init(milliseconds:)),
                comment: $0[5],
                diff: $0[6],
                text: $0[7]
            )
        }
    }

    public func scoringDiff(_ model: ScoringModel, at now: Timestamp, progress: (@Sendable (RescoreProgress) -> Void)?) async throws -> ScoreDiff {
        let active = try await pool.read { db in try self.activeScorer(db) }
        let scorer = try await candidateScorer(model, version: (active?.version ?? 0) + 1)
        var diff = ScoreDiff(currentVersion: active?.version)
        _ = try await rescorePass(scorer, upTo: Int64.max, progress: progress) { chunk in
            let current = try await currentScores(chunk, active: active, at: now)
            for r in chunk { diff.count(r, current: current[r.contactID], scorer: scorer, at: now) }
        }
        return diff
    }

    /// Stores `text` as a new model version and rescores every contact under it; the new
    /// version becomes active in one transaction at the end (until then the old one stays in
    /// force, also for events arriving meanwhile, which are then replayed into the new scores).
    public func failInterruptedApplies() async throws -> Int {
        guard !applying.withLock({ $0 }) else { return 0 }
        return try await pool.write { db in
            try db.execute(sql: "UPDATE scoring_models SET status = 'failed' WHERE status = 'applying'")
            return db.changesCount
        }
    }

    /// A failure leaves the old version active and the new one marked failed.
    public func applyScoringModel(
        text: String,
        model: ScoringModel,
        comment: String,
        actor: Actor,
        at now: Timestamp,
        progress: (@Sendable (RescoreProgress) -> Void)?
    ) async throws -> ApplyResult {
        try claimRescoring("another scoring model is being applied; wait for it to finish")
        defer { applying.withLock { $0 = false } }
        let started = DispatchTime.now().uptimeNanoseconds
        let active = try await pool.read { db in try self.activeScorer(db) }
        let (version, upTo) = try await writeRefreshingKPIs { db -> (Int, Int64) in
            try db.execute(sql: "UPDATE scoring_models SET status = 'failed' WHERE status = 'applying'")
            let version = (try Int.fetchOne(db, sql: "SELECT max(version) FROM scoring_models") ?? 0) + 1
            try db.execute(
                sql: "INSERT INTO scoring_models(version, status, author, created_at, comment, diff, text) VALUES (?, 'applying', ?, ?, ?, '{}', ?)",
                arguments: [version, actor.userID, now.milliseconds, comment, text]
            )
            try db.execute(sql: "DELETE FROM score_staging; DELETE FROM scoring_dirty")
            return (version, try Int64.fetchOne(db, sql: "SELECT coalesce(max(rowid), 0) FROM touchpoints") ?? 0)
        }
        do {
            let scorer = try await candidateScorer(model, version: version)
            return try await stagedRescore(
                scorer,
                comparedWith: active,
                upTo: upTo,
                actor: actor,
                at: now,
                activate: true,
                started: started,
                progress: progress
            )
        } catch {
            try? await writeRefreshingKPIs { db in
                try db.execute(sql: "UPDATE scoring_models SET status = 'failed' WHERE version = ?", arguments: [version])
                try db.execute(sql: "DELETE FROM score_staging")
            }
            throw error
        }
    }

    /// Scores every contact again under the active version (after a bulk import, which writes
    /// rows without scoring them). Same steps as an apply, without a new version; nil when no
    /// model is active.
    public func rescoreAll(actor: Actor, at now: Timestamp, progress: (@Sendable (RescoreProgress) -> Void)?) async throws -> ApplyResult? {
        try claimRescoring("a scoring model is being applied; wait for it to finish")
        defer { applying.withLock { $0 = false } }
        guard let scorer = try await pool.read({ db in try self.activeScorer(db) }) else { return nil }
        let started = DispatchTime.now().uptimeNanoseconds
        let upTo = try await writeRefreshingKPIs { db -> Int64 in
            try db.execute(sql: "DELETE FROM score_staging; DELETE FROM scoring_dirty")
            return try Int64.fetchOne(db, sql: "SELECT coalesce(max(rowid), 0) FROM touchpoints") ?? 0
        }
        return try await stagedRescore(scorer, comparedWith: scorer, upTo: upTo, actor: actor, at: now, activate: false, started: started, progress: progress)
    }

    /// Only one apply or rescoring runs at a time in this process.
    func claimRescoring(_ busyMessage: String) throws {
        let claimed = applying.withLock { busy in
            if busy { return false }
            busy = true
            return true
        }
        guard claimed else { throw StoreError.conflict(busyMessage) }
    }

    /// The steps an apply and a rescoring share: score everyone into the staging table (counting
    /// the diff against `active`), then switch in one transaction.
    func stagedRescore(
        _ scorer: Scorer,
        comparedWith active: Scorer?,
        upTo: Int64,
        actor: Actor,
        at now: Timestamp,
        activate: Bool,
        started: UInt64,
        progress: (@Sendable (RescoreProgress) -> Void)?
    ) async throws -> ApplyResult {
        var diff = ScoreDiff(currentVersion: active?.version)
        let rescored = try await rescorePass(scorer, upTo: upTo, progress: progress) { chunk in
            let current = try await currentScores(chunk, active: active, at: now)
            for r in chunk { diff.count(r, current: current[r.contactID], scorer: scorer, at: now) }
            try await writeRefreshingKPIs { db in
                for r in chunk { try Self.stage(db, r.contactID, r.state, qualifies: scorer.qualifies(r.state, at: now)) }
            }
        }
        let diffJSON = String(decoding: try JSONEncoder().encode(diff), as: UTF8.self)
        let (moved, caughtUp) = try await writeRefreshingKPIs { db in
            let result = try self.switchModel(db, scorer, version: scorer.version, upTo: upTo, diffJSON: diffJSON, actor: actor, at: now, activate: activate)
            try self.reactToTransitions(db, at: now)
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

    static func stage(_ db: Database, _ contactID: String, _ s: ContactScore, qualifies: Bool) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO score_staging(contact_id, version, fit, grade, engagement, latest, persona_id, state, qualifies, persona_automatic)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(contact_id) DO UPDATE SET version = excluded.version, fit = excluded.fit, grade = excluded.grade,
                  engagement = excluded.engagement, latest = excluded.latest, persona_id = excluded.persona_id, state = excluded.state,
                  qualifies = excluded.qualifies, persona_automatic = excluded.persona_automatic
                """
        ).execute(arguments: [
            contactID, s.version, s.fitPoints, s.grade, s.latest.map { s.engagement.value(at: $0) } ?? 0, s.latest?.milliseconds,
            s.assignedPersona, Data(ScoreCodec.encode(s)), qualifies, !s.personaByHand,
        ])
    }

    /// The last step of an apply, in one transaction: replay what changed meanwhile, make the
    /// new scores current, move contacts that now qualify to MQL, activate the version.
    func switchModel(
        _ db: Database,
        _ scorer: Scorer,
        version: Int,
        upTo: Int64,
        diffJSON: String,
        actor: Actor,
        at now: Timestamp,
        activate: Bool
    ) throws -> (Int, Int) {
        // Contacts with touches stored since the pass began, and contacts whose details changed
        // meanwhile: scored again from their whole current history.
        let late = try String.fetchAll(db, sql: "SELECT DISTINCT contact_id FROM touchpoints WHERE rowid > ?", arguments: [upTo])
        let caughtUpEvents = try Int.fetchOne(db, sql: "SELECT count(*) FROM touchpoints WHERE rowid > ?", arguments: [upTo]) ?? 0
        let dirty = try String.fetchAll(db, sql: "SELECT contact_id FROM scoring_dirty")
        let missing = try String.fetchAll(db, sql: "SELECT id FROM contacts WHERE id NOT IN (SELECT contact_id FROM score_staging)")
        for id in Set(late + dirty + missing) {
            guard let (profile, _, _, _) = try Self.loadProfile(db, id) else { continue }
            let before = try Self.lastAssigned(db, id)
            let state = scorer.replay(profile, touches: try Self.loadTouches(db, id, properties: scorer.needsProperties), lastAssigned: before.found ? before.persona : nil)
            try Self.stage(db, id, state, qualifies: scorer.qualifies(state, at: now))
        }
        try db.execute(sql: "DELETE FROM score_staging WHERE contact_id NOT IN (SELECT id FROM contacts)")
        try db.execute(
            sql: """
                DELETE FROM contact_scores;
                INSERT INTO contact_scores(contact_id, version, fit, grade, engagement, latest, persona_id, state)
                  SELECT contact_id, version, fit, grade, engagement, latest, persona_id, state FROM score_staging;
                UPDATE contacts SET persona_id = s.persona_id FROM score_staging s
                  WHERE s.contact_id = contacts.id AND s.persona_automatic = 1 AND contacts.persona_id IS NOT s.persona_id;
                INSERT INTO score_history(contact_id, at, version, fit, grade, engagement, event)
                  SELECT contact_id, ?, version, fit, grade, engagement, 'apply' FROM score_staging;
                """,
            arguments: [now.milliseconds]
        )
        var moved = 0
        let qualifying = try Row.fetchAll(
            db,
            sql:
                "SELECT s.contact_id, s.state, c.lifecycle_stage, c.recycled_at FROM score_staging s JOIN contacts c ON c.id = s.contact_id WHERE s.qualifies = 1"
        )
        for row in qualifying {
            guard let data = row[1] as Data?, let state = ScoreCodec.decode([UInt8](data), model: scorer.model),
                let move = scorer.mqlMove(
                    stage: (row[2] as String?).flatMap(LifecycleStage.init(rawValue:)),
                    recycledAt: (row[3] as Int64?).map(Timestamp.init(milliseconds:)),
                    state: state,
                    at: now
                )
            else { continue }
            try Self.recordTransition(db, row[0], move)
            moved += 1
        }
        try db.execute(sql: "DELETE FROM score_staging; DELETE FROM scoring_dirty")
        guard activate else {
            try Self.audit(db, actor, now, "rescore", "scoring_models", String(version), diffJSON)
            return (moved, caughtUpEvents)
        }
        try db.execute(sql: "UPDATE scoring_models SET status = 'superseded' WHERE status = 'active'")
        try db.execute(
            sql: "UPDATE scoring_models SET status = 'active', applied_at = ?, diff = ? WHERE version = ?",
            arguments: [now.milliseconds, diffJSON, version]
        )
        try db.execute(
            sql: "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            arguments: [Self.scoringVersionKey, String(version)]
        )
        try Self.audit(db, actor, now, "apply", "scoring_models", String(version), diffJSON)
        return (moved, caughtUpEvents)
    }
}
