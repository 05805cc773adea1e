import SmarketingCore

/// The weekly sync's records: meetings (attendees, decisions, the minutes' frozen agenda) and
/// action items (owner, due day, open until done), and the changes that annotate the figures.
public protocol RitualStore: Sendable {
    /// Opens a meeting for a week; refused (`invalid`) when an attendee is not a user.
    func createMeeting(week: AgendaWeek, title: String, attendees: [String], actor: Actor, at: Timestamp) async throws -> Meeting
    /// Meetings, newest first (ids below `before` when given); their frozen agendas left out.
    func meetings(limit: Int, before: Int64?) async throws -> [Meeting]
    /// One meeting with its frozen agenda, if finished.
    func meeting(id: Int64) async throws -> Meeting?
    /// Records attendees, a decision or notes in an open meeting (`conflict` once finished).
    func changeMeeting(id: Int64, _ change: MeetingChange, actor: Actor, at: Timestamp) async throws -> Meeting
    /// Finishes a meeting: freezes the agenda as discussed and queues `meeting.finished` (with the
    /// minutes as Markdown) for the webhook subscriptions that want it.
    func finishMeeting(id: Int64, agenda: WeeklyAgenda, minutes: String, actor: Actor, at: Timestamp) async throws -> Meeting
    /// Adds an action item; refused when the owner is not a user or the meeting does not exist or is finished.
    func createActionItem(_ draft: ActionItemDraft, actor: Actor, at: Timestamp) async throws -> ActionItem
    /// Action items, earliest due first.
    func actionItems(_ query: ActionItemQuery) async throws -> [ActionItem]
    /// Marks an item done or open again.
    func setActionItem(id: Int64, status: ActionItem.Status, actor: Actor, at: Timestamp) async throws -> ActionItem
    /// The audited changes that alter how figures are made (settings, scoring models, handover
    /// and KPI files, targets) in `[from, to)`, oldest first.
    func changeNotes(from: Timestamp, to: Timestamp, limit: Int) async throws -> [ChangeNote]

    /// Rates the lead of an answered handover (accepted, qualified, rejected or closed); a new
    /// rating replaces the old one. Refused (`conflict`) while the handover waits for an answer.
    func rateLead(handoverID: Int64, rating: LeadRatingValue, reason: String?, actor: Actor, at: Timestamp) async throws -> LeadRating
    /// The ratings of these handovers.
    func leadRatings(handoverIDs: [Int64]) async throws -> [Int64: LeadRating]
    /// The handovers answered in `[from, to)` with their ratings (content touched before the
    /// handover only when `content`).
    func leadFeedback(from: Timestamp, to: Timestamp, content: Bool) async throws -> [LeadFeedback]
    /// Open deals whose contacts had no sales touch since `since` (no next step taken), largest first.
    func quietDeals(since: Timestamp, limit: Int) async throws -> [QuietDeal]
    /// Adds a note (and optionally a decision) to a campaign's review; refused when the campaign does not exist.
    func addCampaignNote(campaignID: String, text: String, decision: CampaignNote.Decision?, actor: Actor, at: Timestamp) async throws -> CampaignNote
    /// A campaign's review notes, oldest first.
    func campaignNotes(campaignID: String) async throws -> [CampaignNote]
    /// Every owned subject (steps, KPIs, targets) with its owner: the workspace's, or the default.
    func owners() async throws -> [Ownership]
    /// Sets a subject's owner (admin): the team and the RACI people, each a user of the workspace; audited.
    func setOwner(_ change: OwnerChange, actor: Actor, at: Timestamp) async throws -> Ownership
    /// Stores a KPI file (already checked) as the new active version; audited (`apply`, `kpi_configs`).
    func applyKPIConfig(text: String, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion
    /// Every stored KPI file version, newest first.
    func kpiConfigVersions() async throws -> [HandoverConfigVersion]
    /// The active KPI file's version and text.
    func activeKPIConfigText() async throws -> (HandoverConfigVersion, String)?
    /// Every deal as the forecast reads it (created, closed, won, amount, its account's segment).
    func forecastDeals() async throws -> [ForecastDeal]
    /// Every rated lead: contact, when it was handed over, whether it was rated good (for the scoring backtest).
    func ratedLeads() async throws -> [(contactID: String, handedOverAt: Timestamp, good: Bool)]
}

/// An open deal without a recent sales touch.
public struct QuietDeal: Sendable, Hashable {
    public var id: String
    public var name: String
    public var ownerID: String?
    public var amount: Double
    public var stage: String?
    /// The last sales touch on any of its contacts, if any.
    public var lastSalesTouch: Timestamp?
}

/// A new owner of a subject (the parts left nil keep their value).
public struct OwnerChange: Sendable, Hashable {
    public var subject: String
    public var team: String?
    public var responsible: String?
    public var accountable: String?
    public var consulted: [String]?
    public var informed: [String]?

    public init(subject: String, team: String? = nil, responsible: String? = nil, accountable: String? = nil, consulted: [String]? = nil, informed: [String]? = nil) {
        self.subject = subject
        self.team = team
        self.responsible = responsible
        self.accountable = accountable
        self.consulted = consulted
        self.informed = informed
    }
}

/// What a meeting change records (each part optional).
public struct MeetingChange: Sendable, Hashable {
    /// Replaces the attendee list.
    public var attendees: [String]?
    /// Appends a decision.
    public var decision: String?
    /// Replaces the notes.
    public var notes: String?

    public init(attendees: [String]? = nil, decision: String? = nil, notes: String? = nil) {
        self.attendees = attendees
        self.decision = decision
        self.notes = notes
    }
}

/// A new action item.
public struct ActionItemDraft: Sendable, Hashable {
    public var title: String
    public var ownerID: String
    public var due: LocalDate
    public var meetingID: Int64?

    public init(title: String, ownerID: String, due: LocalDate, meetingID: Int64?) {
        self.title = title
        self.ownerID = ownerID
        self.due = due
        self.meetingID = meetingID
    }
}

/// An action item list request.
public struct ActionItemQuery: Sendable, Hashable {
    public var ownerID: String?
    public var meetingID: Int64?
    public var status: ActionItem.Status?
    /// Open items due before this day only.
    public var dueBefore: LocalDate?
    public var limit = 200

    public init(ownerID: String? = nil, meetingID: Int64? = nil, status: ActionItem.Status? = nil, dueBefore: LocalDate? = nil, limit: Int = 200) {
        self.ownerID = ownerID
        self.meetingID = meetingID
        self.status = status
        self.dueBefore = dueBefore
        self.limit = limit
    }
}

/// The SQL and row rules both backends share (same tables, same `?` placeholders).
enum RitualRules {
    static let meetingColumns = "id, week, title, status, attendees, decisions, notes, created_at, created_by, finished_at"
    static let itemColumns =
        "i.id, i.title, i.owner_id, u.name, i.due, i.status, i.meeting_id, i.created_at, i.created_by, i.done_at, i.done_by"
    static let itemFrom = " FROM action_items i LEFT JOIN users u ON u.id = i.owner_id"

    static func meeting(
        id: Int64?,
        week: String?,
        title: String?,
        status: String?,
        attendees: String?,
        decisions: String?,
        notes: String?,
        createdAt: Int64?,
        createdBy: String?,
        finishedAt: Int64?,
        agenda: String?
    ) -> Meeting? {
        guard let id, let week, let title, let createdAt, let status = status.flatMap(Meeting.Status.init(rawValue:)) else { return nil }
        return Meeting(
            id: id,
            week: week,
            title: title,
            status: status,
            attendees: attendees.flatMap { StoredJSON.decode([String].self, $0) } ?? [],
            decisions: decisions.flatMap { StoredJSON.decode([String].self, $0) } ?? [],
            notes: notes ?? "",
            createdAt: Timestamp(milliseconds: createdAt),
            createdBy: createdBy ?? "",
            finishedAt: finishedAt.map(Timestamp.init(milliseconds:)),
            agenda: agenda.flatMap { StoredJSON.decode(WeeklyAgenda.self, $0) }
        )
    }

    static func item(
        id: Int64?,
        title: String?,
        ownerID: String?,
        ownerName: String?,
        due: String?,
        status: String?,
        meetingID: Int64?,
        createdAt: Int64?,
        createdBy: String?,
        doneAt: Int64?,
        doneBy: String?
    ) -> ActionItem? {
        guard let id, let title, let ownerID, let due = due.flatMap({ LocalDate.parse($0) }), let createdAt,
            let status = status.flatMap(ActionItem.Status.init(rawValue:))
        else { return nil }
        return ActionItem(
            id: id,
            title: title,
            ownerID: ownerID,
            ownerName: ownerName,
            due: due,
            status: status,
            meetingID: meetingID,
            createdAt: Timestamp(milliseconds: createdAt),
            createdBy: createdBy ?? "",
            doneAt: doneAt.map(Timestamp.init(milliseconds:)),
            doneBy: doneBy
        )
    }

    /// The checked title of a meeting or an item.
    static func title(_ raw: String) throws -> String {
        switch MeetingRules.text(raw, field: "title", max: MeetingRules.titleMax) {
        case .success(let t): return t
        case .failure(let p): throw StoreError.invalid(p.description)
        }
    }

    /// The attendee list without repeats, checked against the users found (`known`).
    static func attendees(_ ids: [String], known: Set<String>) throws -> [String] {
        var seen: Set<String> = []
        let list = ids.filter { seen.insert($0).inserted }
        if list.count > MeetingRules.attendeesMax { throw StoreError.invalid("a meeting has at most \(MeetingRules.attendeesMax) attendees") }
        let unknown = list.filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw StoreError.reference("not a user of this workspace: " + unknown.prefix(5).map { "\"\($0.prefix(80))\"" }.joined(separator: ", "))
        }
        return list
    }

    /// The meeting after a change, decided without I/O.
    static func applying(_ change: MeetingChange, to m: Meeting, knownAttendees: Set<String>) throws -> Meeting {
        guard m.status == .open else { throw StoreError.conflict("meeting \(m.id) is finished; its minutes no longer change") }
        var m = m
        if let a = change.attendees { m.attendees = try attendees(a, known: knownAttendees) }
        if let d = change.decision {
            switch MeetingRules.text(d, field: "decision", max: MeetingRules.decisionMax) {
            case .success(let t):
                if m.decisions.count >= MeetingRules.decisionsMax { throw StoreError.invalid("a meeting keeps at most \(MeetingRules.decisionsMax) decisions") }
                m.decisions.append(t)
            case .failure(let p): throw StoreError.invalid(p.description)
            }
        }
        if let n = change.notes {
            if n.count > MeetingRules.notesMax { throw StoreError.invalid("notes have \(n.count) characters; at most \(MeetingRules.notesMax) are kept") }
            if n.contains("\u{0}") { throw StoreError.invalid("notes hold a NUL character") }
            m.notes = n
        }
        return m
    }

    /// A bound value of the shared SQL.
    enum Arg {
        case text(String)
        case int(Int64)
    }

    /// The WHERE clause and arguments of an item query.
    static func itemWhere(_ q: ActionItemQuery) -> (sql: String, args: [Arg]) {
        var parts: [String] = []
        var args: [Arg] = []
        if let o = q.ownerID {
            parts.append("i.owner_id = ?")
            args.append(.text(o))
        }
        if let s = q.status {
            parts.append("i.status = ?")
            args.append(.text(s.rawValue))
        }
        if let d = q.dueBefore {
            parts.append("i.due < ?")
            args.append(.text(d.text))
        }
        if let m = q.meetingID {
            parts.append("i.meeting_id = ?")
            args.append(.int(m))
        }
        return (parts.isEmpty ? "" : " WHERE " + parts.joined(separator: " AND "), args)
    }

    static let itemOrder = " ORDER BY i.due, i.id LIMIT ?"

    static let auditChangesSQL =
        "SELECT at, actor, action, resource, record_id, detail FROM audit_log WHERE at >= ? AND at < ? AND (action = 'settings.set' OR (action = 'apply' AND resource IN ('scoring_models', 'handover_config', 'kpi_configs')) OR resource = 'targets') ORDER BY seq LIMIT ?"

    /// The user id of an audit entry's actor (`u-1 (session)` → `u-1`).
    static func actorName(_ actor: String) -> String {
        actor.split(separator: " ", maxSplits: 1).first.map(String.init) ?? actor
    }

    static let feedbackSQL = """
        SELECT h.id, h.campaign_id, h.channel, c.persona_id, h.status, h.reason, r.rating, r.reason, h.answered_at
        FROM handovers h LEFT JOIN lead_ratings r ON r.handover_id = h.id LEFT JOIN contacts c ON c.id = h.contact_id
        WHERE h.answered_at >= ? AND h.answered_at < ? ORDER BY h.id LIMIT 1000000
        """
    static let feedbackContentSQL = """
        SELECT DISTINCT h.id, t.content_id FROM handovers h JOIN touchpoints t ON t.contact_id = h.contact_id
        WHERE h.answered_at >= ? AND h.answered_at < ? AND t.content_id IS NOT NULL AND t.occurred_at <= h.created_at
        """
    static let ratedSQL = "SELECT r.contact_id, h.created_at, r.rating FROM lead_ratings r JOIN handovers h ON h.id = r.handover_id ORDER BY r.handover_id"
    static let quietSQL = """
        SELECT o.id, o.name, o.owner_id, o.amount, o.stage,
          (SELECT max(t.occurred_at) FROM touchpoints t WHERE t.actor_id IS NOT NULL AND t.contact_id IN (
             SELECT oc.contact_id FROM opportunity_contacts oc WHERE oc.opportunity_id = o.id UNION SELECT o.primary_contact_id)) AS last
        FROM opportunities o WHERE o.closed_at IS NULL
        """

    static func quiet(_ rows: [(id: String?, name: String?, owner: String?, amount: Double?, stage: String?, last: Int64?)], since: Timestamp, limit: Int) -> [QuietDeal] {
        rows.compactMap { r -> QuietDeal? in
            guard let id = r.id else { return nil }
            if let last = r.last, last >= since.milliseconds { return nil }
            return QuietDeal(id: id, name: r.name ?? id, ownerID: r.owner, amount: r.amount ?? 0, stage: r.stage, lastSalesTouch: r.last.map(Timestamp.init(milliseconds:)))
        }
        .sorted { ($1.amount, $0.id) < ($0.amount, $1.id) }.prefix(max(0, limit)).map { $0 }
    }

    static let noteSQL = """
        SELECT n.id, n.campaign_id, n.author, u.name, u.team, n.text, n.decision, n.created_at
        FROM campaign_notes n LEFT JOIN users u ON u.id = n.author WHERE n.campaign_id = ? ORDER BY n.created_at, n.id LIMIT 1000
        """

    static func note(id: Int64?, campaign: String?, author: String?, name: String?, team: String?, text: String?, decision: String?, at: Int64?) -> CampaignNote? {
        guard let id, let campaign, let text, let at else { return nil }
        return CampaignNote(
            id: id, campaignID: campaign, author: author ?? "", authorName: name, team: team, text: text,
            decision: decision.flatMap(CampaignNote.Decision.init(rawValue:)), createdAt: Timestamp(milliseconds: at)
        )
    }

    static func noteText(_ raw: String) throws -> String {
        switch MeetingRules.text(raw, field: "note", max: MeetingRules.decisionMax) {
        case .success(let t): return t
        case .failure(let p): throw StoreError.invalid(p.description)
        }
    }

    static let ownersSQL = """
        SELECT o.subject, o.team, o.responsible, u.name, o.accountable, o.consulted, o.informed
        FROM owners o LEFT JOIN users u ON u.id = o.responsible
        """

    /// Every subject, stored owners over the defaults.
    static func owners(_ rows: [(subject: String?, team: String?, responsible: String?, name: String?, accountable: String?, consulted: String?, informed: String?)]) -> [Ownership] {
        var stored: [String: Ownership] = [:]
        for r in rows {
            guard let subject = r.subject, let s = OwnedSubjects.known(subject) else { continue }
            stored[subject] = Ownership(
                subject: s.id, label: s.label, kind: s.kind, team: r.team ?? s.team, responsible: r.responsible, responsibleName: r.name,
                accountable: r.accountable, consulted: r.consulted.flatMap { StoredJSON.decode([String].self, $0) } ?? [],
                informed: r.informed.flatMap { StoredJSON.decode([String].self, $0) } ?? [], isDefault: false
            )
        }
        return OwnedSubjects.all.map { stored[$0.id] ?? OwnedSubjects.defaultOwnership($0) }
    }

    /// The ownership after a change, checked (the users are checked by the caller against `known`).
    static func applying(_ c: OwnerChange, to current: Ownership, known: Set<String>) throws -> Ownership {
        guard OwnedSubjects.known(c.subject) != nil else {
            throw StoreError.invalid("\(c.subject.prefix(80)) has no owner to set; one of " + OwnedSubjects.all.map(\.id).joined(separator: ", "))
        }
        var o = current
        if let team = c.team {
            guard OwnedSubjects.teams.contains(team) else { throw StoreError.invalid("team must be marketing, sales or revops, not \(team.prefix(40))") }
            o.team = team
        }
        let people = [c.responsible, c.accountable].compactMap { $0 }.filter { !$0.isEmpty } + (c.consulted ?? []) + (c.informed ?? [])
        let unknown = people.filter { !known.contains($0) }
        if !unknown.isEmpty { throw StoreError.reference("not a user of this workspace: " + unknown.prefix(5).map { "\"\($0.prefix(80))\"" }.joined(separator: ", ")) }
        if let r = c.responsible { o.responsible = r.isEmpty ? nil : r }
        if let a = c.accountable { o.accountable = a.isEmpty ? nil : a }
        if let list = c.consulted { o.consulted = Array(Set(list)).sorted() }
        if let list = c.informed { o.informed = Array(Set(list)).sorted() }
        if o.consulted.count > 50 || o.informed.count > 50 { throw StoreError.invalid("at most 50 people are consulted or informed") }
        o.isDefault = false
        return o
    }

    static let ownerUpsertSQL = """
        INSERT INTO owners (subject, team, responsible, accountable, consulted, informed, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(subject) DO UPDATE SET team = excluded.team, responsible = excluded.responsible, accountable = excluded.accountable,
          consulted = excluded.consulted, informed = excluded.informed, updated_at = excluded.updated_at, updated_by = excluded.updated_by
        """

    static func people(_ c: OwnerChange) -> [String] {
        [c.responsible, c.accountable].compactMap { $0 }.filter { !$0.isEmpty } + (c.consulted ?? []) + (c.informed ?? [])
    }

    static let forecastSQL = """
        SELECT o.id, o.created_at, o.closed_at, o.is_won, o.amount, a.employees, o.owner_id, o.stage
        FROM opportunities o LEFT JOIN accounts a ON a.id = o.account_id ORDER BY o.id
        """

    static func forecastDeal(id: String?, created: Int64?, closed: Int64?, won: Int64?, amount: Double?, employees: Double?, owner: String?, stage: String?) -> ForecastDeal? {
        guard let id, let created else { return nil }
        return ForecastDeal(
            id: id, createdAt: Timestamp(milliseconds: created), closedAt: closed.map(Timestamp.init(milliseconds:)), won: (won ?? 0) != 0,
            amount: amount.flatMap { $0.isFinite ? $0 : nil } ?? 0, segment: ForecastDeal.segment(employees: employees), ownerID: owner, stage: stage
        )
    }

    static let ratingColumns = "handover_id, contact_id, rating, reason, rated_by, rated_at"

    /// The checked reason of a rating.
    static func ratingReason(_ reason: String?, _ rating: LeadRatingValue) throws -> String? {
        switch LeadRatingReasons.check(reason, for: rating) {
        case .success(let r): return r
        case .failure(let p): throw StoreError.invalid(p.description)
        }
    }

    /// Only an answered handover's lead is rated.
    static func checkRatable(_ id: Int64, status: String?) throws {
        guard let status, let s = HandoverStatus(rawValue: status) else { throw StoreError.missing("no handover \(id)") }
        if s == .queued || s == .assigned {
            throw StoreError.conflict("handover \(id) is \(s.rawValue): sales rates a lead once it has accepted or rejected it")
        }
    }

    static func feedback(
        id: Int64?, campaign: String?, channel: String?, persona: String?, status: String?, rejectReason: String?, rating: String?, ratingReason: String?,
        answeredAt: Int64?, content: [Int64: [String]]
    ) -> LeadFeedback? {
        guard let id, let status = status.flatMap(HandoverStatus.init(rawValue:)), let answeredAt else { return nil }
        return LeadFeedback(
            handoverID: id, campaign: campaign, channel: channel, persona: persona, content: content[id] ?? [], status: status,
            rejectReason: rejectReason, rating: rating.flatMap(LeadRatingValue.init(rawValue:)), ratingReason: ratingReason,
            answeredAt: Timestamp(milliseconds: answeredAt)
        )
    }

    static func payload(_ m: Meeting, minutes: String) -> OutboxEvent {
        OutboxEvent(type: "meeting.finished", data: ["meeting_id": m.id, "week": m.week, "title": m.title, "minutes": minutes])
    }
}
