import Synchronization

/// What a store tells operations about itself: how busy its database connections are and how
/// long keeping the KPI aggregates up to date takes. The server's `/metrics` reads the gauges
/// when it is scraped and hears each event as it happens (see `observe`).
///
/// Durations are measured on the monotonic clock given at creation; they are figures for
/// operators, never an input to a decision.
public final class StoreTelemetry: Sendable {
    /// The connections: how many the store holds at most, how many are leased and how many
    /// callers wait for one.
    public struct Connections: Sendable, Equatable {
        public var capacity: Int
        public var inUse: Int
        public var waiting: Int
        /// Leases granted since the store opened.
        public var leases: Int64
    }

    /// One thing that happened, told to the observer.
    public enum Event: Sendable {
        /// A lease waited this long for its connection.
        case leased(waited: Duration)
        /// The aggregates were brought up to date before a commit: incrementally, or rebuilt
        /// whole (a settings change, a new handover file).
        case kpiRefresh(took: Duration, rebuild: Bool)
    }

    /// A connection being waited for or used; ends once, however the work ends.
    final class Lease: Sendable {
        private let telemetry: StoreTelemetry
        private let start: ContinuousClock.Instant
        /// 0 waiting, 1 holding, 2 ended.
        private let state = Atomic<Int>(0)

        fileprivate init(_ telemetry: StoreTelemetry) {
            self.telemetry = telemetry
            self.start = telemetry.clock.now
        }

        /// The connection is ours.
        func acquired() {
            guard state.compareExchange(expected: 0, desired: 1, ordering: .relaxed).exchanged else { return }
            let waited = start.duration(to: telemetry.clock.now)
            telemetry.counts.withLock {
                $0.waiting -= 1
                $0.inUse += 1
                $0.leases += 1
            }
            telemetry.tell(.leased(waited: waited))
        }

        /// The work is over (or never got its connection).
        func ended() {
            let was = state.exchange(2, ordering: .relaxed)
            guard was != 2 else { return }
            telemetry.counts.withLock {
                if was == 0 { $0.waiting -= 1 } else { $0.inUse -= 1 }
            }
        }
    }

    let clock: ContinuousClock
    private let counts: Mutex<Connections>
    private let observer = Mutex<Listener<Event>?>(nil)

    public init(capacity: Int, clock: ContinuousClock = ContinuousClock()) {
        self.clock = clock
        self.counts = Mutex(Connections(capacity: capacity, inUse: 0, waiting: 0, leases: 0))
    }

    /// The connections now.
    public var connections: Connections { counts.withLock { $0 } }

    /// Hears every event from now on (one observer: the server's metrics).
    public func observe(_ body: @escaping @Sendable (Event) -> Void) {
        let listener = Listener(body)
        observer.withLock { $0 = listener }
    }

    func tell(_ event: Event) {
        observer.withLock { $0 }?.call(event)
    }

    /// A caller starts waiting for a connection.
    func lease() -> Lease {
        counts.withLock { $0.waiting += 1 }
        return Lease(self)
    }

    /// The time now on the telemetry's clock (the start of something to be timed).
    var now: ContinuousClock.Instant { clock.now }

    /// The aggregates were brought up to date, starting at `start`.
    func kpiRefreshed(since start: ContinuousClock.Instant, rebuild: Bool) {
        tell(.kpiRefresh(took: start.duration(to: clock.now), rebuild: rebuild))
    }
}

/// A closure kept behind a reference, for a `Mutex`. A `Mutex` that holds a closure value
/// re-wraps it in two reabstraction thunks on every `withLock` that reads it (the generic
/// storage and the caller's representation differ, and the inout value is written back): the
/// telemetry's observer grew by two heap contexts per event, every call walked the whole chain,
/// and releasing a chain of some 100,000 overflowed the stack when the server stopped. A
/// reference is read as it is.
final class Listener<Value: Sendable>: Sendable {
    let call: @Sendable (Value) -> Void
    init(_ call: @escaping @Sendable (Value) -> Void) { self.call = call }
}
