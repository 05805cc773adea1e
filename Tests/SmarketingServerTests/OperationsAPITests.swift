import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Synchronization
import Testing

@Suite("Operations: metrics, request ids, rate limits, security headers, JSON logs")
struct OperationsAPITests {
    static func app(_ f: Fixture, _ configure: (inout ServerConfiguration) -> Void) -> some ApplicationProtocol {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.secretBox = Fixture.secretBox
        configuration.backgroundServices = false
        configure(&configuration)
        return buildApplication(configuration: configuration, store: f.store, clock: Fixture.clock, logger: Logger(label: "test"))
    }

    @Test("GET /metrics (any token): requests by route and status with latency histograms, ingest counts, queue depths and ages, database up")
    func metrics() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.app(f) { _ in }.test(.live) { client in
            #expect(try await client.call(.get, "/metrics", token: nil).status == .unauthorized)
            #expect(try await client.call(.get, "/api/v1/contacts?limit=1", token: f.tokens[.viewer]).status == .ok)
            #expect(try await client.call(.get, "/api/v1/contacts/nobody", token: f.tokens[.viewer]).status == .notFound)
            let created = try await client.call(.post, "/api/v1/contacts", token: f.tokens[.admin], body: #"{"id":"ct-m","email":"m@m.example","created_at":"2026-01-01T00:00:00Z"}"#)
            #expect(created.status == .created, "\(created.text)")
            let ingest = try await client.call(
                .post, "/api/v1/events", token: f.tokens[.admin],
                body: #"[{"id":"e1","type":"page_view","occurred_at":"2026-01-02T00:00:00Z","contact_id":"ct-m"},{"id":"e2","type":"page_view","occurred_at":"2026-01-02T00:00:01Z","contact_id":"ct-m"}]"#
            )
            #expect(ingest.status == .ok, "\(ingest.text)")
            let m = try await client.call(.get, "/metrics", token: f.tokens[.viewer])
            #expect(m.status == .ok && m.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = m.text
            #expect(text.contains(#"smarketing_http_requests_total{route="/api/v1/contacts",method="GET",status="200"} 1"#), "\(text.prefix(3000))")
            #expect(text.contains(#"smarketing_http_requests_total{route="/api/v1/contacts/{id}",method="GET",status="404"} 1"#))
            #expect(text.contains(#"smarketing_http_request_duration_seconds_bucket{route="/api/v1/contacts",method="GET",le="+Inf"} 1"#))
            #expect(text.contains("smarketing_ingest_events_total 2"))
            #expect(text.contains("smarketing_ingest_batch_events_count 1"))
            for gauge in ["smarketing_webhook_queue_depth", "smarketing_writeback_queue_depth", "smarketing_sla_clocks_due", "smarketing_database_up 1"] {
                #expect(text.contains(gauge), "\(gauge)")
            }
            // The store's side: the pool (SQLite: 5 readers and the writer) and its use, each
            // lease's wait, and the KPI refresh each write ran before its commit.
            func value(_ series: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
            }
            #expect(value("smarketing_database_connections_capacity") == 6, "\(text.prefix(4000))")
            #expect(value("smarketing_database_connections_in_use").map { $0 >= 0 && $0 <= 6 } == true)
            #expect(value("smarketing_database_connections_waiting").map { $0 >= 0 } == true)
            #expect((value("smarketing_database_connection_wait_seconds_count") ?? 0) >= 3)
            let refreshes = (value(#"smarketing_kpi_refresh_duration_seconds_count{kind="incremental"}"#) ?? 0)
                + (value(#"smarketing_kpi_refresh_duration_seconds_count{kind="rebuild"}"#) ?? 0)
            #expect(refreshes >= 1, "the new contact refreshed the aggregates before its commit")
            #expect((value(#"smarketing_kpi_refresh_duration_seconds_sum{kind="incremental"}"#) ?? -1) > 0)
        }
    }

    @Test("every answer carries X-Request-Id (the caller's, when plain), also in problem bodies; API answers carry nosniff and a CSP; HSTS with --secure-cookies")
    func requestIDs() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.app(f) { $0.secureCookies = true }.test(.live) { client in
            let given = try await client.execute(uri: "/api/v1/contacts/nobody", method: .get, headers: [.authorization: "Bearer " + f.tokens[.admin]!, RequestIDName.name: "abc-123.x_y"])
            #expect(given.headers[RequestIDName.name] == "abc-123.x_y")
            let body = try JSONSerialization.jsonObject(with: Data(given.body.readableBytesView)) as? [String: Any] ?? [:]
            #expect(given.status == .notFound && body["request_id"] as? String == "abc-123.x_y", "\(body)")
            #expect(given.headers[.xContentTypeOptions] == "nosniff" && given.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(given.headers[.strictTransportSecurity] == "max-age=31536000; includeSubDomains")
            let odd = try await client.execute(uri: "/api/v1/nothing", method: .get, headers: [RequestIDName.name: "bad id\twith spaces"])
            let id = try #require(odd.headers[RequestIDName.name])
            #expect(id != "bad id\twith spaces" && id.count == 36)
            let oddBody = try JSONSerialization.jsonObject(with: Data(odd.body.readableBytesView)) as? [String: Any] ?? [:]
            #expect(oddBody["request_id"] as? String == id)
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.headers[RequestIDName.name] != nil && health.status == .ok)
        }
        try await Self.app(f) { _ in }.test(.live) { client in
            let plain = try await client.execute(uri: "/healthz", method: .get)
            #expect(plain.headers[.strictTransportSecurity] == nil)
        }
    }

    @Test("over the rate of a token or an address: 429 problem with Retry-After; other tokens and the probes go on")
    func rateLimits() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.app(f) { $0.tokenRateLimit = RateLimit(perSecond: 0.001, burst: 3) }.test(.live) { client in
            for _ in 0..<3 { #expect(try await client.call(.get, "/api/v1/contacts?limit=1", token: f.tokens[.viewer]).status == .ok) }
            let over = try await client.call(.get, "/api/v1/contacts?limit=1", token: f.tokens[.viewer])
            #expect(over.status == .tooManyRequests && over.isProblem && (over.json["detail"] as? String)?.contains("this token") == true, "\(over.text)")
            #expect(Int(over.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(try await client.call(.get, "/api/v1/contacts?limit=1", token: f.tokens[.admin]).status == .ok, "another token has its own bucket")
        }
        try await Self.app(f) { $0.addressRateLimit = RateLimit(perSecond: 0.001, burst: 2) }.test(.live) { client in
            for _ in 0..<2 { #expect(try await client.call(.get, "/api/v1/contacts?limit=1", token: f.tokens[.viewer]).status == .ok) }
            let over = try await client.call(.get, "/api/v1/contacts?limit=1", token: f.tokens[.admin])
            #expect(over.status == .tooManyRequests && over.isProblem && (over.json["detail"] as? String)?.contains("this address") == true, "\(over.text)")
            #expect(try await client.call(.get, "/healthz", token: nil).status == .ok, "probes are not limited")
            #expect(try await client.call(.get, "/metrics", token: f.tokens[.viewer]).status == .ok, "scrapes are not limited")
        }
    }

    @Test("--log-format json: one JSON object per line with level, logger, message and metadata")
    func jsonLogs() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "smarketing") { label in JSONLogHandler(label: label, write: { line in lines.withLock { $0.append(line) } }) }
        logger[metadataKey: "request_id"] = "r-1"
        logger.info("request failed", metadata: ["path": "/api/v1/x", "n": "\(3)"])
        let line = try #require(lines.withLock { $0.first })
        #expect(line.hasSuffix("\n") && !line.dropLast().contains("\n"))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["level"] as? String == "info" && o["logger"] as? String == "smarketing" && o["message"] as? String == "request failed")
        #expect(o["request_id"] as? String == "r-1" && o["path"] as? String == "/api/v1/x" && o["ts"] is String)
    }

    @Test("webhook and connector URLs into the server's own network are refused unless allowed; webhook secrets are sealed at rest and still sign")
    func privateURLs() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let admin = f.tokens[.admin]
        try await Self.app(f) { _ in }.test(.live) { client in
            for url in ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://169.254.169.254/latest", "http://[::1]/x", "http://[fd00::1]/x", "http://printer.local/x"] {
                let r = try await client.call(.post, "/api/v1/webhooks", token: admin, body: #"{"url":"\#(url)","events":["*"]}"#)
                // IPv6 literals do not even fit the documented URL pattern; the rest are refused by the check.
                #expect(r.status == .unprocessableContent && (url.contains("[") || (r.json["detail"] as? String)?.contains("own network") == true), "\(url): \(r.text)")
            }
            let conn = try await client.call(
                .post, "/api/v1/connections", token: admin,
                body: #"{"vendor":"hubspot","name":"hs","base_url":"http://192.168.1.5:8080","credentials":{"access_token":"t"}}"#
            )
            #expect(conn.status == .unprocessableContent && (conn.json["detail"] as? String)?.contains("base_url points into") == true, "\(conn.text)")
            let secret = "whsec_sealed_at_rest_0123456789"
            let ok = try await client.call(.post, "/api/v1/webhooks", token: admin, body: #"{"url":"https://hooks.example/x","events":["*"],"secret":"\#(secret)"}"#)
            #expect(ok.status == .created, "\(ok.text)")
            #expect(try await f.storedBytes().contains(secret) == false, "the secret is not stored in clear")
        }
        try await Self.app(f) { $0.allowPrivateURLs = true }.test(.live) { client in
            let r = try await client.call(.post, "/api/v1/webhooks", token: admin, body: #"{"url":"http://127.0.0.1:9/x","events":["*"]}"#)
            #expect(r.status == .created, "an admin allowed private URLs: \(r.text)")
        }
    }
}

enum RequestIDName {
    static let name = HTTPField.Name("X-Request-Id")!
}
