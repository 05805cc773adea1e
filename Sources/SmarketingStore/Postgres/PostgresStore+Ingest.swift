import Foundation
import SmarketingCore

/// Event ingest on PostgreSQL: the rules of the SQLite ingest (docs/IDENTITY.md; one contact per
/// email, one account per company domain; re-sent events change nothing; atomic batches store
/// all or nothing; scores and MQL moves follow every stored touch), made safe for several
/// instances writing at once:
///
/// - every email key and company domain of the transaction is locked up front with an advisory
///   lock, in one order, before it is looked up: two instances receiving the first events of one
///   new person create one contact (and one account for a new domain);
/// - the contacts whose scores change are locked in id order (`FOR NO KEY UPDATE`, which leaves
///   inserts of their touchpoints free) before their scores are read;
/// - an event id both instances store at once is stored once: `ON CONFLICT DO NOTHING
///   RETURNING` says which instance stored it, and only that one scores it;
/// - imports (which merge same-email contacts) and ingests take turns.
///
/// A batch is checked, resolved and written as sets (a few statements per batch, not several
/// per event); MQL moves open handovers and sales touches meet their clocks in the same
/// transaction; the KPI aggregates follow before it commits.
extension PostgresStore: IngestStore {
    /// Advisory lock classes (the two-key form) of email keys and company domains.
    static let emailLockClass: Int32 = 0x736D_6B65  // "smke"
    static let domainLockClass: Int32 = 0x736D_6B64  // "smkd"

    public func ingest(_ batches: [IngestBatch], at: Timestamp) async throws -> [IngestBatchResult] {
        try await write { c in
            try await c.execute("SELECT pg_advisory_xact_lock_shared(?)", [.int(Self.importLock)])
            let scorer = try await self.activeScorer(c)
            let passRunning = scorer == nil ? false : try await Self.shareScoring(c)
            try await Self.lockIdentities(c, batches)
            var results: [IngestBatchResult] = []
            results.reserveCapacity(batches.count)
            for batch in batches {
                results.append(try await self.ingestBatch(c, batch, scorer: scorer, passRunning: passRunning, at: at))
            }
            return results
        }
    }

    /// Locks every email key and company domain of the transaction, sorted (so that two
    /// transactions wait for each other instead of deadlocking).
    static func lockIdentities(_ c: PGConn, _ batches: [IngestBatch]) async throws {
        var keys: Set<String> = []
        var domains: Set<String> = []
        for batch in batches {
            for case .success(let e) in batch.events {
                guard case .email(let key, _, _) = e.contact else { continue }
                keys.insert(key)
                let domain = EmailAddress.domain(ofKey: key)
                if !Domain.isFreeMail(domain) { domains.insert(domain) }
            }
        }
        try await lockIdentityKeys(c, keys: keys, domains: domains)
    }

    /// Locks email keys and company domains (advisory locks, sorted), as the ingest does.
    static func lockIdentityKeys(_ c: PGConn, keys: Set<String>, domains: Set<String>) async throws {
        guard !keys.isEmpty || !domains.isEmpty else { return }
        try await c.execute(
            """
            SELECT count(pg_advisory_xact_lock(k.class, k.h)) FROM (
              SELECT DISTINCT * FROM (
                SELECT ?::int AS class, hashtext(e) AS h FROM unnest(?::text[]) AS u(e)
                UNION ALL SELECT ?::int, hashtext(d) FROM unnest(?::text[]) AS v(d)
              ) x ORDER BY 1, 2 OFFSET 0
            ) k
            """,
            [.int(Int64(emailLockClass)), .textArray(keys.sorted()), .int(Int64(domainLockClass)), .textArray(domains.sorted())]
        )
    }

    /// One batch: checked, resolved and written; returns each event's outcome.
    func ingestBatch(_ c: PGConn, _ batch: IngestBatch, scorer: Scorer?, passRunning: Bool, at: Timestamp) async throws -> IngestBatchResult {
        let events: [IncomingEvent] = batch.events.compactMap { try? $0.get() }
        guard !events.isEmpty else {
            return IngestBatchResult(outcomes: batch.events.map { Self.rejection($0) ?? .rejected("not stored") }, committed: !batch.atomic || batch.events.isEmpty)
        }
        // References, known ids and stored event ids: one query each for the whole batch.
        let campaigns = try await Self.existing(c, "campaigns", events.compactMap(\.campaignID), keyShare: true)
        let contents = try await Self.existing(c, "content", events.compactMap(\.contentID), keyShare: true)
        let users = try await Self.existing(c, "users", events.compactMap(\.actorID), keyShare: true)
        var resolvedID = try await Self.resolveContactIDs(c, events.compactMap { if case .id(let id) = $0.contact { id } else { nil } })
        let storedEvents = try await Self.existing(c, "touchpoint_ids", events.compactMap { if case .email = $0.contact { $0.id } else { nil } })
        var known = try await Self.knownByEmail(c, events.compactMap { if case .email(let key, _, _) = $0.contact { key } else { nil } })
        var accountForDomain = try await Self.accountsByDomain(c, events)

        // Decide every event in order (in memory), collecting what to write.
        var outcomes: [EventOutcome] = []
        outcomes.reserveCapacity(batch.events.count)
        var newAccounts: [Record] = []
        var newContacts: [Record] = []
        var created: Set<String> = []
        var fills: [String: [String: FieldValue]] = [:]
        var toStore: [(IncomingEvent, String)] = []
        var seenEvents: Set<String> = []
        for item in batch.events {
            guard case .success(let e) = item else {
                outcomes.append(Self.rejection(item) ?? .rejected("not stored"))
                continue
            }
            if let id = e.campaignID, !campaigns.contains(id) { outcomes.append(.rejected("campaign_id \"\(id)\" names no campaign")); continue }
            if let id = e.contentID, !contents.contains(id) { outcomes.append(.rejected("content_id \"\(id)\" names no content")); continue }
            if let id = e.actorID, !users.contains(id) { outcomes.append(.rejected("actor_id \"\(id)\" names no user")); continue }
            let contactID: String
            switch e.contact {
            case .id(let given):
                guard let id = resolvedID[given] else { outcomes.append(.rejected("contact_id \"\(given)\" names no contact")); continue }
                contactID = id
            case .email(let key, let address, let details):
                // A re-sent event must not create or change anyone.
                if storedEvents.contains(e.id) || seenEvents.contains(e.id) { outcomes.append(.duplicate); continue }
                let domain = EmailAddress.domain(ofKey: key)
                let decision = IdentityResolution.resolve(
                    key: key,
                    address: address,
                    details: details,
                    event: e,
                    known: known[key],
                    accountForDomain: accountForDomain[domain],
                    newContactID: makeID("ct"),
                    newAccountID: makeID("acc")
                )
                if let account = decision.newAccount {
                    let record = Record(.accounts, values: account)
                    newAccounts.append(record)
                    accountForDomain[domain] = record.id
                }
                var facts = known[key] ?? KnownContact(id: decision.contactID, accountID: nil, filled: [])
                if let contact = decision.newContact {
                    let record = Record(.contacts, values: contact)
                    newContacts.append(record)
                    created.insert(decision.contactID)
                    facts.accountID = record["account_id"].text
                    facts.filled.formUnion(details.contactFields.map(\.0))
                }
                var updates: [String: FieldValue] = [:]
                for (name, value) in decision.fill { updates[name] = value }
                if let a = decision.attachAccountID {
                    updates["account_id"] = .text(a)
                    facts.accountID = a
                }
                if !updates.isEmpty {
                    if created.contains(decision.contactID), let i = newContacts.lastIndex(where: { $0.id == decision.contactID }) {
                        for (name, value) in updates { newContacts[i][name] = value }
                    } else {
                        fills[decision.contactID, default: [:]].merge(updates) { _, new in new }
                    }
                    facts.filled.formUnion(updates.keys)
                }
                known[key] = facts
                resolvedID[decision.contactID] = decision.contactID
                contactID = decision.contactID
            }
            if seenEvents.contains(e.id) { outcomes.append(.duplicate); continue }
            seenEvents.insert(e.id)
            toStore.append((e, contactID))
            outcomes.append(.accepted(contactID: contactID))
        }
        let rejected = outcomes.contains { if case .rejected = $0 { true } else { false } }
        if batch.atomic, rejected {
            return IngestBatchResult(
                outcomes: outcomes.map {
                    if case .rejected = $0 { return $0 }
                    return .rejected("not stored: another event of this atomic batch was rejected")
                },
                committed: false
            )
        }

        // Lock the existing contacts that change, in id order; new ones are this transaction's.
        let existingTouched = Set(toStore.map(\.1)).subtracting(created).sorted()
        let locked = Set(
            try await c.rows("SELECT id FROM contacts WHERE id = ANY(?::text[]) ORDER BY id FOR NO KEY UPDATE", [.textArray(existingTouched)])
                .compactMap { $0.text(0) }
        )
        if locked.count != existingTouched.count {
            // A contact was merged away or deleted since it was looked up: a serialization
            // conflict, so the whole ingest runs again from the start.
            throw StoreError.unavailable("a contact changed while the events were stored; send them again")
        }

        try await Self.insertRecords(c, newAccounts)
        try await Self.insertRecords(c, newContacts)
        for (id, fields) in fills.sorted(by: { $0.key < $1.key }) {
            let names = fields.keys.sorted()
            try await c.execute(
                "UPDATE contacts SET \(names.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?",
                names.map { PGValue(fields[$0] ?? .null) } + [.text(id)]
            )
        }

        // Which events this transaction stored (another instance may have stored one meanwhile).
        let stored = try await Self.insertTouchpoints(c, toStore.map(\.0), contactIDs: toStore.map(\.1))
        var accepted = 0
        var index = 0
        for (i, outcome) in outcomes.enumerated() {
            guard case .accepted = outcome else { continue }
            if !stored.contains(toStore[index].0.id) { outcomes[i] = .duplicate } else { accepted += 1 }
            index += 1
        }
        let storedNow = toStore.filter { stored.contains($0.0.id) }
        if let scorer, !storedNow.isEmpty {
            try await scoreStored(
                c,
                scorer,
                storedNow,
                created: created,
                regrade: Set(fills.keys),
                passRunning: passRunning
            )
        }
        try await reactToTransitions(c, at: at)
        let sales = storedNow.filter { $0.0.actorID != nil && HandoverRules.salesTouchTypes.contains($0.0.type) }.map { (contactID: $0.1, at: $0.0.occurredAt) }
        try await salesTouches(c, sales, at: at)
        try await Self.noteTouchesForKPIs(c, sales: sales, marketing: storedNow.filter { $0.0.actorID == nil }.map { ($0.1, $0.0.occurredAt) })
        if accepted > 0 {
            try await Self.audit(c, batch.actor, at, "ingest", "touchpoints", "", "{\"accepted\":\(accepted),\"events\":\(outcomes.count)}")
        }
        return IngestBatchResult(outcomes: outcomes, committed: true)
    }

    /// Notes the records new touches may change for the KPI aggregates (touchpoint inserts
    /// have no trigger; see `SQLiteStore.noteTouchesForKPIs` for which touches can change what).
    static func noteTouchesForKPIs(_ c: PGConn, sales: [(contactID: String, at: Timestamp)], marketing: [(String, Timestamp)]) async throws {
        if !sales.isEmpty {
            try await c.execute(
                """
                INSERT INTO kpi_dirty SELECT DISTINCT 'c', c.id FROM contacts c JOIN unnest(?::text[], ?::bigint[]) AS s(id, at) ON c.id = s.id
                WHERE (c.became_mql_at IS NOT NULL AND c.assigned_at <= s.at
                       AND NOT EXISTS (SELECT 1 FROM kpi_facts f WHERE f.kind = 'c' AND f.id = s.id AND f.responded_at <= s.at))
                   OR (c.lifecycle_stage IN ('mql', 'sal', 'sql')
                       AND NOT EXISTS (SELECT 1 FROM kpi_facts f WHERE f.kind = 'c' AND f.id = s.id AND f.idle_until > s.at))
                """,
                [.textArray(sales.map(\.contactID)), .textArray(sales.map { String($0.at.milliseconds) })]
            )
        }
        var first: [String: Int64] = [:]
        for (contact, at) in marketing { first[contact] = min(first[contact] ?? .max, at.milliseconds) }
        if !first.isEmpty {
            let ids = first.keys.sorted()
            try await c.execute(
                """
                INSERT INTO kpi_dirty SELECT DISTINCT 'd', dc.opportunity_id FROM kpi_deal_contacts dc
                JOIN unnest(?::text[], ?::bigint[]) AS m(id, at) ON dc.contact_id = m.id WHERE dc.won_closed_at >= m.at
                """,
                [.textArray(ids), .textArray(ids.map { String(first[$0] ?? 0) })]
            )
        }
    }

    static func rejection(_ item: Result<IncomingEvent, EventRejection>) -> EventOutcome? {
        if case .failure(let r) = item { return .rejected(r.reason) }
        return nil
    }

    /// Which of `ids` exist in `table`.
    /// The ids of `table` that exist. `keyShare` locks them against deletion until the commit:
    /// touchpoints have no database-level foreign keys (docs/SCALE.md), so a record a new
    /// touchpoint names is held this way (a delete locks it `FOR UPDATE`, then finds the touchpoint).
    static func existing(_ c: PGConn, _ table: String, _ ids: [String], keyShare: Bool = false) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let lock = keyShare ? " ORDER BY id FOR KEY SHARE" : ""
        return Set(try await c.rows("SELECT id FROM \(table) WHERE id = ANY(?::text[])\(lock)", [.textArray(Array(Set(ids)))]).compactMap { $0.text(0) })
    }

    /// What each given contact id resolves to: itself, or the contact it was merged into.
    static func resolveContactIDs(_ c: PGConn, _ ids: [String]) async throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        var out: [String: String] = [:]
        for id in try await existing(c, "contacts", ids, keyShare: true) { out[id] = id }
        let missing = Set(ids).subtracting(out.keys)
        if !missing.isEmpty {
            for row in try await c.rows("SELECT removed_id, kept_id FROM contact_merges WHERE removed_id = ANY(?::text[])", [.textArray(Array(missing))]) {
                if let removed = row.text(0), let kept = row.text(1) { out[removed] = kept }
            }
        }
        return out
    }

    /// The contact each email key names (the earliest created), with what an event may fill.
    static func knownByEmail(_ c: PGConn, _ keys: [String]) async throws -> [String: KnownContact] {
        guard !keys.isEmpty else { return [:] }
        var out: [String: KnownContact] = [:]
        let detailColumns = ["first_name", "last_name", "title", "phone", "country"]
        for row in try await c.rows(
            """
            SELECT DISTINCT ON (email_key) email_key, id, account_id, \(detailColumns.joined(separator: ", ")) FROM contacts
            WHERE email_key = ANY(?::text[]) ORDER BY email_key, created_at, id
            """,
            [.textArray(Array(Set(keys)))]
        ) {
            guard let key = row.text(0), let id = row.text(1) else { continue }
            var filled: Set<String> = []
            for (i, name) in detailColumns.enumerated() where row[i + 3] != .null { filled.insert(name) }
            out[key] = KnownContact(id: id, accountID: row.text(2), filled: filled)
        }
        return out
    }

    /// The account of each company domain of the batch's addresses (the earliest created).
    static func accountsByDomain(_ c: PGConn, _ events: [IncomingEvent]) async throws -> [String: String] {
        let domains = Set(
            events.compactMap { e -> String? in
                guard case .email(let key, _, _) = e.contact else { return nil }
                let d = EmailAddress.domain(ofKey: key)
                return Domain.isFreeMail(d) ? nil : d
            }
        )
        guard !domains.isEmpty else { return [:] }
        var out: [String: String] = [:]
        for row in try await c.rows(
            "SELECT DISTINCT ON (domain) domain, id FROM accounts WHERE domain = ANY(?::text[]) ORDER BY domain, created_at, id",
            [.textArray(Array(domains))]
        ) {
            if let d = row.text(0), let id = row.text(1) { out[d] = id }
        }
        return out
    }

    /// Inserts records of one resource with one statement per 500.
    static func insertRecords(_ c: PGConn, _ records: [Record]) async throws {
        guard let resource = records.first?.resource else { return }
        let cols = insertColumns(resource)
        let row = "(" + Array(repeating: "?", count: cols.count).joined(separator: ", ") + ")"
        for start in stride(from: 0, to: records.count, by: 500) {
            let part = records[start..<min(start + 500, records.count)]
            try await c.execute(
                "INSERT INTO \(resource.rawValue) (\(cols.joined(separator: ", "))) VALUES \(Array(repeating: row, count: part.count).joined(separator: ", "))",
                part.flatMap { insertArguments($0) }
            )
        }
    }

    /// Stores touchpoints; returns the ids this statement stored (not those stored before, by
    /// this or another transaction).
    static func insertTouchpoints(_ c: PGConn, _ events: [IncomingEvent], contactIDs: [String]) async throws -> Set<String> {
        var stored: Set<String> = []
        for start in stride(from: 0, to: events.count, by: 500) {
            let end = min(start + 500, events.count)
            var args: [PGValue] = []
            args.reserveCapacity((end - start) * 9)
            for i in start..<end {
                let e = events[i]
                args += [
                    .text(e.id), .text(contactIDs[i]), .int(e.occurredAt.milliseconds), .text(e.type), .of(e.channel), .of(e.campaignID),
                    .of(e.contentID), .of(e.actorID), .of(e.properties),
                ]
            }
            let rows = try await c.rows(
                """
                INSERT INTO touchpoints (id, contact_id, occurred_at, type, channel, campaign_id, content_id, actor_id, properties)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", count: end - start).joined(separator: ", "))
                RETURNING id
                """,
                args
            )
            for row in rows { if let id = row.text(0) { stored.insert(id) } }
        }
        return stored
    }

    // MARK: Scoring the stored events

    /// Counts the stored events into their contacts' scores (in the batch's order), makes the MQL
    /// moves they cause and writes the scores, one statement for all.
    func scoreStored(
        _ c: PGConn,
        _ scorer: Scorer,
        _ events: [(IncomingEvent, String)],
        created: Set<String>,
        regrade: Set<String>,
        passRunning: Bool
    ) async throws {
        var byContact: [String: [IncomingEvent]] = [:]
        for (e, id) in events { byContact[id, default: []].append(e) }
        // A contact that has its score and got only touches no rule can match keeps it.
        let ids = byContact.keys.filter { id in
            created.contains(id) || regrade.contains(id) || (byContact[id] ?? []).contains { scorer.model.engagement.anyRuleCanMatch(type: $0.type) }
        }.sorted()
        guard !ids.isEmpty else { return }
        var storedState: [String: (state: ContactScore?, grade: String, version: Int64, assigned: String?)] = [:]
        for row in try await c.rows("SELECT contact_id, state, grade, version, persona_id FROM contact_scores WHERE contact_id = ANY(?::text[])", [.textArray(ids)]) {
            guard let id = row.text(0) else { continue }
            storedState[id] = (row.bytes(1).flatMap { ScoreCodec.decode($0, model: scorer.model) }, row.text(2) ?? "", row.int(3) ?? 0, row.text(4))
        }
        var stages: [String: (stage: LifecycleStage?, recycledAt: Timestamp?, persona: String?)] = [:]
        for row in try await c.rows("SELECT id, lifecycle_stage, recycled_at, persona_id FROM contacts WHERE id = ANY(?::text[])", [.textArray(ids)]) {
            guard let id = row.text(0) else { continue }
            stages[id] = (row.text(1).flatMap(LifecycleStage.init(rawValue:)), row.int(2).map(Timestamp.init(milliseconds:)), row.text(3))
        }
        var contentStage: [String: String] = [:]
        let contentIDs = Set(events.compactMap(\.0.contentID))
        if !contentIDs.isEmpty {
            for row in try await c.rows("SELECT id, funnel_stage FROM content WHERE id = ANY(?::text[])", [.textArray(Array(contentIDs))]) {
                if let id = row.text(0), let stage = row.text(1) { contentStage[id] = stage }
            }
        }
        var scores: [(String, ContactScore)] = []
        var dirty: [String: Int] = [:]
        for id in ids {
            let batchEvents = byContact[id] ?? []
            let before = storedState[id]
            var state: ContactScore
            if let s = before?.state, s.version == scorer.version, !regrade.contains(id) {
                state = s
            } else {
                // New, regraded or scored under another version: from its history before this batch.
                guard let (profile, _, _, _) = try await Self.loadProfile(c, id) else { continue }
                let history = try await c.rows(
                    ScoringRows.touchSelect + " WHERE t.contact_id = ? AND NOT (t.id = ANY(?::text[])) ORDER BY t.occurred_at, t.id",
                    [.text(id), .textArray(batchEvents.map(\.id))]
                ).map { Self.touch($0, properties: scorer.needsProperties) }
                if let s = before?.state, s.version == scorer.version {
                    // Only the details changed: the engagement stays, the grade and persona follow the profile.
                    state = s
                    scorer.regrade(&state, profile, lastAssigned: before?.assigned)
                } else {
                    state = scorer.replay(profile, touches: history, lastAssigned: before == nil ? nil : before?.assigned)
                }
            }
            var contact = stages[id]
            for e in batchEvents {
                scorer.add(Self.touchFacts(e, contentStage: e.contentID.flatMap { contentStage[$0] }, scorer: scorer), to: &state)
                guard let at = state.latest, let stage = contact, scorer.qualifies(state, at: at),
                    let move = scorer.mqlMove(stage: stage.stage, recycledAt: stage.recycledAt, state: state, at: at)
                else { continue }
                try await Self.recordTransition(c, id, move)
                try await Self.history(c, id, state, at: at, event: "mql")
                contact?.stage = .mql
            }
            scores.append((id, state))
            if let c0 = contact, !state.personaByHand, c0.persona != state.personaID {
                try await c.execute("UPDATE contacts SET persona_id = ? WHERE id = ?", [.of(state.personaID), .text(id)])
            }
            if before?.grade != state.grade || before == nil {
                try await Self.history(c, id, state, at: state.latest ?? Timestamp(milliseconds: 0), event: before == nil ? "created" : "regrade")
            }
            if passRunning { dirty[id] = batchEvents.count }
        }
        for start in stride(from: 0, to: scores.count, by: 1000) {
            let part = scores[start..<min(start + 1000, scores.count)]
            try await c.execute(
                """
                INSERT INTO contact_scores(contact_id, version, fit, grade, engagement, latest, persona_id, state)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: part.count).joined(separator: ", "))
                ON CONFLICT(contact_id) DO UPDATE SET version = excluded.version, fit = excluded.fit, grade = excluded.grade,
                  engagement = excluded.engagement, latest = excluded.latest, persona_id = excluded.persona_id, state = excluded.state
                """,
                part.flatMap { Self.scoreArguments($0.0, $0.1) }
            )
        }
        try await Self.markDirty(c, dirty)
    }

    /// What the rules see of an event.
    static func touchFacts(_ e: IncomingEvent, contentStage: String?, scorer: Scorer) -> TouchFacts {
        ScoringRows.touch(
            id: e.id,
            at: e.occurredAt.milliseconds,
            type: e.type,
            channel: e.channel,
            campaignID: e.campaignID,
            contentID: e.contentID,
            actorID: e.actorID,
            properties: e.properties,
            contentStage: contentStage,
            parseProperties: scorer.needsProperties
        )
    }
}
