/// What a clock measures.
public enum ClockKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// From the MQL move to an owner (runs only while a lead waits in a queue).
    case assign
    /// From assignment to the owner's accept, qualify or reject.
    case accept
    /// From assignment to the owner's first sales action (accept/reject, call, email, meeting).
    case firstTouch = "first_touch"
    /// From assignment until the cadence's number of sales touches is reached.
    case followUp = "follow_up"
}

/// Where a clock is.
public enum ClockStatus: String, Sendable, Hashable, Codable {
    case running, paused, met, breached
    /// Stopped without a verdict (the lead went to another owner or left the funnel).
    case cancelled
}

/// Something a clock change asks the caller to do (record, notify, escalate).
public enum ClockEffect: Sendable, Hashable {
    /// The warning time passed while running.
    case warning(at: Timestamp)
    /// The due time passed without the clock being met.
    case breached(at: Timestamp)
    /// The clock was met in time.
    case met(at: Timestamp)
    /// The goal was reached after the due time (the breach stays).
    case metLate(at: Timestamp)
}

/// One SLA clock of a handover: a pure state machine.
///
/// A clock has a budget of time, counted either on a business calendar or on the wall clock,
/// from its start. Its due time is kept as an instant (the wall-clock due time) together with the
/// budget (the business-time due), so both can be shown. Pausing stops the budget from being
/// used; resuming moves the due time by the paused span (in the clock's own measure). A breach
/// and a warning each happen at most once: the state records that they happened, and `tick`
/// reports only what is new.
public struct SLAClock: Sendable, Hashable, Codable {
    public var kind: ClockKind
    public var status: ClockStatus
    public var startedAt: Timestamp
    /// The budget in milliseconds of the clock's measure (business or wall time).
    public var budget: Int64
    /// Whether the budget is counted on the calendar (else on the wall clock).
    public var business: Bool
    /// Warn this long (in the clock's measure) before the due time; 0: no warning.
    public var warnBefore: Int64
    /// The wall-clock instant the budget runs out (while running).
    public var dueAt: Timestamp
    /// When the warning is due (nil: no warning).
    public var warnAt: Timestamp?
    public var warned = false
    public var breachedAt: Timestamp?
    public var pausedAt: Timestamp?
    /// Budget used before the current pause (or before the last resume).
    public var used: Int64 = 0
    /// When counting resumed last (the start, or the last resume).
    public var countingFrom: Timestamp
    /// When the goal was reached.
    public var completedAt: Timestamp?
    /// Touches needed (follow-up cadence) and counted so far.
    public var goal = 1
    public var progress = 0

    /// Starts a clock at `at`. Returns nil when the calendar never opens.
    public static func start(
        _ kind: ClockKind,
        at: Timestamp,
        budget: Int64,
        calendar: BusinessCalendar?,
        warnBefore: Int64 = 0,
        goal: Int = 1
    ) -> SLAClock? {
        var c = SLAClock(
            kind: kind,
            status: .running,
            startedAt: at,
            budget: budget,
            business: calendar != nil,
            warnBefore: warnBefore,
            dueAt: at,
            countingFrom: at
        )
        c.goal = max(1, goal)
        guard c.schedule(calendar) else { return nil }
        return c
    }

    /// Sets the due and warning instants from `countingFrom` and the budget left.
    mutating func schedule(_ calendar: BusinessCalendar?) -> Bool {
        let left = max(0, budget - used)
        func after(_ ms: Int64) -> Timestamp? {
            if business, let calendar { return calendar.adding(business: ms, to: countingFrom) }
            return countingFrom.adding(milliseconds: ms)
        }
        guard let due = after(left) else { return false }
        dueAt = due
        // A warning needs time before it: a budget no longer than the warning span gets none.
        if warnBefore > 0, !warned, left > warnBefore {
            warnAt = after(left - warnBefore)
        } else if !warned {
            warnAt = nil
        }
        return true
    }

    /// The next instant at which `tick` has something to report (nil: nothing ever).
    public var nextAction: Timestamp? {
        guard status == .running else { return nil }
        if let w = warnAt, !warned, w < dueAt { return w }
        return dueAt
    }

    /// Reports the warning and the breach that are due at `now`, once each.
    public mutating func tick(now: Timestamp) -> [ClockEffect] {
        guard status == .running else { return [] }
        var out: [ClockEffect] = []
        if let w = warnAt, !warned, w <= now, w < dueAt {
            warned = true
            out.append(.warning(at: w))
        }
        if dueAt <= now {
            status = .breached
            breachedAt = dueAt
            warned = true
            out.append(.breached(at: dueAt))
        }
        return out
    }

    /// Counts one step towards the goal at `at`; reaching it meets the clock (or records a late
    /// completion after a breach). A step after completion changes nothing.
    public mutating func record(at: Timestamp) -> [ClockEffect] {
        guard completedAt == nil else { return [] }
        progress += 1
        guard progress >= goal else { return [] }
        return complete(at: at)
    }

    /// Meets the clock at `at` regardless of the goal (acceptance, assignment).
    public mutating func complete(at: Timestamp) -> [ClockEffect] {
        guard completedAt == nil else { return [] }
        completedAt = at
        switch status {
        case .running, .paused:
            let late = status == .running ? at > dueAt : used > budget
            if late {
                // The breach was not seen yet (the service had not run): it is reported now.
                status = .breached
                breachedAt = dueAt
                return [.breached(at: dueAt), .metLate(at: at)]
            }
            status = .met
            return [.met(at: at)]
        case .breached:
            return [.metLate(at: at)]
        case .met, .cancelled:
            return []
        }
    }

    /// Stops the budget at `at` (a running clock only).
    public mutating func pause(at: Timestamp, calendar: BusinessCalendar?) {
        guard status == .running else { return }
        used += elapsed(from: countingFrom, to: at, calendar)
        pausedAt = at
        status = .paused
    }

    /// Resumes counting at `at`; the due time moves by the paused span.
    public mutating func resume(at: Timestamp, calendar: BusinessCalendar?) {
        guard status == .paused else { return }
        pausedAt = nil
        countingFrom = at
        status = .running
        _ = schedule(calendar)
    }

    /// Stops a clock that no longer applies (the lead was reassigned or closed) without a verdict.
    public mutating func cancel(at: Timestamp) {
        guard status == .running || status == .paused else { return }
        completedAt = at
        status = .cancelled
    }

    /// Budget time between two instants in the clock's measure.
    func elapsed(from a: Timestamp, to b: Timestamp, _ calendar: BusinessCalendar?) -> Int64 {
        if business, let calendar { return calendar.businessTime(from: a, to: b) }
        return b.milliseconds - a.milliseconds
    }

    /// Budget left at `now` in the clock's measure (negative once overdue).
    public func remaining(at now: Timestamp, calendar: BusinessCalendar?) -> Int64 {
        switch status {
        case .paused: return budget - used
        case .running, .breached:
            if business, let calendar { return calendar.businessTime(from: now, to: dueAt) }
            return dueAt.milliseconds - now.milliseconds
        case .met, .cancelled: return budget - used
        }
    }
}
