import Foundation
import SmarketingCore
import SmarketingStore

/// Where a sync is, for progress output.
public struct SyncProgress: Sendable {
    public var connection: String
    public var object: SyncObject
    public var pages: Int
    public var counts: SyncCounts
}

/// What a sync run did.
public struct SyncRunReport: Sendable, Codable {
    public var runID: Int64
    public var connection: String
    /// `ok` or `failed` (some object could not be read to the end; it resumes next time).
    public var status: String
    public var counts: [String: SyncCounts]
    /// The first skipped records with why (all of them are in the run's log).
    public var skipped: [SyncSkip]
    public var errors: [String]
    public var seconds: Double
    public var requests: Int
}

/// Runs a connection's sync: each object page by page from its cursor, each page stored in one
/// transaction with the cursor, so a stopped sync resumes where it stopped. A full sync starts
/// every object from the beginning; otherwise a finished object is read again from its
/// watermark (the start of its last complete pass, less an overlap for clock skew).
public struct SyncEngine: Sendable {
    let store: any SyncStore
    let clock: any WorkspaceClock
    /// How far before a pass's start the next incremental pass reads again.
    public var overlapMilliseconds: Int64 = 5 * 60_000
    /// Pages per object per run at most (a safety stop against a vendor that pages forever).
    public var maxPages = 1_000_000

    public init(store: any SyncStore, clock: any WorkspaceClock) {
        self.store = store
        self.clock = clock
    }

    /// The engine's cursor: the connector's cursor with the pass it belongs to.
    struct PassCursor: Codable {
        var c: String?
        /// Since (nil: everything).
        var s: String?
        /// The watermark this pass will leave.
        var t: String
    }

    public func run(
        connection: StoredConnection,
        connector: any VendorConnector,
        mapping: SyncMapping,
        full: Bool,
        only: Set<SyncObject>? = nil,
        actor: Actor,
        progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }
    ) async throws -> SyncRunReport {
        let started = Date()
        // The account's pacer is shared with other tasks: count this run's requests only.
        let sentBefore = await (connector as? any PacedConnector)?.http.pacer.sent ?? 0
        if full { try await store.resetSyncCursors(connection: connection.name) }
        let cursors = Dictionary(try await store.syncCursors(connection: connection.name).map { ($0.object, $0) }, uniquingKeysWith: { a, _ in a })
        let runID = try await store.startSyncRun(connection: connection.name, full: full, at: clock.now())
        var counts: [String: SyncCounts] = [:]
        var skipped: [SyncSkip] = []
        var errors: [String] = []
        objects: for object in connector.objects where only?.contains(object) ?? true {
            var pass: PassCursor
            if let saved = cursors[object], let text = saved.cursor, let p = try? JSONDecoder().decode(PassCursor.self, from: Data(text.utf8)) {
                pass = p
            } else {
                let start = clock.now().adding(milliseconds: -overlapMilliseconds)
                pass = PassCursor(c: nil, s: cursors[object]?.watermark, t: start.iso8601)
            }
            var total = counts[object.rawValue] ?? SyncCounts()
            var pages = 0
            // The next page is fetched while this one is stored, so the vendor's rate limit, not
            // our own work, sets the pace.
            let since = pass.s
            var pending: Task<SyncPage, any Error>? = Task { [cursor = pass.c] in try await connector.page(object, cursor: cursor, since: since) }
            while let task = pending, pages < maxPages {
                var page: SyncPage
                do {
                    page = try await task.value
                } catch let e as VendorError {
                    errors.append("\(object.rawValue): \(e.message)")
                    // Wrong or revoked credentials stop the whole run; other faults only this object.
                    if e.kind == .auth || e.kind == .permission { break objects }
                    continue objects
                }
                pages += 1
                if let next = page.nextCursor {
                    pending = Task { try await connector.page(object, cursor: next, since: since) }
                    pass.c = next
                    page.nextCursor = String(decoding: try JSONEncoder().encode(pass), as: UTF8.self)
                    page.watermark = nil
                } else {
                    pending = nil
                    page.watermark = pass.t
                }
                do {
                    let (c, s) = try await store.applySyncPage(page, connection: connection.name, mapping: mapping, runID: runID, actor: actor, at: clock.now())
                    total = total + c
                    if skipped.count < 200 { skipped += s.prefix(200 - skipped.count) }
                } catch {
                    pending?.cancel()
                    throw error
                }
                counts[object.rawValue] = total
                progress(SyncProgress(connection: connection.name, object: object, pages: pages, counts: total))
            }
            pending?.cancel()
            counts[object.rawValue] = total
        }
        let status = errors.isEmpty ? "ok" : "failed"
        try await store.finishSyncRun(id: runID, status: status, counts: counts, error: errors.isEmpty ? nil : errors.joined(separator: "; "), at: clock.now())
        let requests = (await (connector as? any PacedConnector)?.http.pacer.sent ?? 0) - sentBefore
        return SyncRunReport(
            runID: runID,
            connection: connection.name,
            status: status,
            counts: counts,
            skipped: skipped,
            errors: errors,
            seconds: Date().timeIntervalSince(started),
            requests: requests
        )
    }
}

/// A connector whose HTTP client can be asked how many requests it made.
protocol PacedConnector: Sendable {
    var http: VendorHTTP { get }
}

/// What a write-back pass did.
public struct WritebackReport: Sendable, Codable {
    public var connection: String
    public var queued: Int
    public var delivered: Int
    public var failed: Int
    public var requests: Int
    /// With `--dry-run`: the changes that would be sent (record, field, value), nothing sent.
    public var wouldSend: [[String]]
}

/// Sends smarketing's decisions back to a vendor through the durable outbox: values are queued
/// only when they changed since last queued (idempotent), delivered in outbox order (so in order
/// per record) in the vendor's batch size, and a failed batch is retried with back-off.
public struct WritebackEngine: Sendable {
    let store: any SyncStore
    let clock: any WorkspaceClock

    public init(store: any SyncStore, clock: any WorkspaceClock) {
        self.store = store
        self.clock = clock
    }

    /// Queues what changed, then (unless `dryRun`) delivers everything due.
    public func run(connection: String, connector: any VendorConnector, mapping: SyncMapping, dryRun: Bool) async throws -> WritebackReport {
        var values: [String: [String: String?]] = [:]
        for source in try await store.writebackSources(connection: connection) {
            let v = WritebackValues.values(source, writeback: mapping.writeback)
            if !v.isEmpty { values[source.contactID] = v }
        }
        if dryRun {
            // What would be queued: compare with the outbox's last values without writing.
            var would: [[String]] = []
            let pending = try await store.pendingWriteback(connection: connection, now: clock.now(), limit: 100_000)
            for p in pending { would.append([p.recordID, p.field, p.value ?? ""]) }
            for (id, fields) in values.sorted(by: { $0.key < $1.key }) {
                for (f, v) in fields.sorted(by: { $0.key < $1.key }) { would.append([id, f, (v ?? nil) ?? ""]) }
            }
            return WritebackReport(connection: connection, queued: 0, delivered: 0, failed: 0, requests: 0, wouldSend: Array(would.prefix(1000)))
        }
        let queued = try await store.queueWriteback(connection: connection, values: values, at: clock.now())
        var delivered = 0
        var failed = 0
        var requests = 0
        while true {
            let limit = connector.pushBatchSize * 200
            var due = try await store.pendingWriteback(connection: connection, now: clock.now(), limit: limit)
            if due.isEmpty { break }
            // A full read may end in the middle of a record's fields: that record goes next
            // round, whole, so each record is one update.
            if due.count == limit, let last = due.last?.recordID, due.contains(where: { $0.recordID != last }) {
                due.removeAll { $0.recordID == last }
            }
            // Batches hold whole records (all of a record's fields go in one request).
            var batch: [WritebackChange] = []
            var records: Set<String> = []
            var results: [WritebackResult] = []
            func flush() async throws {
                guard !batch.isEmpty else { return }
                requests += 1
                do {
                    results += try await connector.push(batch, mapping: mapping)
                } catch let e as VendorError {
                    let retry = e.kind == .rateLimited || e.kind == .unavailable || e.kind == .auth
                    results += batch.map { WritebackResult(seq: $0.seq, delivered: false, retry: retry, error: e.message) }
                }
                batch.removeAll()
                records.removeAll()
            }
            for change in due {
                if !records.contains(change.recordID), records.count == connector.pushBatchSize { try await flush() }
                records.insert(change.recordID)
                batch.append(change)
            }
            try await flush()
            try await store.recordWriteback(results, at: clock.now())
            delivered += results.filter(\.delivered).count
            let notDelivered = results.filter { !$0.delivered }
            failed += notDelivered.count
            // Whatever failed waits for its back-off; this pass stops there.
            if !notDelivered.isEmpty { break }
        }
        return WritebackReport(connection: connection, queued: queued, delivered: delivered, failed: failed, requests: requests, wouldSend: [])
    }
}
