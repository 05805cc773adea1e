import Foundation
import GRDB
import GRDBSQLite
import SmarketingCore
import Synchronization

/// Scoring inside the ingest transaction: each stored touch counts into its contact's score.
extension IngestContext {

    /// Counts a stored touch into its contact's score (state kept in `pending` until the batch
    /// ends, so a burst of events for one contact reads and writes its state once).
    mutating func score(_ event: IncomingEvent, contactID: String) throws {
        guard let scorer else { return }
        // A touch no rule can match changes nothing for a contact that has its score already
        // (every contact not created by this batch got one when it was created or imported).
        if !scorer.model.engagement.anyRuleCanMatch(type: event.type), created.isEmpty || !created.contains(contactID),
            regrade.isEmpty || !regrade.contains(contactID)
        {
            return
        }
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
            p.state = scorer.replay(
                profile,
                touches: try SQLiteStore.loadTouches(db, contactID, properties: scorer.needsProperties),
                lastAssigned: loaded == nil ? nil : p.lastAssigned
            )
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
