import Foundation
import GRDB
import GRDBSQLite
import SmarketingCore
import Synchronization

extension SQLiteStore {
    public func ingest(_ batches: [IngestBatch], at: Timestamp) async throws -> [IngestBatchResult] {
        do {
            return try await ingestTransaction(batches, at: at)
        } catch {
            // The transaction may have failed after the score cache took its states.
            scoreCache.withLock { $0 = ScoreCache() }
            throw error
        }
    }

    private func ingestTransaction(_ batches: [IngestBatch], at: Timestamp) async throws -> [IngestBatchResult] {
        try await writeRefreshingKPIs { db in
            var results: [IngestBatchResult] = []
            results.reserveCapacity(batches.count)
            // Statements are prepared once per transaction; lookups are cached per batch only,
            // since a rolled-back batch may have created contacts that no longer exist.
            var context = try IngestContext(db: db, store: self)
            context.cache = try self.takeScoreCache(db, version: context.scorer?.version)
            defer { self.returnScoreCache(db, context.cache) }
            for batch in batches {
                var result = IngestBatchResult(outcomes: [], committed: false)
                try db.inSavepoint {
                    context.resetCaches()
                    result.outcomes = try batch.events.map { event in
                        switch event {
                        case .failure(let rejection): return .rejected(rejection.reason)
                        case .success(let e): return try context.apply(e)
                        }
                    }
                    let rejected = result.outcomes.contains { if case .rejected = $0 { true } else { false } }
                    if batch.atomic, rejected {
                        result.outcomes = result.outcomes.map {
                            if case .rejected = $0 { return $0 }
                            return .rejected("not stored: another event of this atomic batch was rejected")
                        }
                        return .rollback
                    }
                    try context.flushScores()
                    try self.reactToTransitions(db, at: at)
                    try self.salesTouches(db, context.salesTouches, at: at)
                    try Self.noteTouchesForKPIs(db, sales: context.salesTouches, marketing: context.marketingTouches)
                    result.committed = true
                    let accepted = result.outcomes.count { if case .accepted = $0 { true } else { false } }
                    if accepted > 0 {
                        try Self.audit(
                            db,
                            batch.actor,
                            at,
                            "ingest",
                            "touchpoints",
                            "",
                            "{\"accepted\":\(accepted),\"events\":\(result.outcomes.count)}"
                        )
                    }
                    return .commit
                }
                results.append(result)
            }
            return results
        }
    }
}

/// The state of one batch inside the ingest transaction: statement and lookup caches.
struct IngestContext {
    let db: Database
    let store: SQLiteStore
    var contactExists: [String: String?] = [:]
    var contactByEmail: [String: KnownContact] = [:]
    var referenceExists: [String: Bool] = [:]
    var contentStage: [String: String?] = [:]
    /// The active scorer (nil: scoring off).
    let scorer: Scorer?
    var pending: [String: PendingScore] = [:]
    var currentID: String?
    var currentScore: PendingScore?
    /// Committed states of earlier transactions (see `ScoreCache`).
    var cache = ScoreCache()
    /// Contacts whose details the batch filled: graded again before their state is written.
    var regrade: Set<String> = []
    var dirty: Set<String> = []
    /// Contacts this batch created (they need a first score whatever their touch).
    var created: Set<String> = []
    /// Sales activities of this batch (contact, time), for the handover clocks.
    var salesTouches: [(String, Timestamp)] = []
    /// Per contact, its earliest marketing touch of the batch (for the KPI aggregates).
    var marketingTouches: [String: Int64] = [:]
    let insertTouchpoint: RawStatement
    let contactExistsQuery: RawStatement
    let touchpointExistsQuery: RawStatement
    let stateQuery: RawStatement
    let contactQuery: RawStatement
    let saveState: RawStatement
    let updateEngagement: RawStatement

    init(db: Database, store: SQLiteStore) throws {
        self.db = db
        self.store = store
        scorer = try store.activeScorer(db)
        insertTouchpoint = try RawStatement(
            db,
            """
            INSERT INTO touchpoints (id, contact_id, occurred_at, type, channel, campaign_id, content_id, actor_id, properties)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
            """
        )
        contactExistsQuery = try RawStatement(db, "SELECT 1 FROM contacts WHERE id = ?")
        stateQuery = try RawStatement(db, "SELECT state, persona_id FROM contact_scores WHERE contact_id = ?")
        contactQuery = try RawStatement(db, "SELECT lifecycle_stage, recycled_at, persona_id FROM contacts WHERE id = ?")
        saveState = try RawStatement(db, SQLiteStore.saveScoreSQL)
        updateEngagement = try RawStatement(db, "UPDATE contact_scores SET engagement = ?, latest = ?, state = ? WHERE contact_id = ?")
        touchpointExistsQuery = try RawStatement(db, "SELECT 1 FROM touchpoints WHERE id = ?")
    }

    mutating func resetCaches() {
        contactExists.removeAll(keepingCapacity: true)
        contactByEmail.removeAll(keepingCapacity: true)
        referenceExists.removeAll(keepingCapacity: true)
        contentStage.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        currentID = nil
        currentScore = nil
        salesTouches.removeAll()
        marketingTouches.removeAll()
        regrade.removeAll()
        dirty.removeAll()
        created.removeAll()
    }

    /// The id a contact id resolves to: itself, or the contact it was merged into.
    mutating func resolveContactID(_ id: String) throws -> String? {
        if let cached = contactExists[id] { return cached }
        var resolved: String?
        contactExistsQuery.bind(1, id)
        if try contactExistsQuery.hasRow() {
            resolved = id
        } else {
            resolved = try String.fetchOne(
                db.cachedStatement(sql: "SELECT kept_id FROM contact_merges WHERE removed_id = ?"),
                arguments: [id]
            )
        }
        contactExists[id] = resolved
        return resolved
    }

    mutating func referenceOK(_ r: Resource, _ id: String?) throws -> Bool {
        guard let id else { return true }
        let key = r.rawValue + "\u{0}" + id
        if let v = referenceExists[key] { return v }
        let v = try SQLiteStore.exists(db, r, id: id)
        referenceExists[key] = v
        return v
    }

    mutating func apply(_ event: IncomingEvent) throws -> EventOutcome {
        if !(try referenceOK(.campaigns, event.campaignID)) { return .rejected("campaign_id \"\(event.campaignID!)\" names no campaign") }
        if !(try referenceOK(.content, event.contentID)) { return .rejected("content_id \"\(event.contentID!)\" names no content") }
        if !(try referenceOK(.users, event.actorID)) { return .rejected("actor_id \"\(event.actorID!)\" names no user") }
        let contactID: String
        switch event.contact {
        case .id(let given):
            guard let id = try resolveContactID(given) else { return .rejected("contact_id \"\(given)\" names no contact") }
            contactID = id
        case .email(let key, let address, let details):
            // A re-sent event must not create or change anyone: check it first.
            touchpointExistsQuery.bind(1, event.id)
            if try touchpointExistsQuery.hasRow() { return .duplicate }
            contactID = try resolveEmail(key: key, address: address, details: details, event: event)
        }
        insertTouchpoint.bind(1, event.id)
        insertTouchpoint.bind(2, contactID)
        insertTouchpoint.bind(3, .timestamp(event.occurredAt))
        insertTouchpoint.bind(4, event.type)
        insertTouchpoint.bind(5, event.channel)
        insertTouchpoint.bind(6, event.campaignID)
        insertTouchpoint.bind(7, event.contentID)
        insertTouchpoint.bind(8, event.actorID)
        insertTouchpoint.bind(9, event.properties)
        if try insertTouchpoint.execute() == 0 { return .duplicate }
        try score(event, contactID: contactID)
        if event.actorID != nil, HandoverRules.salesTouchTypes.contains(event.type) { salesTouches.append((contactID, event.occurredAt)) }
        if event.actorID == nil { marketingTouches[contactID] = min(marketingTouches[contactID] ?? .max, event.occurredAt.milliseconds) }
        return .accepted(contactID: contactID)
    }

    mutating func resolveEmail(key: String, address: String, details: ContactDetails, event: IncomingEvent) throws -> String {
        var known = contactByEmail[key]
        if known == nil,
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT id, account_id, first_name, last_name, title, phone, country FROM contacts
                        WHERE email_key = ? ORDER BY created_at, id LIMIT 1
                        """
                ),
                arguments: [key]
            )
        {
            var filled: Set<String> = []
            for (i, name) in ["first_name", "last_name", "title", "phone", "country"].enumerated() where !row.hasNull(atIndex: i + 2) {
                filled.insert(name)
            }
            known = KnownContact(id: row[0], accountID: row[1], filled: filled)
        }
        var accountForDomain: String?
        let domain = EmailAddress.domain(ofKey: key)
        if known?.accountID == nil, !Domain.isFreeMail(domain) {
            accountForDomain = try String.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM accounts WHERE domain = ? ORDER BY created_at, id LIMIT 1"),
                arguments: [domain]
            )
        }
        let decision = IdentityResolution.resolve(
            key: key,
            address: address,
            details: details,
            event: event,
            known: known,
            accountForDomain: accountForDomain,
            newContactID: store.makeID("ct"),
            newAccountID: store.makeID("acc")
        )
        if let account = decision.newAccount { try insert(Record(.accounts, values: account)) }
        if let contact = decision.newContact {
            try insert(Record(.contacts, values: contact))
            created.insert(decision.contactID)
        }
        var updates: [String: FieldValue] = [:]
        for (name, value) in decision.fill { updates[name] = value }
        if let a = decision.attachAccountID { updates["account_id"] = .text(a) }
        if !updates.isEmpty {
            try updateContact(decision.contactID, updates)
            // Filled details can change the fit grade and the persona.
            if scorer != nil, decision.newContact == nil { regrade.insert(decision.contactID) }
        }
        var facts = known ?? KnownContact(id: decision.contactID, accountID: nil, filled: [])
        facts.filled.formUnion(updates.keys)
        if let a = decision.attachAccountID ?? decision.newContact.flatMap({ Record(.contacts, values: $0)["account_id"].text }) {
            facts.accountID = a
        }
        if decision.newContact != nil { facts.filled.formUnion(details.contactFields.map(\.0)) }
        contactByEmail[key] = facts
        contactExists[decision.contactID] = decision.contactID
        return decision.contactID
    }

    func insert(_ record: Record) throws {
        let cols = SQLiteStore.insertColumns(record.resource)
        try db.cachedStatement(
            sql: "INSERT INTO \(record.resource.rawValue) (\(cols.joined(separator: ", "))) VALUES (\(cols.map { _ in "?" }.joined(separator: ", ")))"
        ).execute(arguments: StatementArguments(SQLiteStore.insertArguments(record)))
    }

    func updateContact(_ id: String, _ fields: [String: FieldValue]) throws {
        let names = fields.keys.sorted()
        try db.execute(
            sql: "UPDATE contacts SET \(names.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?",
            arguments: StatementArguments(names.map { SQLiteValue.database(fields[$0]!) } + [id.databaseValue])
        )
    }

}
