import GRDB
import SmarketingCore

extension SQLiteStore {
    /// Lead ratings, campaign reviews, owners and KPI files (added after the meetings' migration).
    static let ritualSchema2 = """
        CREATE TABLE lead_ratings (
            handover_id INTEGER PRIMARY KEY NOT NULL REFERENCES handovers(id), contact_id TEXT NOT NULL, rating TEXT NOT NULL,
            reason TEXT, rated_by TEXT NOT NULL, rated_at INTEGER NOT NULL);
        CREATE INDEX lead_ratings_contact ON lead_ratings(contact_id);
        CREATE INDEX handovers_answered ON handovers(answered_at);
        CREATE TABLE campaign_notes (
            id INTEGER PRIMARY KEY AUTOINCREMENT, campaign_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, decision TEXT,
            created_at INTEGER NOT NULL);
        CREATE INDEX campaign_notes_campaign ON campaign_notes(campaign_id, created_at);
        CREATE TABLE owners (
            subject TEXT PRIMARY KEY NOT NULL, team TEXT NOT NULL, responsible TEXT, accountable TEXT, consulted TEXT NOT NULL,
            informed TEXT NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);
        CREATE TABLE kpi_configs (
            version INTEGER PRIMARY KEY NOT NULL, text TEXT NOT NULL, applied_at INTEGER NOT NULL, author TEXT NOT NULL, comment TEXT NOT NULL,
            active INTEGER NOT NULL);
        """

    static let ritualSchema = """
        CREATE TABLE meetings (
            id INTEGER PRIMARY KEY AUTOINCREMENT, week TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL,
            attendees TEXT NOT NULL, decisions TEXT NOT NULL, notes TEXT NOT NULL, created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL, finished_at INTEGER, agenda TEXT);
        CREATE TABLE action_items (
            id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, owner_id TEXT NOT NULL, due TEXT NOT NULL,
            status TEXT NOT NULL, meeting_id INTEGER REFERENCES meetings(id), created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL, done_at INTEGER, done_by TEXT);
        CREATE INDEX action_items_owner ON action_items(owner_id, status, due);
        CREATE INDEX action_items_meeting ON action_items(meeting_id);
        CREATE INDEX audit_log_at ON audit_log(at);
        """

    public func createMeeting(week: AgendaWeek, title: String, attendees: [String], actor: Actor, at: Timestamp) async throws -> Meeting {
        let title = try RitualRules.title(title)
        return try await writeRefreshingKPIs { db in
            let list = try RitualRules.attendees(attendees, known: try Self.knownUsers(db, attendees))
            try db.execute(
                sql: "INSERT INTO meetings (week, title, status, attendees, decisions, notes, created_at, created_by) VALUES (?, ?, 'open', ?, '[]', '', ?, ?)",
                arguments: [week.description, title, StoredJSON.encode(list), at.milliseconds, actor.userID]
            )
            let id = db.lastInsertedRowID
            try Self.audit(db, actor, at, "create", "meetings", String(id), Self.json(["week": week.description, "title": title]))
            guard let m = try Self.fetchMeeting(db, id) else { throw StoreError.missing("meeting \(id) vanished") }
            return m
        }
    }

    public func meetings(limit: Int, before: Int64?) async throws -> [Meeting] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(RitualRules.meetingColumns), NULL FROM meetings WHERE id < ? ORDER BY id DESC LIMIT ?",
                arguments: [before ?? Int64.max, max(1, min(limit, 1_000))]
            ).compactMap(Self.meetingRow)
        }
    }

    public func meeting(id: Int64) async throws -> Meeting? {
        try await pool.read { db in try Self.fetchMeeting(db, id) }
    }

    public func changeMeeting(id: Int64, _ change: MeetingChange, actor: Actor, at: Timestamp) async throws -> Meeting {
        try await writeRefreshingKPIs { db in
            guard let m = try Self.fetchMeeting(db, id) else { throw StoreError.missing("no meeting \(id)") }
            let changed = try RitualRules.applying(change, to: m, knownAttendees: try Self.knownUsers(db, change.attendees ?? []))
            try db.execute(
                sql: "UPDATE meetings SET attendees = ?, decisions = ?, notes = ? WHERE id = ?",
                arguments: [StoredJSON.encode(changed.attendees), StoredJSON.encode(changed.decisions), changed.notes, id]
            )
            try Self.audit(db, actor, at, "update", "meetings", String(id), Self.json(["decision": change.decision, "attendees": change.attendees, "notes": change.notes == nil ? nil : "changed"]))
            return changed
        }
    }

    public func finishMeeting(id: Int64, agenda: WeeklyAgenda, minutes: String, actor: Actor, at: Timestamp) async throws -> Meeting {
        try await writeRefreshingKPIs { db in
            guard var m = try Self.fetchMeeting(db, id) else { throw StoreError.missing("no meeting \(id)") }
            guard m.status == .open else { throw StoreError.conflict("meeting \(id) is already finished") }
            try db.execute(
                sql: "UPDATE meetings SET status = 'finished', finished_at = ?, agenda = ? WHERE id = ?",
                arguments: [at.milliseconds, StoredJSON.encode(agenda), id]
            )
            m.status = .finished
            m.finishedAt = at
            m.agenda = agenda
            try Self.audit(db, actor, at, "finish", "meetings", String(id), "{}")
            var outbox = try Outbox(db)
            try outbox.emit(RitualRules.payload(m, minutes: minutes), at: at)
            return m
        }
    }

    public func createActionItem(_ draft: ActionItemDraft, actor: Actor, at: Timestamp) async throws -> ActionItem {
        let title = try RitualRules.title(draft.title)
        return try await writeRefreshingKPIs { db in
            guard try !Self.knownUsers(db, [draft.ownerID]).isEmpty else {
                throw StoreError.reference("owner \"\(draft.ownerID.prefix(80))\" is not a user of this workspace")
            }
            if let mid = draft.meetingID {
                guard let status = try String.fetchOne(db, sql: "SELECT status FROM meetings WHERE id = ?", arguments: [mid]) else {
                    throw StoreError.reference("no meeting \(mid)")
                }
                if status != "open" { throw StoreError.conflict("meeting \(mid) is finished; add the item without a meeting or in the next one") }
            }
            try db.execute(
                sql: "INSERT INTO action_items (title, owner_id, due, status, meeting_id, created_at, created_by) VALUES (?, ?, ?, 'open', ?, ?, ?)",
                arguments: [title, draft.ownerID, draft.due.text, draft.meetingID, at.milliseconds, actor.userID]
            )
            let id = db.lastInsertedRowID
            try Self.audit(db, actor, at, "create", "action_items", String(id), Self.json(["title": title, "owner_id": draft.ownerID, "due": draft.due.text]))
            guard let item = try Self.fetchItem(db, id) else { throw StoreError.missing("action item \(id) vanished") }
            return item
        }
    }

    public func actionItems(_ query: ActionItemQuery) async throws -> [ActionItem] {
        try await pool.read { db in
            let w = RitualRules.itemWhere(query)
            var args: [(any DatabaseValueConvertible)?] = w.args.map {
                switch $0 {
                case .text(let s): return s
                case .int(let i): return i
                }
            }
            args.append(max(1, min(query.limit, 10_000)))
            return try Row.fetchAll(
                db,
                sql: "SELECT \(RitualRules.itemColumns)\(RitualRules.itemFrom)\(w.sql)\(RitualRules.itemOrder)",
                arguments: StatementArguments(args)
            ).compactMap(Self.itemRow)
        }
    }

    public func setActionItem(id: Int64, status: ActionItem.Status, actor: Actor, at: Timestamp) async throws -> ActionItem {
        try await writeRefreshingKPIs { db in
            guard let item = try Self.fetchItem(db, id) else { throw StoreError.missing("no action item \(id)") }
            if item.status == status { return item }
            try db.execute(
                sql: "UPDATE action_items SET status = ?, done_at = ?, done_by = ? WHERE id = ?",
                arguments: [status.rawValue, status == .done ? at.milliseconds : nil, status == .done ? actor.userID : nil, id]
            )
            try Self.audit(db, actor, at, status == .done ? "done" : "reopen", "action_items", String(id), "{}")
            guard let changed = try Self.fetchItem(db, id) else { throw StoreError.missing("action item \(id) vanished") }
            return changed
        }
    }

    public func changeNotes(from: Timestamp, to: Timestamp, limit: Int) async throws -> [ChangeNote] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: RitualRules.auditChangesSQL, arguments: [from.milliseconds, to.milliseconds, max(1, min(limit, 1_000))]).compactMap {
                ChangeNote.from(
                    action: $0[2],
                    resource: $0[3],
                    recordID: $0[4],
                    at: Timestamp(milliseconds: $0[0]),
                    by: RitualRules.actorName($0[1]),
                    detail: $0[5]
                )
            }
        }
    }

    public func rateLead(handoverID: Int64, rating: LeadRatingValue, reason: String?, actor: Actor, at: Timestamp) async throws -> LeadRating {
        let reason = try RitualRules.ratingReason(reason, rating)
        return try await writeRefreshingKPIs { db in
            let row = try Row.fetchOne(db, sql: "SELECT status, contact_id FROM handovers WHERE id = ?", arguments: [handoverID])
            try RitualRules.checkRatable(handoverID, status: row?[0])
            let contact: String = row?[1] ?? ""
            try db.execute(
                sql: """
                    INSERT INTO lead_ratings (\(RitualRules.ratingColumns)) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(handover_id) DO UPDATE SET rating = excluded.rating, reason = excluded.reason, rated_by = excluded.rated_by, rated_at = excluded.rated_at
                    """,
                arguments: [handoverID, contact, rating.rawValue, reason, actor.userID, at.milliseconds]
            )
            try Self.audit(db, actor, at, "rate", "handovers", String(handoverID), Self.json(["rating": rating.rawValue, "reason": reason]))
            return LeadRating(handoverID: handoverID, contactID: contact, rating: rating, reason: reason, ratedBy: actor.userID, ratedAt: at)
        }
    }

    public func leadRatings(handoverIDs: [Int64]) async throws -> [Int64: LeadRating] {
        guard !handoverIDs.isEmpty else { return [:] }
        return try await pool.read { db in
            var out: [Int64: LeadRating] = [:]
            for chunk in stride(from: 0, to: handoverIDs.count, by: 500).map({ Array(handoverIDs[$0..<min($0 + 500, handoverIDs.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                for r in try Row.fetchAll(db, sql: "SELECT \(RitualRules.ratingColumns) FROM lead_ratings WHERE handover_id IN (\(marks))", arguments: StatementArguments(chunk)) {
                    guard let rating = LeadRatingValue(rawValue: r[2]) else { continue }
                    out[r[0]] = LeadRating(handoverID: r[0], contactID: r[1], rating: rating, reason: r[3], ratedBy: r[4], ratedAt: Timestamp(milliseconds: r[5]))
                }
            }
            return out
        }
    }

    public func leadFeedback(from: Timestamp, to: Timestamp, content: Bool) async throws -> [LeadFeedback] {
        try await pool.read { db in
            var touched: [Int64: [String]] = [:]
            if content {
                for r in try Row.fetchAll(db, sql: RitualRules.feedbackContentSQL, arguments: [from.milliseconds, to.milliseconds]) {
                    touched[r[0], default: []].append(r[1])
                }
            }
            return try Row.fetchAll(db, sql: RitualRules.feedbackSQL, arguments: [from.milliseconds, to.milliseconds]).compactMap {
                RitualRules.feedback(
                    id: $0[0], campaign: $0[1], channel: $0[2], persona: $0[3], status: $0[4], rejectReason: $0[5], rating: $0[6],
                    ratingReason: $0[7], answeredAt: $0[8], content: touched
                )
            }
        }
    }

    public func quietDeals(since: Timestamp, limit: Int) async throws -> [QuietDeal] {
        try await pool.read { db in
            RitualRules.quiet(
                try Row.fetchAll(db, sql: RitualRules.quietSQL).map { (id: $0[0], name: $0[1], owner: $0[2], amount: $0[3], stage: $0[4], last: $0[5]) },
                since: since,
                limit: limit
            )
        }
    }

    public func addCampaignNote(campaignID: String, text: String, decision: CampaignNote.Decision?, actor: Actor, at: Timestamp) async throws -> CampaignNote {
        let text = try RitualRules.noteText(text)
        return try await writeRefreshingKPIs { db in
            guard try String.fetchOne(db, sql: "SELECT id FROM campaigns WHERE id = ?", arguments: [campaignID]) != nil else {
                throw StoreError.notFound(.campaigns, campaignID)
            }
            try db.execute(
                sql: "INSERT INTO campaign_notes (campaign_id, author, text, decision, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [campaignID, actor.userID, text, decision?.rawValue, at.milliseconds]
            )
            let id = db.lastInsertedRowID
            try Self.audit(db, actor, at, "review", "campaigns", campaignID, Self.json(["note": id, "decision": decision?.rawValue]))
            return try Row.fetchAll(db, sql: RitualRules.noteSQL, arguments: [campaignID]).compactMap(Self.noteRow).first { $0.id == id }
                ?? CampaignNote(id: id, campaignID: campaignID, author: actor.userID, authorName: nil, team: nil, text: text, decision: decision, createdAt: at)
        }
    }

    public func campaignNotes(campaignID: String) async throws -> [CampaignNote] {
        try await pool.read { db in try Row.fetchAll(db, sql: RitualRules.noteSQL, arguments: [campaignID]).compactMap(Self.noteRow) }
    }

    static func noteRow(_ r: Row) -> CampaignNote? {
        RitualRules.note(id: r[0], campaign: r[1], author: r[2], name: r[3], team: r[4], text: r[5], decision: r[6], at: r[7])
    }

    public func owners() async throws -> [Ownership] {
        try await pool.read { db in try Self.readOwners(db) }
    }

    static func readOwners(_ db: Database) throws -> [Ownership] {
        RitualRules.owners(
            try Row.fetchAll(db, sql: RitualRules.ownersSQL).map { (subject: $0[0], team: $0[1], responsible: $0[2], name: $0[3], accountable: $0[4], consulted: $0[5], informed: $0[6]) }
        )
    }

    public func setOwner(_ change: OwnerChange, actor: Actor, at: Timestamp) async throws -> Ownership {
        try await writeRefreshingKPIs { db in
            let current = try Self.readOwners(db).first { $0.subject == change.subject }
                ?? Ownership(subject: change.subject, label: "", kind: "", team: "", responsible: nil, responsibleName: nil, accountable: nil, consulted: [], informed: [], isDefault: true)
            let o = try RitualRules.applying(change, to: current, known: try Self.knownUsers(db, RitualRules.people(change)))
            try db.execute(
                sql: RitualRules.ownerUpsertSQL,
                arguments: [o.subject, o.team, o.responsible, o.accountable, StoredJSON.encode(o.consulted), StoredJSON.encode(o.informed), at.milliseconds, actor.userID]
            )
            try Self.audit(db, actor, at, "owner.set", "owners", o.subject, Self.json(["team": o.team, "responsible": o.responsible, "accountable": o.accountable]))
            return try Self.readOwners(db).first { $0.subject == o.subject } ?? o
        }
    }

    public func applyKPIConfig(text: String, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion {
        try await writeRefreshingKPIs { db in
            let version = (try Int.fetchOne(db, sql: "SELECT max(version) FROM kpi_configs") ?? 0) + 1
            try db.execute(sql: "UPDATE kpi_configs SET active = 0")
            try db.execute(
                sql: "INSERT INTO kpi_configs (version, text, applied_at, author, comment, active) VALUES (?, ?, ?, ?, ?, 1)",
                arguments: [version, text, at.milliseconds, actor.userID, comment]
            )
            try Self.audit(db, actor, at, "apply", "kpi_configs", String(version), Self.json(["comment": comment]))
            return HandoverConfigVersion(version: version, appliedAt: at, author: actor.userID, comment: comment, active: true)
        }
    }

    public func kpiConfigVersions() async throws -> [HandoverConfigVersion] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT version, applied_at, author, comment, active FROM kpi_configs ORDER BY version DESC").map {
                HandoverConfigVersion(version: $0[0], appliedAt: Timestamp(milliseconds: $0[1]), author: $0[2], comment: $0[3], active: ($0[4] as Int) == 1)
            }
        }
    }

    public func activeKPIConfigText() async throws -> (HandoverConfigVersion, String)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT version, applied_at, author, comment, text FROM kpi_configs WHERE active = 1").map {
                (HandoverConfigVersion(version: $0[0], appliedAt: Timestamp(milliseconds: $0[1]), author: $0[2], comment: $0[3], active: true), $0[4])
            }
        }
    }

    public func forecastDeals() async throws -> [ForecastDeal] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: RitualRules.forecastSQL).compactMap {
                RitualRules.forecastDeal(id: $0[0], created: $0[1], closed: $0[2], won: $0[3], amount: $0[4], employees: $0[5], owner: $0[6], stage: $0[7])
            }
        }
    }

    public func ratedLeads() async throws -> [(contactID: String, handedOverAt: Timestamp, good: Bool)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: RitualRules.ratedSQL).map { (contactID: $0[0], handedOverAt: Timestamp(milliseconds: $0[1]), good: ($0[2] as String) == "good") }
        }
    }

    static func knownUsers(_ db: Database, _ ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let unique = Array(Set(ids)).prefix(MeetingRules.attendeesMax + 1)
        let marks = Array(repeating: "?", count: unique.count).joined(separator: ", ")
        return Set(try String.fetchAll(db, sql: "SELECT id FROM users WHERE id IN (\(marks))", arguments: StatementArguments(Array(unique))))
    }

    static func fetchMeeting(_ db: Database, _ id: Int64) throws -> Meeting? {
        try Row.fetchOne(db, sql: "SELECT \(RitualRules.meetingColumns), agenda FROM meetings WHERE id = ?", arguments: [id]).flatMap(meetingRow)
    }

    static func meetingRow(_ r: Row) -> Meeting? {
        RitualRules.meeting(
            id: r[0],
            week: r[1],
            title: r[2],
            status: r[3],
            attendees: r[4],
            decisions: r[5],
            notes: r[6],
            createdAt: r[7],
            createdBy: r[8],
            finishedAt: r[9],
            agenda: r[10]
        )
    }

    static func fetchItem(_ db: Database, _ id: Int64) throws -> ActionItem? {
        try Row.fetchOne(db, sql: "SELECT \(RitualRules.itemColumns)\(RitualRules.itemFrom) WHERE i.id = ?", arguments: [id]).flatMap(itemRow)
    }

    static func itemRow(_ r: Row) -> ActionItem? {
        RitualRules.item(
            id: r[0],
            title: r[1],
            ownerID: r[2],
            ownerName: r[3],
            due: r[4],
            status: r[5],
            meetingID: r[6],
            createdAt: r[7],
            createdBy: r[8],
            doneAt: r[9],
            doneBy: r[10]
        )
    }
}
