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
        try await pool.write { db in
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
        regrade.removeAll()
        dirty.removeAll()
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
        if let contact = decision.newContact { try insert(Record(.contacts, values: contact)) }
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

    // MARK: Scoring

    /// Counts a stored touch into its contact's score (state kept in `pending` until the batch
    /// ends, so a burst of events for one contact reads and writes its state once).
    mutating func score(_ event: IncomingEvent, contactID: String) throws {
        guard let scorer else { return }
        let facts = try touchFacts(event, scorer)
        // Events of one contact usually come together: the contact being scored stays out of
        // the dictionary until another one comes.
        if currentID == contactID, var p = currentScore {
            currentScore = nil
            scorer.add(facts, to: &p.state)
            if !regrade.isEmpty, regrade.remove(contactID) != nil { try regradePending(&p, scorer, contactID) }
            try decideMQL(&p, scorer, contactID)
            currentScore = p
            return
        }
        parkCurrent()
        // Taken out of the dictionary while it changes, so its arrays are not copied.
        if var p = pending.removeValue(forKey: contactID) {
            scorer.add(facts, to: &p.state)
            if !regrade.isEmpty, regrade.remove(contactID) != nil { try regradePending(&p, scorer, contactID) }
            try decideMQL(&p, scorer, contactID)
            currentID = contactID
            currentScore = p
            return
        }
        // One lookup in the scores table; the contact row is read only when needed (a new or
        // outdated score, a regrade, or an MQL rule that holds).
        let loaded: (state: [UInt8]?, lastAssigned: String?)?
        var stored: ContactScore?
        if let hit = cache.entries[contactID] {
            loaded = (nil, hit.lastAssigned)
            stored = hit.state
        } else {
            stateQuery.bind(1, contactID)
            loaded = try stateQuery.firstRow { row in (state: row.blob(0), lastAssigned: row.text(1)) }
            stored = loaded?.state.flatMap { ScoreCodec.decode($0, model: scorer.model) }
        }
        var p = PendingScore(
            state: stored ?? ContactScore(version: scorer.version, grade: scorer.model.fit.bands.lowest),
            previousGrade: loaded == nil ? nil : stored?.grade ?? "",
            lastAssigned: loaded?.lastAssigned
        )
        if loaded != nil, let stored { p.previous = (stored.version, stored.fitPoints, stored.grade, stored.assignedPersona) }
        if let stored, stored.version == scorer.version {
            scorer.add(facts, to: &p.state)
            if !regrade.isEmpty, regrade.remove(contactID) != nil { try regradePending(&p, scorer, contactID) }
        } else {
            // New contact, or scored under another version: from its whole history (this touch
            // is already stored, so it is part of it).
            guard let (profile, stage, recycledAt, persona) = try SQLiteStore.loadProfile(db, contactID) else { return }
            p.contact = ContactStage(stage: stage, recycledAt: recycledAt, persona: persona)
            var state = scorer.newState(profile, lastAssigned: loaded == nil ? nil : p.lastAssigned)
            for t in try SQLiteStore.loadTouches(db, contactID, properties: scorer.needsProperties) { scorer.add(t, to: &state) }
            p.state = state
            regrade.remove(contactID)
        }
        try decideMQL(&p, scorer, contactID)
        currentID = contactID
        currentScore = p
    }

    /// Puts the contact being scored back with the others.
    mutating func parkCurrent() {
        if let id = currentID, let p = currentScore { pending[id] = p }
        currentID = nil
        currentScore = nil
    }

    mutating func regradePending(_ p: inout PendingScore, _ scorer: Scorer, _ contactID: String) throws {
        guard let (profile, stage, recycledAt, persona) = try SQLiteStore.loadProfile(db, contactID) else { return }
        p.contact = ContactStage(stage: stage, recycledAt: recycledAt, persona: persona)
        scorer.regrade(&p.state, profile, lastAssigned: p.lastAssigned)
        dirty.insert(contactID)
    }

    /// Moves the contact to MQL when the rule holds at its latest touch.
    mutating func decideMQL(_ p: inout PendingScore, _ scorer: Scorer, _ contactID: String) throws {
        guard let at = p.state.latest, scorer.qualifies(p.state, at: at) else { return }
        if p.contact == nil {
            contactQuery.bind(1, contactID)
            p.contact = try contactQuery.firstRow { row in
                ContactStage(
                    stage: row.text(0).flatMap(LifecycleStage.init(rawValue:)),
                    recycledAt: row.int64(1).map(Timestamp.init(milliseconds:)),
                    persona: row.text(2)
                )
            }
        }
        guard let c = p.contact, let move = scorer.mqlMove(stage: c.stage, recycledAt: c.recycledAt, state: p.state, at: at) else { return }
        try SQLiteStore.recordTransition(db, contactID, move)
        try SQLiteStore.history(db, contactID, p.state, at: at, event: "mql")
        p.contact?.stage = .mql
    }

    /// Writes the batch's changed scores.
    mutating func flushScores() throws {
        guard scorer != nil else { return }
        parkCurrent()
        for (contactID, p) in pending {
            let st = p.state
            if p.sameGrading {
                // The usual case: only the engagement moved; the indexed columns stay as they are.
                updateEngagement.bind(1, st.latest.map { st.engagement.value(at: $0) } ?? 0)
                updateEngagement.bind(2, st.latest?.milliseconds)
                updateEngagement.bind(3, blob: ScoreCodec.encode(st))
                updateEngagement.bind(4, contactID)
                try updateEngagement.execute()
            } else {
                saveState.bind(1, contactID)
                saveState.bind(2, Int64(st.version))
                saveState.bind(3, st.fitPoints)
                saveState.bind(4, st.grade)
                saveState.bind(5, st.latest.map { st.engagement.value(at: $0) } ?? 0)
                saveState.bind(6, st.latest?.milliseconds)
                saveState.bind(7, st.assignedPersona)
                saveState.bind(8, blob: ScoreCodec.encode(st))
                try saveState.execute()
            }
            cache.remember(contactID, st)
            // The persona column changes only after a regrade or rescoring, which read it.
            if let c = p.contact, !p.state.personaByHand, c.persona != p.state.personaID {
                try db.execute(sql: "UPDATE contacts SET persona_id = ? WHERE id = ?", arguments: [p.state.personaID, contactID])
            }
            if p.previousGrade != p.state.grade {
                let at = p.state.latest ?? Timestamp(milliseconds: 0)
                try SQLiteStore.history(db, contactID, p.state, at: at, event: p.previousGrade == nil ? "created" : "regrade")
            }
        }
        pending.removeAll(keepingCapacity: true)
        // Contacts regraded while a model apply runs are regraded again under the new model.
        for id in dirty { try db.execute(sql: "INSERT OR IGNORE INTO scoring_dirty(contact_id) VALUES (?)", arguments: [id]) }
        dirty.removeAll()
        regrade.removeAll()
    }

    /// What the rules see of an event: only what the rules that can match its type look at
    /// (content stages cached per batch, properties parsed only when read).
    mutating func touchFacts(_ e: IncomingEvent, _ scorer: Scorer) throws -> TouchFacts {
        let (typeNumber, needs) = scorer.model.engagement.lookup(type: e.type)
        var stage: String?
        if needs.contentStage, let content = e.contentID {
            if let cached = contentStage[content] {
                stage = cached
            } else {
                stage = try String.fetchOne(db.cachedStatement(sql: "SELECT funnel_stage FROM content WHERE id = ?"), arguments: [content])
                contentStage[content] = .some(stage)
            }
        }
        var props: [String: String] = [:]
        var url: String?
        if let text = e.properties {
            if needs.properties {
                props = JSONObjectCheck.topLevelStrings(text) ?? [:]
                url = props["url"]
            } else if needs.url {
                url = JSONObjectCheck.topLevelString(text, key: "url")
            }
        }
        return TouchFacts(
            url: url,
            typeNumber: typeNumber,
            id: e.id,
            at: e.occurredAt,
            type: e.type,
            channel: e.channel,
            campaignID: e.campaignID,
            contentID: e.contentID,
            contentStage: stage,
            properties: props,
            actorID: e.actorID
        )
    }
}

/// A contact's score while a batch runs.
struct PendingScore {
    var state: ContactScore
    /// The grade stored before the batch (nil: the contact had no score).
    var previousGrade: String?
    /// The stored row holds this version, fit, grade and assigned persona already.
    var sameGrading: Bool {
        guard let previous, previousGrade != nil else { return false }
        return previous.version == state.version && previous.fitPoints == state.fitPoints && previous.grade == state.grade
            && previous.assignedPersona == state.assignedPersona
    }
    /// Version, fit, grade and assigned persona as stored before the batch.
    var previous: (version: Int, fitPoints: Double, grade: String, assignedPersona: String?)?
    /// The persona scoring assigned before the batch.
    var lastAssigned: String?
    /// The contact's stage and persona column, once read.
    var contact: ContactStage?
}

/// What the ingest reads of a contact row for scoring.
struct ContactStage {
    var stage: LifecycleStage?
    var recycledAt: Timestamp?
    /// The contact's persona_id column.
    var persona: String?
}

/// Decoded scores of recently ingested contacts, kept between ingest transactions so that a
/// contact's next event needs no lookup and no decoding.
///
/// Entries are exactly what the last committed ingest wrote. The cache is trusted only while
/// nothing else wrote: it is dropped when another connection committed (`PRAGMA data_version`),
/// when this connection changed anything outside an ingest (`sqlite3_total_changes64`: record
/// edits, applies, merges, imports), when the model version changes, and when an ingest
/// transaction fails.
struct ScoreCache: Sendable {
    struct Entry: Sendable {
        var state: ContactScore
        /// The persona the scores table says scoring assigned.
        var lastAssigned: String?
    }
    var entries: [String: Entry] = [:]
    var version: Int?
    var dataVersion: Int64 = -1
    var totalChanges: Int64 = -1
    static let limit = 300_000

    mutating func remember(_ contactID: String, _ state: ContactScore) {
        if entries.count >= Self.limit, entries[contactID] == nil { entries.removeAll(keepingCapacity: true) }
        entries[contactID] = Entry(state: state, lastAssigned: state.assignedPersona)
    }
}

extension SQLiteStore {
    /// The cache for one ingest transaction (the store keeps none while it runs), emptied when
    /// it cannot be trusted.
    func takeScoreCache(_ db: Database, version: Int?) throws -> ScoreCache {
        var cache = scoreCache.withLock { c in
            let taken = c
            c = ScoreCache()
            return taken
        }
        let dataVersion = try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
        let totalChanges = db.sqliteConnection.map { sqlite3_total_changes64($0) } ?? -1
        if version == nil || cache.version != version || cache.dataVersion != dataVersion || cache.totalChanges != totalChanges {
            cache = ScoreCache()
        }
        cache.version = version
        cache.dataVersion = dataVersion
        return cache
    }

    /// Keeps the cache for the next transaction, marking how many changes this connection had made.
    func returnScoreCache(_ db: Database, _ cache: ScoreCache) {
        var c = cache
        c.totalChanges = db.sqliteConnection.map { sqlite3_total_changes64($0) } ?? -2
        if c.version == nil { c = ScoreCache() }
        scoreCache.withLock { $0 = c }
    }
}
