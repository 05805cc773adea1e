/// Where a handover is.
public enum HandoverStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting in the fallback queue for a manager to assign it.
    case queued
    /// With an owner who has not answered yet.
    case assigned
    /// The owner accepted it (the contact is SAL).
    case accepted
    /// The owner qualified it (the contact is SQL); the handover is done.
    case qualified
    /// The owner rejected it with a reason; the handover is done.
    case rejected
    /// The contact left the handover another way (an opportunity, a manual stage change).
    case closed

    /// Whether the handover still waits for sales.
    public var isOpen: Bool { self == .queued || self == .assigned || self == .accepted }
}

/// A sales action on a handover.
public enum HandoverAction: Sendable, Hashable {
    case accept
    case qualify
    case reject(reason: String)
}

/// The decisions of the handover that need no storage: routing a new MQL, the clocks each step
/// starts or stops. The store applies them in the same transaction as the change that caused them.
public enum HandoverRules {
    /// The clock kinds an owner's handover runs.
    public static let ownerClocks: [ClockKind] = [.accept, .firstTouch, .followUp]

    /// Touch types that are sales actions (first touch, follow-up cadence).
    public static let salesTouchTypes: Set<String> = ["call", "email_sent", "meeting", "sales_accept", "sales_reject"]

    /// A new handover: its routing, segment, policy and the clocks it starts.
    public struct Opening: Sendable {
        public var decision: RoutingDecision
        public var segment: String?
        public var policy: SLAPolicy?
        public var clocks: [SLAClock]
    }

    /// Routes a lead that just became MQL and starts its clocks at `at`.
    public static func open(
        config: HandoverConfig,
        attributes: [String: String],
        accountOwner: String?,
        loads: [String: RepLoad],
        at: Timestamp
    ) -> Opening {
        var attributes = attributes
        let segment = config.segment(of: attributes)
        if let segment { attributes["segment"] = segment }
        let decision = config.router.route(attributes: attributes, accountOwner: accountOwner, config: config, loads: loads, at: at)
        if let team = decision.team { attributes["team"] = team }
        let policy = config.policy(for: attributes)
        var clocks: [SLAClock] = []
        if let policy {
            if decision.queue != nil {
                clocks = queueClock(policy, config, at).map { [$0] } ?? []
            } else {
                clocks = ownerClocks(policy, config.calendar(forOwner: decision.owner), at)
            }
        }
        return Opening(decision: decision, segment: segment, policy: policy, clocks: clocks)
    }

    /// The calendar a clock counts business time on: the queue's for the assign clock, else the
    /// owner's team's; wall-clock clocks have none. A business clock without a configured
    /// calendar (or configuration) counts around the clock.
    public static func calendar(for clock: SLAClock, owner: String?, config: HandoverConfig?) -> BusinessCalendar? {
        guard clock.business else { return nil }
        return config?.calendar(forOwner: clock.kind == .assign ? nil : owner) ?? .always()
    }

    /// The assign clock a lead starts when it enters (or returns to) the queue, on the queue's
    /// calendar.
    public static func queueClock(_ policy: SLAPolicy, _ config: HandoverConfig, _ at: Timestamp) -> SLAClock? {
        start(.assign, policy, config.router.fallbackCalendar.flatMap { config.calendars[$0] }, at)
    }

    /// The clocks an owner starts on receiving a lead.
    public static func ownerClocks(_ policy: SLAPolicy, _ calendar: BusinessCalendar?, _ at: Timestamp) -> [SLAClock] {
        ownerClocks.compactMap { start($0, policy, calendar, at) }
    }

    static func start(_ kind: ClockKind, _ policy: SLAPolicy, _ calendar: BusinessCalendar?, _ at: Timestamp) -> SLAClock? {
        guard let (budget, goal) = policy.budget(kind) else { return nil }
        return SLAClock.start(
            kind,
            at: at,
            budget: budget.milliseconds,
            calendar: budget.business ? (calendar ?? .always()) : nil,
            warnBefore: policy.warnBefore,
            goal: goal
        )
    }

    /// The status after a sales action, or why the action is refused.
    public static func apply(_ action: HandoverAction, to status: HandoverStatus, reasons: [String: RejectReason]) -> Result<HandoverStatus, HandoverRefusal> {
        switch (action, status) {
        case (_, .queued):
            return .failure(.refused("the lead waits in the queue; a manager must assign it first"))
        case (_, .qualified), (_, .rejected), (_, .closed):
            return .failure(.refused("the handover is already \(status.rawValue)"))
        case (.accept, .accepted):
            return .failure(.refused("the handover is already accepted"))
        case (.accept, .assigned):
            return .success(.accepted)
        case (.qualify, _):
            return .success(.qualified)
        case (.reject(let reason), _):
            guard reasons[reason] != nil else {
                let known = reasons.keys.sorted().joined(separator: ", ")
                return .failure(.refused("\"\(reason)\" is not a rejection reason (known: \(known))"))
            }
            return .success(.rejected)
        }
    }

    /// The lifecycle stage a sales action moves the contact to.
    public static func stage(after action: HandoverAction, reasons: [String: RejectReason]) -> LifecycleStage {
        switch action {
        case .accept: return .sal
        case .qualify: return .sql
        case .reject(let r): return reasons[r]?.action == .disqualify ? .disqualified : .recycled
        }
    }

    /// The clocks an action completes: any answer meets `accept` and `first_touch`.
    public static func clocksMet(by action: HandoverAction) -> Set<ClockKind> { [.accept, .firstTouch] }

    /// What a warning or breach asks for under a policy: who is told (owner, then manager, once
    /// each) and whether the lead moves. Without a policy: warnings tell the owner, breaches the
    /// owner and the manager.
    public struct Escalation: Sendable, Hashable {
        public var notify: [String]
        public var reassign: Bool
        public var returnToQueue: Bool
    }

    /// The escalation of a warning (`breach` false) or a breach.
    public static func escalation(_ policy: SLAPolicy?, breach: Bool, owner: String?, manager: String?) -> Escalation {
        let actions = (breach ? policy?.onBreach : policy?.onWarning) ?? (breach ? [.notifyOwner, .notifyManager] : [.notifyOwner])
        var notify: [String] = []
        if actions.contains(.notifyOwner), let owner { notify.append(owner) }
        if actions.contains(.notifyManager), let manager, !notify.contains(manager) { notify.append(manager) }
        let reassign = actions.contains(.reassign) && owner != nil
        return Escalation(notify: notify, reassign: reassign, returnToQueue: !reassign && actions.contains(.returnToQueue))
    }

    /// Whether a contact reaching `stage` another way than through its handover's answers ends
    /// the handover (qualified, in a deal, or out of the funnel).
    public static func closesHandover(_ stage: LifecycleStage) -> Bool {
        switch stage {
        case .sql, .opportunity, .customer, .recycled, .disqualified: return true
        case .subscriber, .lead, .mql, .sal: return false
        }
    }

    /// The clocks a sales touch counts towards.
    public static let clocksCountingTouches: Set<ClockKind> = [.firstTouch, .followUp]

    /// The recommended content's funnel stage for a lifecycle stage.
    public static func contentStage(for stage: LifecycleStage?) -> String {
        switch stage {
        case .subscriber, .lead, .recycled, .none, .disqualified: return "tofu"
        case .mql, .sal: return "mofu"
        case .sql, .opportunity, .customer: return "bofu"
        }
    }
}

/// Why a handover action is refused.
public enum HandoverRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    case refused(String)

    public var description: String {
        switch self {
        case .refused(let m): return m
        }
    }
}

/// Counts of clocks by outcome.
public struct ClockTally: Sendable, Codable, Hashable {
    public var met = 0
    public var breached = 0
    public var running = 0
    public var cancelled = 0

    /// Creates an empty tally.
    public init() {}

    /// Counts a clock in its status (paused ones count as running).
    public mutating func count(_ status: ClockStatus) {
        switch status {
        case .met: met += 1
        case .breached: breached += 1
        case .running, .paused: running += 1
        case .cancelled: cancelled += 1
        }
    }
}

/// The SLA figures of the reports, as definitions.
public enum SLAMetrics {
    /// When the owner first acted on a handover: an answer or a sales touch, whichever came first.
    public static func respondedAt(answeredAt: Timestamp?, firstTouchAt: Timestamp?) -> Timestamp? {
        [answeredAt, firstTouchAt].compactMap { $0 }.min()
    }

    /// Met ÷ (met + breached) over the decided clocks (nil when none is decided).
    public static func compliance(_ tallies: some Sequence<ClockTally>) -> Double? {
        let met = tallies.reduce(0) { $0 + $1.met }
        let breached = tallies.reduce(0) { $0 + $1.breached }
        return met + breached > 0 ? Double(met) / Double(met + breached) : nil
    }

    /// Accepted ÷ (accepted + rejected) (nil when nothing was answered).
    public static func acceptanceRate(accepted: Int, rejected: Int) -> Double? {
        accepted + rejected > 0 ? Double(accepted) / Double(accepted + rejected) : nil
    }
}

/// Percentiles as the KPI definitions use them (linear interpolation between order statistics).
public enum Percentile {
    /// The p-th percentile (0…1) of sorted values (nil when empty).
    public static func of(sorted v: [Double], _ p: Double) -> Double? {
        guard !v.isEmpty else { return nil }
        let pos = p * Double(v.count - 1)
        let lo = Int(pos.rounded(.down))
        let hi = min(lo + 1, v.count - 1)
        return v[lo] + (v[hi] - v[lo]) * (pos - Double(lo))
    }
}
