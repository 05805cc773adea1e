import Foundation
import PostgresNIO
import Synchronization

/// Admission to the connection pool: at most `permits` requests hold a connection, at most
/// `maxWaiting` wait for one, and none waits longer than `timeout`. A request that cannot get in
/// fails at once with `StoreError.unavailable` (the API answers 503 with Retry-After) instead of
/// joining a queue that grows without bound (PostgresNIO's pool queues every request).
actor ConnectionGate {
    private let permits: Int
    private let maxWaiting: Int
    private let timeout: Duration
    private var inUse = 0
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0

    init(permits: Int, maxWaiting: Int, timeout: Duration) {
        self.permits = max(1, permits)
        self.maxWaiting = max(0, maxWaiting)
        self.timeout = timeout
    }

    func acquire() async throws {
        if inUse < permits && waiters.isEmpty {
            inUse += 1
            return
        }
        guard waiters.count < maxWaiting else {
            throw StoreError.unavailable("the database is busy: all \(permits) connections are in use and \(maxWaiting) requests wait; try again shortly")
        }
        nextID &+= 1
        let id = nextID
        let limit = timeout
        let permits = self.permits
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.expire(id, message: "the database is busy: no connection of \(permits) came free within \(limit); try again shortly")
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            waiters.append((id, c))
        }
    }

    func release() {
        if waiters.isEmpty {
            inUse = max(0, inUse - 1)
        } else {
            // The permit passes straight to the oldest waiter.
            waiters.removeFirst().continuation.resume()
        }
    }

    private func expire(_ id: UInt64, message: String) {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: i).continuation.resume(throwing: StoreError.unavailable(message))
    }
}

/// Thrown when no pooled connection could be had in time (the server is down or unreachable).
struct ConnectionWaitTimeout: Error {}

/// Lets a non-Sendable closure cross into a child task that runs it while the caller waits
/// (the caller does not touch it meanwhile).
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
}

private final class Flag: Sendable {
    let set = Atomic<Bool>(false)
}

extension PostgresClient {
    /// `withConnection`, giving up when no connection is leased within `timeout`. PostgresNIO's
    /// pool waits for a connection for as long as it takes (and retries connecting for ever when
    /// the server is down); a request must get its 503 instead. Written by hand: the pool has no
    /// lease timeout. Giving up cancels the wait, which withdraws the lease request.
    func withConnection<T: Sendable>(timeout: Duration, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withoutActuallyEscaping(body) { escapable in
            let work = UncheckedBox(value: escapable)
            let leased = Flag()
            return try await withThrowingTaskGroup(of: UncheckedBox<T>?.self) { group in
                group.addTask {
                    UncheckedBox(
                        value: try await self.withConnection { connection in
                            leased.set.store(true, ordering: .relaxed)
                            return try await work.value(connection)
                        }
                    )
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    if !leased.set.load(ordering: .relaxed) { throw ConnectionWaitTimeout() }
                    return nil
                }
                while let result = try await group.next() {
                    if let result {
                        group.cancelAll()
                        return result.value
                    }
                }
                throw ConnectionWaitTimeout()
            }
        }
    }
}
