/// When a failed write-back to a vendor is tried again: 30 s, 1 min, 2 min … up to 1 h; after 12
/// tries (or at once when the vendor said retrying cannot help) the change fails.
public enum WritebackRetry {
    /// Tries before a change is marked failed.
    public static let maxAttempts = 12

    /// After a failure of a change tried `attempts` times before: whether to give up, and the
    /// wait before the next try (milliseconds).
    public static func next(attempts: Int, retry: Bool) -> (giveUp: Bool, delayMs: Int64) {
        let giveUp = !retry || attempts + 1 >= maxAttempts
        let delay = Int64(min(3600, 30 << min(max(attempts, 0), 7))) * 1000
        return (giveUp, delay)
    }
}
