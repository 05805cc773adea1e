import Foundation

/// An engagement score with exact exponential decay, kept as a value at a reference time.
///
/// The score at time t is Σ pointsᵢ · 2^(−(t − tᵢ)/h). Storing it as (value at `reference`)
/// makes every read O(1) — value(t) = value · 2^(−(t − reference)/h) — and every added event
/// O(1), in any order: an event older than the reference is decayed to the reference before it
/// is added. Time is UTC milliseconds, so daylight-saving changes and year ends cannot shift it.
public struct EngagementScore: Sendable, Hashable, Codable {
    /// The score at `reference`.
    public private(set) var value: Double
    public private(set) var reference: Timestamp
    /// The half-life in milliseconds (> 0).
    public let halfLife: Int64

    /// An empty score.
    public init(halfLife: Int64, reference: Timestamp = Timestamp(milliseconds: 0)) {
        precondition(halfLife > 0, "a half-life must be positive")
        self.value = 0
        self.reference = reference
        self.halfLife = halfLife
    }

    /// A stored score.
    init(value: Double, reference: Timestamp, halfLife: Int64) {
        self.value = value
        self.reference = reference
        self.halfLife = halfLife
    }

    /// The decay factor over `delta` milliseconds (negative delta grows).
    public func factor(_ delta: Int64) -> Double { exp2(-Double(delta) / Double(halfLife)) }

    /// The score at `t` (before or after the reference).
    public func value(at t: Timestamp) -> Double { value * factor(t.milliseconds - reference.milliseconds) }

    /// Adds `points` earned at `t`. Moves the reference forward when `t` is later, so values stay
    /// in a sane range.
    public mutating func add(_ points: Double, at t: Timestamp) {
        if t > reference {
            value = value * factor(t.milliseconds - reference.milliseconds) + points
            reference = t
        } else {
            value += points * factor(reference.milliseconds - t.milliseconds)
        }
    }

    /// The decayed contribution now of `points` earned at `t`.
    public func contribution(of points: Double, earnedAt t: Timestamp, now: Timestamp) -> Double {
        points * factor(now.milliseconds - t.milliseconds)
    }
}
