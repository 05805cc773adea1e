import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import Prometheus
import SmarketingCore
import SmarketingStore
import Synchronization

/// The server's metrics in Prometheus' text format (`GET /metrics`), recorded through
/// swift-metrics into a registry of this application's own (tests run several servers in one
/// process, so nothing is bootstrapped globally).
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    public init() {
        var f = PrometheusMetricsFactory(registry: registry)
        // 1 ms to 10 s, in whole microseconds.
        let micros: [Int64] = [1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000]
        f.defaultDurationHistogramBuckets = micros.map { .microseconds($0) }
        f.defaultValueHistogramBuckets = [1, 2, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000]
        factory = f
    }

    /// One answered request: its route template (bounded: documented templates and a few groups).
    func request(route: String, method: String, status: Int, nanoseconds: UInt64) {
        Counter(label: "smarketing_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory)
            .increment()
        Timer(label: "smarketing_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory)
            .recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// Events stored by an ingest request.
    func ingested(events: Int, batchSize: Int) {
        Counter(label: "smarketing_ingest_events_total", factory: factory).increment(by: max(0, events))
        Recorder(label: "smarketing_ingest_batch_events", factory: factory).record(max(0, batchSize))
    }

    /// A breach service pass: clocks that fired.
    func slaFired(_ n: Int) {
        Counter(label: "smarketing_sla_clocks_fired_total", factory: factory).increment(by: max(0, n))
    }

    /// Records what the store tells as it happens: each connection lease's wait and each
    /// refresh of the KPI aggregates (incremental before a commit, or a whole rebuild).
    func listen(to telemetry: StoreTelemetry) {
        let factory = self.factory
        telemetry.observe { event in
            switch event {
            case .leased(let waited):
                Timer(label: "smarketing_database_connection_wait_seconds", factory: factory).record(duration: waited)
            case .kpiRefresh(let took, let rebuild):
                Timer(label: "smarketing_kpi_refresh_duration_seconds", dimensions: [("kind", rebuild ? "rebuild" : "incremental")], factory: factory)
                    .record(duration: took)
            }
        }
    }

    /// The text exposition with the queue gauges read now.
    func exposition(_ q: QueueStats?, connections: StoreTelemetry.Connections, now: Timestamp, database: ContinuousClock.Duration?) -> String {
        func gauge(_ label: String, _ value: Double, _ dims: [(String, String)] = []) {
            Gauge(label: label, dimensions: dims, factory: factory).record(value)
        }
        func age(_ t: Timestamp?) -> Double { t.map { Double(max(0, now.milliseconds - $0.milliseconds)) / 1000 } ?? 0 }
        if let q {
            gauge("smarketing_webhook_queue_depth", Double(q.webhooksPending))
            gauge("smarketing_webhook_oldest_pending_age_seconds", age(q.webhooksOldestPendingAt))
            gauge("smarketing_webhook_failed_deliveries", Double(q.webhooksFailed))
            gauge("smarketing_writeback_queue_depth", Double(q.writebacksPending))
            gauge("smarketing_writeback_oldest_pending_age_seconds", age(q.writebacksOldestPendingAt))
            gauge("smarketing_writeback_failed", Double(q.writebacksFailed))
            gauge("smarketing_sla_clocks_due", Double(q.slaClocksDue))
            gauge("smarketing_sla_clocks_open", Double(q.slaClocksOpen))
            for c in q.connections {
                gauge("smarketing_sync_lag_seconds", c.lastSyncAt == nil ? -1 : age(c.lastSyncAt), [("connection", c.name), ("vendor", c.vendor)])
            }
        }
        gauge("smarketing_database_up", q == nil ? 0 : 1)
        gauge("smarketing_database_connections_capacity", Double(connections.capacity))
        gauge("smarketing_database_connections_in_use", Double(connections.inUse))
        gauge("smarketing_database_connections_waiting", Double(connections.waiting))
        if let database { gauge("smarketing_database_read_seconds", Double(database.components.attoseconds) / 1e18 + Double(database.components.seconds)) }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// Requests per second and burst of a token bucket; 0 turns the limit off.
public struct RateLimit: Sendable, Equatable {
    public var perSecond: Double
    public var burst: Double
    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond.isFinite ? max(0, perSecond) : 0
        self.burst = burst.isFinite ? max(1, burst) : 1
    }
    public var isOff: Bool { perSecond <= 0 }
}

/// Token buckets by key (a token, an address), in this process: several instances each allow
/// the rate (docs/OPERATIONS.md). Written by hand: no package of the machine's list limits
/// rates inside a Hummingbird server, and a token bucket is a dozen lines.
final class RateLimiter: Sendable {
    let limit: RateLimit
    private let buckets = Mutex<[String: (tokens: Double, at: UInt64)]>([:])
    /// Monotonic nanoseconds (injected for tests).
    private let now: @Sendable () -> UInt64

    init(_ limit: RateLimit, now: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.limit = limit
        self.now = now
    }

    /// nil when the request may go; otherwise the whole seconds to wait.
    func take(_ key: String) -> Int? {
        guard !limit.isOff else { return nil }
        let t = now()
        return buckets.withLock { b -> Int? in
            if b.count > 100_000 { b.removeAll() }
            var entry = b[key] ?? (limit.burst, t)
            let elapsed = Double(t &- entry.at) / 1e9
            entry.tokens = min(limit.burst, entry.tokens + max(0, elapsed) * limit.perSecond)
            entry.at = t
            if entry.tokens >= 1 {
                entry.tokens -= 1
                b[key] = entry
                return nil
            }
            b[key] = entry
            let wait = ((1 - entry.tokens) / limit.perSecond).rounded(.up)
            // Whole seconds from 1 to 3600; a non-finite or huge wait (a tiny rate) is an hour.
            return wait.isFinite ? Int(exactly: min(3600, max(1, wait))) ?? 3600 : 3600
        }
    }
}

extension Problem {
    static func tooMany(_ who: String, _ limit: RateLimit, retryAfter: Int) -> Problem {
        var p = Problem(
            .tooManyRequests,
            "\(who) sent more than \(FieldValue.format(limit.perSecond)) requests per second (bursts of \(FieldValue.format(limit.burst))); try again in \(retryAfter) s"
        )
        p.headers[.retryAfter] = String(retryAfter)
        return p
    }
}

/// A request's id: the caller's `X-Request-Id` when it is a plain token of at most 64
/// characters, else a new one. It is in the response's `X-Request-Id`, in problem+json bodies
/// (`request_id`) and on every log line of the request.
enum RequestID {
    static let header = HTTPField.Name("X-Request-Id")!

    static func of(_ request: Request) -> String {
        if let given = request.headers[header], (1...64).contains(given.utf8.count),
            given.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 })
        {
            return given
        }
        return UUID().uuidString.lowercased()
    }
}

/// The metrics route label of a path: its documented API template, or a small fixed group.
enum MetricsRoute {
    static func label(_ path: String) -> String {
        if path.hasPrefix("/api/") { return APIRoute.template(path: path) ?? "/api/(unknown)" }
        for fixed in ["/healthz", "/readyz", "/metrics", "/openapi.json"] where path == fixed { return fixed }
        if path.hasPrefix("/hooks/") { return "/hooks/{name}" }
        if path.hasPrefix("/static/") { return "/static" }
        return "/(web)"
    }
}
