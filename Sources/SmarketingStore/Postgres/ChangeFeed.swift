import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Committed changes from every app instance on the database, for this process's live views:
/// one `LISTEN` connection per process (outside the pool), fanned out to every subscriber, never
/// a poll per subscriber. Every write transaction of the store sends `NOTIFY` with its commit.
final class ChangeFeed: Sendable {
    static let channel = "smarketing_changes"

    private struct State {
        var subscribers: [UUID: AsyncStream<Void>.Continuation] = [:]
        var listener: Task<Void, Never>?
        var stopped = false
    }
    private let state = Mutex(State())

    /// A stream that yields once per committed change (a burst may arrive as one).
    func subscribe(start: @escaping @Sendable (ChangeFeed) -> Task<Void, Never>) -> AsyncStream<Void> {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) } }
        let needsListener = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.subscribers[id] = continuation
            return s.listener == nil
        }
        if needsListener {
            let task = start(self)
            state.withLock { $0.listener = task }
        }
        return stream
    }

    /// Tells every subscriber.
    func publish() {
        for c in state.withLock({ Array($0.subscribers.values) }) { c.yield() }
    }

    func stop() {
        let (task, subscribers) = state.withLock { s in
            s.stopped = true
            defer {
                s.listener = nil
                s.subscribers = [:]
            }
            return (s.listener, Array(s.subscribers.values))
        }
        task?.cancel()
        for c in subscribers { c.finish() }
    }
}

extension PostgresStore {
    /// Yields whenever any instance commits a change to this database (within about a second:
    /// PostgreSQL delivers NOTIFY at commit). A lost listener connection is opened again, and
    /// subscribers are told once it is back (they may have missed changes meanwhile).
    public func changes() -> AsyncStream<Void> {
        feed.subscribe { [directConfiguration, logger] feed in
            Task {
                while !Task.isCancelled {
                    do {
                        let connection = try await PostgresConnection.connect(
                            on: PostgresClient.defaultEventLoopGroup.next(),
                            configuration: directConfiguration,
                            id: 1,
                            logger: logger
                        ).get()
                        try await withTaskCancellationHandler {
                            try await connection.listen(on: ChangeFeed.channel) { notifications in
                                // Listening now: anything from here on arrives.
                                feed.publish()
                                for try await _ in notifications { feed.publish() }
                            }
                        } onCancel: {
                            connection.close().whenComplete { _ in }
                        }
                        try? await connection.close()
                    } catch {
                        if Task.isCancelled { return }
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
