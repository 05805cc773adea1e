import Foundation

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
