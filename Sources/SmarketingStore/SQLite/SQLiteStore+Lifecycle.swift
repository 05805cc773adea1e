import Foundation
import GRDB
import SmarketingCore

extension SQLiteStore {
    /// What a record write means for scores and stages, in the write's own transaction: contacts
    /// and accounts are graded again, stage edits go through the lifecycle rules, opportunities
    /// move their contacts, persona edits make every process reload the definitions.
    func afterWrite(_ db: Database, _ resource: Resource, old: Record?, new: Record?, actor: Actor, at: Timestamp) throws {
        switch resource {
        case .contacts:
            guard let new else { return }
            let id = new.id
            let oldStage = old.flatMap { LifecycleStage(rawValue: $0["lifecycle_stage"].text ?? "") }
            let newStage = LifecycleStage(rawValue: new["lifecycle_stage"].text ?? "")
            if let newStage, newStage != oldStage {
                switch Lifecycle.move(from: oldStage, to: newStage, at: at, actor: .user(actor.userID), reason: new["recycle_reason"].text) {
                case .success(let t): try Self.recordTransition(db, id, t)
                case .failure(let refusal): throw StoreError.conflict(refusal.description)
                }
            }
            if let scorer = try activeScorer(db) { try Self.rescoreContact(db, scorer, id, at: at, event: "regrade") }
        case .accounts:
            guard let scorer = try activeScorer(db), let new else { return }
            for id in try String.fetchAll(db, sql: "SELECT id FROM contacts WHERE account_id = ?", arguments: [new.id]) {
                try Self.rescoreContact(db, scorer, id, at: at, event: "regrade")
            }
        case .personas:
            try Self.bumpPersonas(db)
        case .opportunities:
            guard let new else { return }
            try opportunityMoves(db, new, actor: actor, at: at)
            if new["is_won"] == .bool(true), old?["is_won"] != .bool(true) {
                var outbox = try Outbox(db)
                try outbox.emit(HandoverPlan.won(new, by: actor.userID), at: at)
            }
        case .opportunityContacts:
            guard let new, let oppID = new["opportunity_id"].text,
                let opp = try Self.fetch(db, .opportunities, id: oppID)
            else { return }
            try opportunityMoves(db, opp, actor: actor, at: at)
        default:
            return
        }
    }

    /// Creating an opportunity moves its contacts to opportunity; winning it, to customer.
    func opportunityMoves(_ db: Database, _ opp: Record, actor: Actor, at: Timestamp) throws {
        var contacts = try String.fetchAll(db, sql: "SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = ?", arguments: [opp.id])
        if let primary = opp["primary_contact_id"].text, !contacts.contains(primary) { contacts.append(primary) }
        let created = opp["created_at"].timestamp ?? at
        let won = opp["is_won"] == .bool(true)
        for id in contacts {
            try Self.moveForward(db, id, to: .opportunity, at: created, actor: .system("opportunity \(opp.id) created"))
            if won {
                try Self.moveForward(db, id, to: .customer, at: opp["closed_at"].timestamp ?? at, actor: .system("opportunity \(opp.id) won"))
            }
        }
    }

    /// Moves a contact forward when the lifecycle allows it; a contact already there or further
    /// (or disqualified) stays where it is.
    static func moveForward(_ db: Database, _ contactID: String, to target: LifecycleStage, at: Timestamp, actor: LifecycleActor) throws {
        guard let stageText = try Row.fetchOne(db, sql: "SELECT lifecycle_stage FROM contacts WHERE id = ?", arguments: [contactID]) else { return }
        let current = (stageText[0] as String?).flatMap(LifecycleStage.init(rawValue:))
        if let c = current?.rank, let t = target.rank, c >= t { return }
        if case .success(let t) = Lifecycle.move(from: current, to: target, at: at, actor: actor) { try recordTransition(db, contactID, t) }
    }

    // MARK: Reading scores

    public func transitions(contactID: String) async throws -> [StoredTransition] {
        try await pool.read { db in try Self.transitions(db, contactID) }
    }

    static func transitions(_ db: Database, _ contactID: String) throws -> [StoredTransition] {
        try Row.fetchAll(
            db,
            sql: "SELECT from_stage, to_stage, at, actor, reason, model_version FROM lifecycle_transitions WHERE contact_id = ? ORDER BY at, seq",
            arguments: [contactID]
        ).map {
            StoredTransition(from: $0[0], to: $0[1], at: Timestamp(milliseconds: $0[2]), actor: $0[3], reason: $0[4], modelVersion: $0[5])
        }
    }

    /// Why a contact has its score now, or nil when there is no such contact. Throws when no model
    /// is active.
    public func scoreExplanation(contactID given: String, at now: Timestamp) async throws -> ScoreExplanation? {
        try await pool.read { db in
            guard let scorer = try self.activeScorer(db) else {
                throw StoreError.conflict("no scoring model is active; apply one first (smarketing scoring apply FILE)")
            }
            var contactID = given
            if try !Self.exists(db, .contacts, id: given) {
                guard let kept = try String.fetchOne(db, sql: "SELECT kept_id FROM contact_merges WHERE removed_id = ?", arguments: [given]) else { return nil }
                contactID = kept
            }
            guard let (profile, stage, _, _) = try Self.loadProfile(db, contactID) else { return nil }
            let touches = try Self.loadTouches(db, contactID, properties: scorer.needsProperties)
            let before = try Self.lastAssigned(db, contactID)
            var stored: ContactScore?
            if let data = try Data.fetchOne(db, sql: "SELECT state FROM contact_scores WHERE contact_id = ?", arguments: [contactID]),
                let s = ScoreCodec.decode([UInt8](data), model: scorer.model), s.version == scorer.version
            {
                stored = s
            }
            let history = try Row.fetchAll(
                db,
                sql: "SELECT at, version, fit, grade, engagement, event FROM score_history WHERE contact_id = ? ORDER BY at, rowid",
                arguments: [contactID]
            ).map { ScoreHistoryPoint(at: Timestamp(milliseconds: $0[0]), version: $0[1], fit: $0[2], grade: $0[3], engagement: $0[4], event: $0[5]) }
            return ScoringRows.explanation(
                scorer: scorer,
                contactID: contactID,
                profile: profile,
                stage: stage,
                touches: touches,
                stored: stored,
                lastAssigned: before.found ? before.persona : nil,
                transitions: try Self.transitions(db, contactID),
                history: history,
                at: now
            )
        }
    }

    // MARK: Backtest input

    /// Every contact's profile, touches in time order and the time it reached `target`.
    public func backtestContacts(target: BacktestTarget, attributes: Set<String>?) async throws -> [BacktestContact] {
        try await pool.read { db in
            var reached: [String: Timestamp] = [:]
            for (id, t) in try Self.reached(target, db) { reached[id] = Timestamp(milliseconds: t) }
            var touches: [String: [TouchFacts]] = [:]
            let cursor = try Row.fetchCursor(db, sql: Self.touchSelect + " ORDER BY t.contact_id, t.occurred_at")
            while let row = try cursor.next() { touches[row[0], default: []].append(Self.touch(row, properties: true)) }
            let createdIndex = Resource.contacts.schema.index["created_at"]!
            return try Row.fetchAll(db, sql: Self.profileSelect + " ORDER BY c.id").map { row in
                let id: String = row[0]
                let (profile, _, _, _) = Self.profile(row, only: attributes)
                return BacktestContact(
                    id: id,
                    profile: profile,
                    start: Timestamp(milliseconds: row[createdIndex]),
                    touches: touches[id] ?? [],
                    target: reached[id]
                )
            }
        }
    }

    /// When each contact reached `target` (PRODUCT.md, `ReachedRule`): the `became_*_at` time,
    /// and only when that is empty the creation (opportunity) or winning close (won) of the first
    /// deal it is a contact or the primary contact of.
    static func reached(_ target: BacktestTarget, _ db: Database) throws -> [String: Int64] {
        let (own, deals) = ScoringRows.reachedQueries(target)
        func rows(_ sql: String) throws -> [(String, Int64)] { try Row.fetchAll(db, sql: sql).map { ($0[0], $0[1]) } }
        return ScoringRows.reached(own: try rows(own), deals: try deals.map(rows))
    }

    /// The MQLs per week the sales team can take: the sum of the sales users' capacity.
    public func salesCapacity() async throws -> Double? {
        try await pool.read { db in try Double.fetchOne(db, sql: "SELECT sum(capacity) FROM users WHERE team = 'sales' AND capacity IS NOT NULL") }
    }
}
