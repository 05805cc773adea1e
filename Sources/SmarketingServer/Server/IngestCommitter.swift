import SmarketingCore
import SmarketingStore

/// Group commit: requests that arrive while a write is running are stored together in the next
/// transaction, so durability costs one fsync per group, not per event. Each request's batch is
/// still atomic on its own (a savepoint in the store), and each caller is answered only after
/// the transaction holding its batch has committed.
actor IngestCommitter {
    private let store: any FunnelStore
    private let clock: any WorkspaceClock
    private var pending: [(IngestBatch, CheckedContinuation<IngestBatchResult, any Error>)] = []
    private var draining = false
    /// Batches per group at most, so one transaction stays short.
    private let maxGroup = 512

    init(store: any FunnelStore, clock: any WorkspaceClock) {
        self.store = store
        self.clock = clock
    }

    /// Stores a batch with whatever else is waiting; returns once it is durable.
    func submit(_ batch: IngestBatch) async throws -> IngestBatchResult {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((batch, continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let group = Array(pending.prefix(maxGroup))
            pending.removeFirst(group.count)
            do {
                let results = try await store.ingest(group.map(\.0), at: clock.now())
                // Every caller is answered, whatever the store returned (a caller left waiting
                // would hold its request for ever).
                for (i, entry) in group.enumerated() {
                    if i < results.count {
                        entry.1.resume(returning: results[i])
                    } else {
                        entry.1.resume(throwing: StoreError.unavailable("the store answered \(results.count) of \(group.count) batches; send the events again"))
                    }
                }
            } catch {
                for entry in group { entry.1.resume(throwing: error) }
            }
        }
        draining = false
    }
}
