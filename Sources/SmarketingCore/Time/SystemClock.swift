import Foundation

/// The real clock, injected at the program's edge (CLI, server); the core never calls it itself.
public struct SystemClock: WorkspaceClock {
    /// Creates the system clock.
    public init() {}
    public func now() -> Timestamp {
        Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
