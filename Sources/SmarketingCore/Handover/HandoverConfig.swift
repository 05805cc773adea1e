import Foundation

/// A condition list on contact attributes (all must hold), as in fit rules.
public struct Conditions: Sendable, Hashable {
    public var all: [(attribute: String, condition: AttributeCondition)]

    /// Creates a condition list (empty: always holds).
    public init(_ all: [(attribute: String, condition: AttributeCondition)] = []) { self.all = all }

    /// Whether every condition holds for the attributes (`attributes[name]` nil when empty).
    public func hold(_ attributes: [String: String]) -> Bool {
        all.allSatisfy { $0.condition.holds(for: attributes[$0.attribute]) }
    }

    /// Texts such as `country in [DE, AT]`, for explanations.
    public var text: String {
        all.isEmpty ? "always" : all.map { "\($0.attribute) \($0.condition.text)" }.joined(separator: " and ")
    }

    public static func == (a: Conditions, b: Conditions) -> Bool {
        a.all.count == b.all.count && zip(a.all, b.all).allSatisfy { $0.attribute == $1.attribute && $0.condition == $1.condition }
    }

    public func hash(into h: inout Hasher) {
        for c in all {
            h.combine(c.attribute)
            h.combine(c.condition)
        }
    }
}

extension AttributeCondition {
    /// The condition as the config file writes it.
    public var text: String {
        switch self {
        case .oneOf(let v): return "in [" + v.joined(separator: ", ") + "]"
        case .atLeast(let n): return "at least \(n)"
        case .atMost(let n): return "at most \(n)"
        case .matches(let p): return "matches \(p)"
        case .isEmpty: return "is empty"
        }
    }
}

/// A sales team: its calendar, manager and members.
public struct SalesTeam: Sendable, Hashable {
    public var id: String
    public var calendar: String
    public var manager: String?
    public var members: [String]

    /// Creates a team.
    public init(id: String, calendar: String, manager: String?, members: [String]) {
        self.id = id
        self.calendar = calendar
        self.manager = manager
        self.members = members
    }
}

/// What a rejection does to the contact.
public enum RejectAction: String, Sendable, Hashable {
    /// Back to nurturing (recycled), may qualify again.
    case recycle
    /// Out of the funnel.
    case disqualify
}

/// A rejection reason sales may give.
public struct RejectReason: Sendable, Hashable {
    public var id: String
    public var label: String
    public var action: RejectAction

    /// Creates a reason.
    public init(id: String, label: String, action: RejectAction) {
        self.id = id
        self.label = label
        self.action = action
    }
}

/// A named segment: the first whose conditions hold names a contact's segment.
public struct Segment: Sendable, Hashable {
    public var id: String
    public var when: Conditions

    /// Creates a segment.
    public init(id: String, when: Conditions) {
        self.id = id
        self.when = when
    }
}

/// An escalation step of an SLA policy.
public enum EscalationAction: String, Sendable, Hashable, CaseIterable {
    /// Tell the owner (a webhook event naming them).
    case notifyOwner = "notify_owner"
    /// Tell the owner's manager.
    case notifyManager = "notify_manager"
    /// Give the lead to the next rep of the team's pool.
    case reassign
    /// Put the lead back in the fallback queue.
    case returnToQueue = "return_to_queue"
}

/// A time budget in the config: how long and in which measure.
public struct Budget: Sendable, Hashable {
    public var milliseconds: Int64
    /// Counted in the team's business hours (else wall-clock time).
    public var business: Bool

    /// Creates a budget.
    public init(milliseconds: Int64, business: Bool) {
        self.milliseconds = milliseconds
        self.business = business
    }
}

/// The service level for handovers that match `when`.
public struct SLAPolicy: Sendable, Hashable {
    public var id: String
    /// Attributes of the lead (incl. `grade`, `segment`, `team`).
    public var when: Conditions
    public var assignWithin: Budget?
    public var acceptWithin: Budget?
    public var firstTouchWithin: Budget?
    /// K sales touches within a span.
    public var followUp: (touches: Int, within: Budget)?
    public var warnBefore: Int64
    public var onWarning: [EscalationAction]
    public var onBreach: [EscalationAction]

    /// Creates a policy.
    public init(
        id: String,
        when: Conditions = Conditions(),
        assignWithin: Budget? = nil,
        acceptWithin: Budget? = nil,
        firstTouchWithin: Budget? = nil,
        followUp: (touches: Int, within: Budget)? = nil,
        warnBefore: Int64 = 0,
        onWarning: [EscalationAction] = [.notifyOwner],
        onBreach: [EscalationAction] = [.notifyOwner, .notifyManager]
    ) {
        self.id = id
        self.when = when
        self.assignWithin = assignWithin
        self.acceptWithin = acceptWithin
        self.firstTouchWithin = firstTouchWithin
        self.followUp = followUp
        self.warnBefore = warnBefore
        self.onWarning = onWarning
        self.onBreach = onBreach
    }

    /// The budget of a clock kind under this policy.
    public func budget(_ kind: ClockKind) -> (budget: Budget, goal: Int)? {
        switch kind {
        case .assign: return assignWithin.map { ($0, 1) }
        case .accept: return acceptWithin.map { ($0, 1) }
        case .firstTouch: return firstTouchWithin.map { ($0, 1) }
        case .followUp: return followUp.map { ($0.within, $0.touches) }
        }
    }

    public static func == (a: SLAPolicy, b: SLAPolicy) -> Bool {
        a.id == b.id && a.when == b.when && a.assignWithin == b.assignWithin && a.acceptWithin == b.acceptWithin
            && a.firstTouchWithin == b.firstTouchWithin && a.followUp?.touches == b.followUp?.touches
            && a.followUp?.within == b.followUp?.within && a.warnBefore == b.warnBefore && a.onWarning == b.onWarning
            && a.onBreach == b.onBreach
    }

    public func hash(into h: inout Hasher) { h.combine(id) }
}

/// A monthly commitment of marketing (MQLs or pipeline value), from the workspace's targets.
public struct Commitment: Sendable, Hashable, Codable {
    public var metric: String
    public var segment: String?
    public var target: Double
    public var actual: Double
    /// The actual extrapolated to the end of the month at the rate so far.
    public var projected: Double
    /// The share of the month that has passed (0…1).
    public var elapsed: Double
    /// Whether the projection falls short of the target.
    public var shortfall: Bool

    /// The UTC month of `month` as `[start, end)` and the share of it that has passed at `now`
    /// (0…1): the window commitments count in and the rate they project at.
    public static func window(month: LocalDate, at now: Timestamp, in zone: TimeZone = KPICalendar().timeZone) -> (start: Timestamp, end: Timestamp, elapsed: Double) {
        // The month as the workspace lives it: from its first local midnight to the next month's.
        let first = LocalDate(year: month.year, month: month.month, day: 1)
        let calendar = KPICalendar(timeZone: zone)
        let start = calendar.start(ofDay: first.daysSinceEpoch)
        let end = calendar.start(ofDay: first.adding(days: LocalDate.daysIn(month: month.month, year: month.year)).daysSinceEpoch)
        let elapsed = Double(min(max(now, start), end).milliseconds - start.milliseconds) / Double(end.milliseconds - start.milliseconds)
        return (start, end, elapsed)
    }

    /// Projects `actual` from the elapsed share of the month.
    public init(metric: String, segment: String?, target: Double, actual: Double, elapsed: Double) {
        self.metric = metric
        self.segment = segment
        self.target = target
        self.actual = actual
        self.elapsed = min(1, max(0, elapsed))
        projected = self.elapsed > 0 ? actual / self.elapsed : actual
        shortfall = projected < target
    }
}

/// The handover configuration: calendars, teams, reasons, segments, routing and SLA policies.
/// Read from a versioned file (see `examples/handover.yaml`); this is its checked form.
public struct HandoverConfig: Sendable {
    public var calendars: [String: BusinessCalendar]
    public let teams: [String: SalesTeam]
    /// Each rep's team (the first, by team id, listing them), built once: routing asks it for
    /// every member of a pool on every decision.
    let teamOf: [String: String]
    public var reasons: [String: RejectReason]
    /// In file order.
    public var reasonOrder: [String]
    public var segments: [Segment]
    public var router: Router
    public var policies: [SLAPolicy]
    /// Per rep: own calendar and absences.
    public var reps: [String: RepSettings]

    /// Creates a configuration.
    public init(
        calendars: [String: BusinessCalendar],
        teams: [String: SalesTeam],
        reasons: [RejectReason],
        segments: [Segment],
        router: Router,
        policies: [SLAPolicy],
        reps: [String: RepSettings]
    ) {
        self.calendars = calendars
        self.teams = teams
        var teamOf: [String: String] = [:]
        for t in teams.values.sorted(by: { $0.id < $1.id }) {
            for m in t.members where teamOf[m] == nil { teamOf[m] = t.id }
        }
        self.teamOf = teamOf
        self.reasons = Dictionary(reasons.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.reasonOrder = reasons.map(\.id)
        self.segments = segments
        self.router = router
        self.policies = policies
        self.reps = reps
    }

    /// The segment of a contact (nil: none matches).
    public func segment(of attributes: [String: String]) -> String? {
        segments.first { $0.when.hold(attributes) }?.id
    }

    /// The first policy whose conditions hold.
    public func policy(for attributes: [String: String]) -> SLAPolicy? {
        policies.first { $0.when.hold(attributes) }
    }

    /// The team a rep belongs to (the first listing them).
    public func team(of user: String) -> SalesTeam? {
        teamOf[user].flatMap { teams[$0] }
    }

    /// The calendar SLA business time is counted on for an owner: their team's.
    public func calendar(forOwner user: String?) -> BusinessCalendar? {
        guard let user else { return router.fallbackCalendar.flatMap { calendars[$0] } }
        if let t = team(of: user) { return calendars[t.calendar] }
        return router.fallbackCalendar.flatMap { calendars[$0] }
    }

    /// The manager to tell about a handover: the owner's team's, else the handover team's.
    public func manager(owner: String?, team: String?) -> String? {
        owner.flatMap { self.team(of: $0)?.manager } ?? team.flatMap { teams[$0]?.manager }
    }

    /// The calendar a rep works by: their own, else their team's.
    public func workingCalendar(of user: String) -> BusinessCalendar? {
        if let c = reps[user]?.calendar { return calendars[c] }
        return team(of: user).flatMap { calendars[$0.calendar] }
    }

    /// Every user id the configuration names (for checking against the workspace).
    public var userIDs: Set<String> {
        var ids = Set(teams.values.flatMap(\.members))
        ids.formUnion(teams.values.compactMap(\.manager))
        ids.insert(router.fallbackOwner)
        ids.formUnion(reps.keys)
        return ids
    }
}

/// Per-rep settings of the configuration.
public struct RepSettings: Sendable, Hashable {
    /// A calendar of their own (a rep in another time zone than the team).
    public var calendar: String?
    /// Absences, half-open.
    public var outOfOffice: [Range<Timestamp>]

    /// Creates settings.
    public init(calendar: String? = nil, outOfOffice: [Range<Timestamp>] = []) {
        self.calendar = calendar
        self.outOfOffice = outOfOffice
    }
}
