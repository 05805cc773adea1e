import AsyncHTTPClient
#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// Finds SLA warnings and breaches as they fall due. Each pass asks the store for the clocks due
/// now (an index range, so its cost follows the number of due clocks, not of open ones); the
/// store fires each exactly once. A server that was down catches up on its first pass.
public struct SLABreachService: Service {
    let store: any FunnelStore
    let clock: any WorkspaceClock
    let interval: Duration
    let logger: Logger
    let metrics: ServerMetrics?

    /// Creates the service; `interval` is the longest a due clock waits to be noticed.
    public init(store: any FunnelStore, clock: any WorkspaceClock, interval: Duration = .seconds(1), logger: Logger, metrics: ServerMetrics? = nil) {
        self.store = store
        self.clock = clock
        self.interval = interval
        self.logger = logger
        self.metrics = metrics
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let run = try await store.processDueClocks(now: clock.now(), limit: 500)
                metrics?.slaFired(run.warnings + run.breaches)
                if run.warnings + run.breaches > 0 {
                    logger.info(
                        "SLA clocks",
                        metadata: [
                            "warnings": "\(run.warnings)", "breaches": "\(run.breaches)", "reassigned": "\(run.reassigned)",
                            "requeued": "\(run.requeued)",
                        ]
                    )
                }
            } catch {
                logger.error("SLA breach service: \(error)")
            }
            try? await Task.sleep(for: interval)
        }
    }
}

/// Retention (the setting `privacy.retention_months`): a pass a minute after start and then
/// once a day anonymises the contacts without activity since the cutoff. Several instances on
/// one PostgreSQL database may run it at once: an erasure of a contact already erased is
/// skipped, so each contact is anonymised once.
public struct RetentionService: Service {
    let store: any FunnelStore
    let clock: any WorkspaceClock
    let connections: ConnectionService?
    let interval: Duration
    let logger: Logger

    public init(store: any FunnelStore, clock: any WorkspaceClock, connections: ConnectionService?, interval: Duration = .seconds(86_400), logger: Logger) {
        self.store = store
        self.clock = clock
        self.connections = connections
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let actor = Actor(userID: "retention", role: .admin, via: "server")
                let report = try await RetentionRun.run(store, now: clock.now(), dryRun: false, limit: 10_000, actor: actor, connections: connections)
                if report.anonymised > 0 || !report.vendorsLeft.isEmpty {
                    logger.info(
                        "retention",
                        metadata: ["anonymised": "\(report.anonymised)", "months": "\(report.months)", "vendor_erasures_left": "\(report.vendorsLeft.count)"]
                    )
                }
            } catch {
                logger.error("retention: \(error)")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// The store's upkeep on start and then every `interval` (on PostgreSQL: touchpoint month
/// partitions made ahead, and months that landed in the default partition moved into their own).
/// Every instance runs it; the store makes each partition once.
public struct StorageHousekeeping: Service {
    let store: any FunnelStore
    let clock: any WorkspaceClock
    let interval: Duration
    let logger: Logger

    public init(store: any FunnelStore, clock: any WorkspaceClock, interval: Duration = .seconds(3600), logger: Logger) {
        self.store = store
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let made = try await store.housekeeping(at: clock.now())
                if made > 0 { logger.info("storage housekeeping", metadata: ["partitions_made": "\(made)"]) }
            } catch {
                logger.error("storage housekeeping: \(error)")
            }
            // An hour's wait must not hold up a shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Delivers webhook events from the outbox: in order per subscription, signed, retried with
/// exponential backoff; every attempt is recorded. Runs beside ingest, never inside it.
public struct WebhookDispatcher: Service {
    let store: any FunnelStore
    let clock: any WorkspaceClock
    let interval: Duration
    let timeout: TimeAmount
    let logger: Logger
    /// Keys that may have sealed subscriptions' secrets (`WebhookSecret`).
    let boxes: [SecretBox]
    /// Deliver to hosts that resolve into the server's own network.
    let allowPrivateURLs: Bool

    /// Creates the dispatcher; `interval` is the pause when nothing is due.
    public init(
        store: any FunnelStore,
        clock: any WorkspaceClock,
        interval: Duration = .milliseconds(200),
        timeout: TimeAmount = .seconds(5),
        logger: Logger,
        boxes: [SecretBox] = [],
        allowPrivateURLs: Bool
    ) {
        self.store = store
        self.clock = clock
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
        self.boxes = boxes
        self.allowPrivateURLs = allowPrivateURLs
    }

    public func run() async throws {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(3), read: timeout)
        config.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var sent = 0
            do {
                sent = try await pass(client).attempts
            } catch {
                logger.error("webhook dispatcher: \(error)")
            }
            if sent == 0 { try? await Task.sleep(for: interval) }
        }
        try? await client.shutdown()
    }

    /// Delivers everything due now and returns how many attempts were made (the CLI's
    /// `webhooks deliver` and the benchmark; the server runs `run()` instead).
    public func drain() async throws -> (attempts: Int, failed: Int) {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(3), read: timeout)
        config.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        var total = 0
        var failed = 0
        do {
            while true {
                let (n, f) = try await pass(client)
                total += n
                failed += f
                if n == 0 || n == f { break }
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        return (total, failed)
    }

    /// One round: every due delivery, subscriptions in parallel, each in order. Returns how
    /// many were attempted and how many of them failed.
    func pass(_ client: HTTPClient) async throws -> (attempts: Int, failed: Int) {
        let due = try await store.dueDeliveries(now: clock.now(), perSubscription: 500)
        guard !due.isEmpty else { return (0, 0) }
        // Lanes: per subscription, deliveries are spread over a few connections by subject; each
        // lane sends in outbox order, so events about one subject arrive in order. A failure
        // holds back the rest of its subject (they go after its retry); other subjects go on.
        var lanes: [String: [PendingDelivery]] = [:]
        for d in due { lanes[d.subscriptionID + "#" + String(Self.lane(d.subject)), default: []].append(d) }
        let attempts = await withTaskGroup(of: [DeliveryAttempt].self) { group in
            for (_, list) in lanes {
                group.addTask {
                    var out: [DeliveryAttempt] = []
                    var failedSubjects: Set<String> = []
                    for d in list where !failedSubjects.contains(d.subject) {
                        let a = await self.send(d, client)
                        out.append(a)
                        if !a.ok { failedSubjects.insert(d.subject) }
                    }
                    return out
                }
            }
            var all: [DeliveryAttempt] = []
            for await part in group { all += part }
            return all
        }
        try await store.recordDeliveries(attempts, at: clock.now())
        let failed = attempts.filter { !$0.ok }.count
        if failed > 0 { logger.warning("webhook deliveries failed, will retry", metadata: ["failed": "\(failed)"]) }
        return (attempts.count, failed)
    }

    /// Connections per subscription (AsyncHTTPClient keeps up to 8 per host).
    static let lanesPerSubscription = 8

    /// The lane of a subject: FNV-1a of its bytes, so a subject always takes the same lane.
    static func lane(_ subject: String) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in subject.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(h % UInt64(lanesPerSubscription))
    }

    func send(_ d: PendingDelivery, _ client: HTTPClient) async -> DeliveryAttempt {
        let secret: String
        do {
            secret = try WebhookSecret.open(d.secret, with: boxes)
        } catch {
            return DeliveryAttempt(id: d.id, ok: false, status: nil, error: String(describing: error))
        }
        // The host is checked where it resolves now (a name may point inside later: DNS rebinding).
        if !allowPrivateURLs, let host = URL(string: d.url)?.host {
            if let why = PrivateAddress.reason(host: host) {
                return DeliveryAttempt(id: d.id, ok: false, status: nil, error: "not sent: the URL points into the server's own network (\(why))")
            }
            for address in await HostResolver.addresses(host) {
                if let why = address.count == 4 ? PrivateAddress.reason(v4: address) : PrivateAddress.reason(v6: address) {
                    return DeliveryAttempt(id: d.id, ok: false, status: nil, error: "not sent: \(host) resolves into the server's own network (\(why))")
                }
            }
        }
        let body = WebhookPayload.body(d)
        let t = clock.now().milliseconds / 1000
        var request = HTTPClientRequest(url: d.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "smarketing-webhooks/1")
        request.headers.add(name: "Smarketing-Event", value: d.eventType)
        request.headers.add(name: "Smarketing-Delivery", value: String(d.id))
        request.headers.add(name: "Smarketing-Seq", value: String(d.seq))
        request.headers.add(name: "Smarketing-Signature", value: WebhookSignature.header(secret: secret, timestamp: t, body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = Int(response.status.code)
            return DeliveryAttempt(id: d.id, ok: (200..<300).contains(code), status: code, error: (200..<300).contains(code) ? nil : "HTTP \(code)")
        } catch {
            return DeliveryAttempt(id: d.id, ok: false, status: nil, error: String(describing: error))
        }
    }
}

/// Signatures of webhook deliveries.
///
/// Header `Smarketing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
/// A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in
/// constant time, refuses timestamps more than five minutes away from its clock (replays), and
/// drops a `Smarketing-Delivery` id it has already processed (retries may repeat a delivery).
public enum WebhookSignature {
    /// The header value for a body sent at `timestamp` (Unix seconds).
    public static func header(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=" + hex(mac(secret: secret, timestamp: timestamp, body: body))
    }

    static func mac(secret: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        var message = Array("\(timestamp).".utf8)
        message += body
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8))))
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Whether a header is valid for the body and fresh at `now` (Unix seconds).
    public static func verify(header: String, secret: String, body: [UInt8], now: Int64, tolerance: Int64 = 300) -> Bool {
        var t: Int64?
        var v1: String?
        for part in header.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            if kv[0] == "t" { t = Int64(kv[1]) } else if kv[0] == "v1" { v1 = kv[1] }
        }
        guard let t, let v1, abs(now - t) <= tolerance else { return false }
        let expected = Array(hex(mac(secret: secret, timestamp: t, body: body)).utf8)
        let given = Array(v1.utf8)
        guard expected.count == given.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<expected.count { diff |= expected[i] ^ given[i] }
        return diff == 0
    }
}

/// What a delivery's body holds.
public enum WebhookPayload {
    /// The envelope (`json`) or a Slack incoming-webhook message (`slack`).
    static func body(_ d: PendingDelivery) -> [UInt8] {
        if d.format == "slack" { return Array(slack(d).utf8) }
        var text = "{\"id\":\"evt-\(d.seq)\",\"seq\":\(d.seq),\"type\":" + JSONValue.string(d.eventType).compactText
        text += ",\"created_at\":\"" + d.at.iso8601 + "\","
        // The subject's subscription status, when stated, so receivers can honour it.
        if let consent = d.consent { text += "\"consent\":" + JSONValue.string(consent).compactText + "," }
        text += "\"data\":" + d.payload + "}"
        return Array(text.utf8)
    }

    /// A Slack message: one line of text with the essentials.
    static func slack(_ d: PendingDelivery) -> String {
        let data = (try? JSONSerialization.jsonObject(with: Data(d.payload.utf8))) as? [String: Any] ?? [:]
        func s(_ k: String) -> String { data[k].map { "\($0)" } ?? "?" }
        let text: String
        switch d.eventType {
        case "sla.breached": text = ":rotating_light: SLA breached: \(s("clock")) for contact \(s("contact_id")) (owner \(s("owner_id")), due \(s("due_at")))"
        case "sla.warning": text = ":warning: SLA due soon: \(s("clock")) for contact \(s("contact_id")) (owner \(s("owner_id")), due \(s("due_at")))"
        case "handover.assigned": text = ":inbox_tray: New lead \(s("contact_id")) for \(s("owner_id")) (rule \(s("rule")))"
        case "handover.queued": text = ":hourglass: Lead \(s("contact_id")) waits in queue \(s("queue"))"
        case "handover.rejected": text = ":x: Lead \(s("contact_id")) rejected by \(s("by")): \(s("reason_label"))"
        case "handover.accepted", "handover.qualified": text = ":white_check_mark: Lead \(s("contact_id")) \(d.eventType.dropFirst(9)) by \(s("by"))"
        case "contact.mql": text = ":star: \(s("contact_id")) became an MQL"
        // The minutes as Markdown: Slack shows them as the message (its mrkdwn reads headings and lists as text).
        case "meeting.finished": text = s("minutes")
        default: text = "\(d.eventType): \(d.payload)"
        }
        return "{\"text\":" + JSONValue.string(text).compactText + "}"
    }
}

/// The addresses a host name resolves to (getaddrinfo on a thread of its own: a slow resolver
/// must not hold one of the few cooperative threads). Written by hand: AsyncHTTPClient resolves
/// inside its connection pool and offers no hook to refuse an address.
enum HostResolver {
    static func addresses(_ host: String) async -> [[UInt8]] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[[UInt8]], Never>) in
            Thread.detachNewThread { continuation.resume(returning: resolve(host)) }
        }
    }

    static func resolve(_ host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var out: [[UInt8]] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            if let sa = info.pointee.ai_addr {
                if info.pointee.ai_family == AF_INET {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                        out.append(withUnsafeBytes(of: p.pointee.sin_addr) { Array($0) })
                    }
                } else if info.pointee.ai_family == AF_INET6 {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                        out.append(withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) })
                    }
                }
            }
            next = info.pointee.ai_next
        }
        return out
    }
}
