/// When a failed webhook delivery (or any outbox delivery) is tried again: exponential backoff
/// from one second to one hour, and `failed` after the last attempt (it stays replayable).
/// Every store applies this one policy.
public enum DeliveryRetry {
    /// Attempts before a delivery is marked `failed`.
    public static let maxAttempts = 10

    /// The wait after the n-th failed attempt, in milliseconds: 1 s, 2 s, 4 s, … up to one hour.
    public static func backoff(afterAttempt n: Int) -> Int64 {
        min(3_600_000, 1000 << Int64(min(max(n - 1, 0), 22)))
    }

    /// What follows the n-th failed attempt (n counts this one) at `now`.
    public enum Next: Equatable, Sendable {
        /// Try again at this time.
        case retry(at: Timestamp)
        /// Give up: the delivery is `failed`.
        case failed
    }

    /// The decision after the n-th failed attempt.
    public static func afterFailure(attempt n: Int, now: Timestamp) -> Next {
        n >= maxAttempts ? .failed : .retry(at: now.adding(milliseconds: backoff(afterAttempt: n)))
    }
}
