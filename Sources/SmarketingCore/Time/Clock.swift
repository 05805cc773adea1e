/// Where "now" comes from. Every time-dependent decision takes a clock, never reads the system
/// time itself, so SLA and decay logic can be tested at any instant.
public protocol WorkspaceClock: Sendable {
    /// The current instant.
    func now() -> Timestamp
}

/// A clock that always answers the same instant (tests, replays).
public struct FixedClock: WorkspaceClock {
    /// The instant this clock answers.
    public let instant: Timestamp
    /// Creates a clock stopped at `instant`.
    public init(_ instant: Timestamp) { self.instant = instant }
    public func now() -> Timestamp { instant }
}
