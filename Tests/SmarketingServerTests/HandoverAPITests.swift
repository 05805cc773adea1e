import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Synchronization
import Testing

/// A clock the test moves by hand (retries and SLA due times without waiting hours).
final class ManualClock: WorkspaceClock {
    let instant: Mutex<Timestamp>
    init(_ t: Timestamp) { instant = Mutex(t) }
    func now() -> Timestamp { instant.withLock { $0 } }
    func advance(_ ms: Int64) { instant.withLock { $0 = $0.adding(milliseconds: ms) } }
}

/// A real webhook receiver on a loopback port: verifies signatures, answers 500 to the first
/// `failFirst` requests, records everything.
final class Receiver: Sendable {
    struct Hit: Sendable {
        var event: String
        var delivery: String
        var seq: Int
        var body: String
        var signatureValid: Bool
        var status: Int
    }
    let hits = Mutex<[Hit]>([])
    let failFirst: Int
    let secret: String
    let clock: ManualClock
    let port = Mutex<Int?>(nil)

    init(failFirst: Int, secret: String, clock: ManualClock) {
        self.failFirst = failFirst
        self.secret = secret
        self.clock = clock
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let bytes = Array(body.readableBytesView)
            let signature = request.headers[HTTPField.Name("Smarketing-Signature")!] ?? ""
            let valid = WebhookSignature.verify(header: signature, secret: self.secret, body: bytes, now: self.clock.now().milliseconds / 1000)
            let status = self.hits.withLock { hits -> Int in
                let s = hits.count < self.failFirst ? 500 : 200
                hits.append(
                    Hit(
                        event: request.headers[HTTPField.Name("Smarketing-Event")!] ?? "",
                        delivery: request.headers[HTTPField.Name("Smarketing-Delivery")!] ?? "",
                        seq: Int(request.headers[HTTPField.Name("Smarketing-Seq")!] ?? "") ?? -1,
                        body: String(decoding: bytes, as: UTF8.self),
                        signatureValid: valid,
                        status: s
                    )
                )
                return s
            }
            return Response(status: .init(code: status))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in self.port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "receiver")
        )
    }

    /// Accepted hits (200), in arrival order.
    var delivered: [Hit] { hits.withLock { $0.filter { $0.status == 200 } } }
}

@Suite("Handover, SLA and webhooks over HTTP")
struct HandoverAPITests {
    static let config = """
        calendars:
          always: {timezone: UTC, hours: {every_day: "00:00-24:00"}}
        teams:
          sales: {calendar: always, manager: u-admin, members: [u-sales]}
        reasons:
          bad_fit: {label: Bad fit, action: disqualify}
          timing: {label: Bad timing, action: recycle}
        routing:
          - {id: pool, team: sales}
        fallback: {queue: triage, owner: u-admin}
        sla:
          - id: std
            accept_within: 1h
            first_touch_within: 2h
            warn_before: 10m
            on_breach: [notify_owner, notify_manager]
        """

    static let model = """
        half_life: 30d
        grades: {A: 10, B: 5, C: rest}
        fit:
          - {id: de, attribute: contact.country, in: [DE], points: 10}
        engagement:
          - {id: form, types: [form_submit], points: 60}
        mql: engagement >= 50
        """

    func runReceiver(_ receiver: Receiver) async throws -> (Task<Void, any Error>, Int) {
        let app = receiver.application()
        let task = Task { try await app.runService() }
        for _ in 0..<200 {
            if let p = receiver.port.withLock({ $0 }) { return (task, p) }
            try await Task.sleep(for: .milliseconds(20))
        }
        task.cancel()
        throw CancellationError()
    }

    /// Waits until `condition` holds, moving the clock `step` ms every 50 ms; fails after 20 s.
    func eventually(_ clock: ManualClock, step: Int64 = 0, _ what: String, _ condition: () async throws -> Bool) async throws {
        for _ in 0..<400 {
            if try await condition() { return }
            clock.advance(step)
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test("MQL → routed handover → signed webhooks in order with retries; inbox, answers by role, breach alerts, reports")
    func endToEnd() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let clock = ManualClock(try Timestamp.parse("2026-03-02T10:00:00Z").get())
        let secret = "whsec_test_secret_0123456789"
        let receiver = Receiver(failFirst: 2, secret: secret, clock: clock)
        let (receiverTask, port) = try await runReceiver(receiver)
        defer { receiverTask.cancel() }
        _ = try await f.store.applyScoringModel(
            text: Self.model,
            model: try ScoringModelFile.read(Self.model).get(),
            comment: "",
            actor: Fixture.actor,
            at: clock.now(),
            progress: nil
        )
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        // The receiver listens on loopback; the secret is sealed at rest with the server key.
        configuration.allowPrivateURLs = true
        configuration.secretBox = Fixture.secretBox
        configuration.slaInterval = .milliseconds(50)
        configuration.webhookInterval = .milliseconds(20)
        let app = buildApplication(configuration: configuration, store: f.store, clock: clock, logger: Logger(label: "test"))
        try await app.test(.live) { client in
            // Configuration: admin only; a broken file is refused with line and column.
            let yaml = "application/yaml"
            #expect(try await client.call(.post, "/api/v1/handover/apply", token: f.tokens[.sales], body: Self.config, contentType: yaml).status == .forbidden)
            let broken = Self.config.replacingOccurrences(of: "team: sales}", with: "team: ghosts}")
            let refused = try await client.call(.post, "/api/v1/handover/apply", token: f.tokens[.admin], body: broken, contentType: yaml)
            #expect(refused.status == .unprocessableContent && refused.isProblem && refused.text.contains("unknown team \\\"ghosts\\\""))
            let applied = try await client.call(.post, "/api/v1/handover/apply?comment=go", token: f.tokens[.admin], body: Self.config, contentType: yaml)
            #expect(applied.status == .ok && applied.json["version"] as? Int == 1, "\(applied.text)")
            // Webhooks: admin only; the secret is shown once.
            let hook = #"{"url":"http://127.0.0.1:\#(port)/hook","events":["*"],"secret":"\#(secret)"}"#
            #expect(try await client.call(.post, "/api/v1/webhooks", token: f.tokens[.marketing], body: hook).status == .forbidden)
            let badHook = try await client.call(.post, "/api/v1/webhooks", token: f.tokens[.admin], body: #"{"url":"ftp://x","events":["*"]}"#)
            #expect(badHook.status == .unprocessableContent && badHook.isProblem)
            let created = try await client.call(.post, "/api/v1/webhooks", token: f.tokens[.admin], body: hook)
            #expect(created.status == .created && created.json["secret"] as? String == secret)
            let subID = try #require((created.json["subscription"] as? [String: Any])?["id"] as? String)
            #expect(try await client.call(.get, "/api/v1/webhooks", token: f.tokens[.admin]).text.contains(secret) == false)
            // A lead fills a form and becomes MQL; it is routed to the sales rep.
            let contact =
                #"{"id":"ct1","email":"ann@acme.example","first_name":"Ann","country":"DE","created_at":"2026-03-01T00:00:00Z","lifecycle_stage":"lead"}"#
            #expect(try await client.call(.post, "/api/v1/contacts", token: f.tokens[.marketing], body: contact).status == .created)
            let ev = #"{"id":"ev1","type":"form_submit","occurred_at":"2026-03-02T09:59:00Z","contact_id":"ct1"}"#
            #expect(try await client.call(.post, "/api/v1/events", token: f.tokens[.marketing], body: ev).status == .ok)
            let list = try await client.call(.get, "/api/v1/handovers?open=true", token: f.tokens[.viewer])
            let handover = try #require(list.data.first)
            #expect(handover["owner_id"] as? String == "u-sales" && handover["status"] as? String == "assigned")
            let id = try #require(handover["id"] as? Int)
            // The three events arrive signed and in order, after two failed attempts on the first.
            // (The contact's creation as a lead is the first stage change.)
            try await eventually(clock, step: 2000, "four deliveries") { receiver.delivered.count >= 4 }
            let hits = receiver.hits.withLock { $0 }
            #expect(hits.allSatisfy { $0.signatureValid })
            #expect(hits.prefix(3).map(\.delivery) == ["1", "1", "1"])
            #expect(receiver.delivered.prefix(4).map(\.event) == ["stage.changed", "stage.changed", "contact.mql", "handover.assigned"])
            #expect(receiver.delivered.map(\.seq) == receiver.delivered.map(\.seq).sorted())
            let envelope = try JSONSerialization.jsonObject(with: Data(receiver.delivered[3].body.utf8)) as? [String: Any]
            #expect(envelope?["type"] as? String == "handover.assigned" && (envelope?["data"] as? [String: Any])?["owner_id"] as? String == "u-sales")
            let log = try await client.call(.get, "/api/v1/webhooks/\(subID)/deliveries", token: f.tokens[.admin])
            #expect(log.data.last?["attempts"] as? Int == 3 && log.data.last?["status"] as? String == "delivered", "\(log.text)")
            // The rep's inbox: the lead with its countdown and why it is hot.
            let inbox = try await client.call(.get, "/api/v1/inbox", token: f.tokens[.sales])
            let item = try #require(inbox.data.first)
            #expect((item["contact"] as? [String: Any])?["name"] as? String == "Ann")
            #expect((item["why"] as? [String])?.contains("engagement 60") == true)
            #expect(((item["handover"] as? [String: Any])?["clocks"] as? [[String: Any]])?.first?["remaining_ms"] as? Int != nil)
            #expect(try await client.call(.get, "/api/v1/inbox?user=u-sales", token: f.tokens[.viewer]).status == .forbidden)
            // Only the owner, their manager or an admin answer; a rejection needs a known reason.
            #expect(try await client.call(.post, "/api/v1/handovers/\(id)/accept", token: f.tokens[.marketing]).status == .forbidden)
            let badReason = try await client.call(.post, "/api/v1/handovers/\(id)/reject", token: f.tokens[.sales], body: #"{"reason":"meh"}"#)
            #expect(badReason.status == .conflict && badReason.isProblem && badReason.text.contains("not a rejection reason"))
            #expect(try await client.call(.post, "/api/v1/handovers/\(id)/reject", token: f.tokens[.sales]).status == .badRequest)
            #expect(try await client.call(.get, "/api/v1/handovers/x1", token: f.tokens[.sales]).status == .unprocessableContent)
            #expect(try await client.call(.get, "/api/v1/handovers/999", token: f.tokens[.sales]).status == .notFound)
            // Nobody answers: 1 h later the accept clock breaches; owner and manager are alerted.
            clock.advance(65 * 60_000)
            try await eventually(clock, step: 2000, "the breach alert") { receiver.delivered.contains { $0.event == "sla.breached" } }
            let breach = try #require(receiver.delivered.first { $0.event == "sla.breached" })
            let data = (try JSONSerialization.jsonObject(with: Data(breach.body.utf8)) as? [String: Any])?["data"] as? [String: Any]
            #expect(data?["clock"] as? String == "accept" && data?["notify"] as? [String] == ["u-sales", "u-admin"])
            #expect(receiver.delivered.contains { $0.event == "sla.warning" })
            // The late accept is recorded; the contact becomes SAL.
            let accepted = try await client.call(.post, "/api/v1/handovers/\(id)/accept", token: f.tokens[.sales], body: #"{"note":"on it"}"#)
            #expect(accepted.status == .ok && accepted.json["status"] as? String == "accepted", "\(accepted.text)")
            let ct = try await client.call(.get, "/api/v1/contacts/ct1", token: f.tokens[.viewer])
            #expect(ct.json["lifecycle_stage"] as? String == "sal")
            // Reports and commitments answer for the period.
            let sla = try await client.call(.get, "/api/v1/reports/sla?from=2026-03-01&to=2026-03-03&by=rep", token: f.tokens[.viewer])
            let row = try #require(sla.data.first { $0["group"] as? String == "u-sales" })
            #expect((row["clocks"] as? [String: Any]).flatMap { ($0["accept"] as? [String: Int])?["breached"] } == 1)
            // accept breached; first touch met by the (late) accept within its 2 h.
            #expect(row["compliance"] as? Double == 0.5)
            let acc = try await client.call(.get, "/api/v1/reports/acceptance?from=2026-03-01&to=2026-03-03&by=channel", token: f.tokens[.viewer])
            #expect(acc.status == .ok && acc.data.first?["accepted"] as? Int == 1)
            #expect(try await client.call(.get, "/api/v1/reports/sla?by=planet", token: f.tokens[.viewer]).status == .unprocessableContent)
            #expect(try await client.call(.get, "/api/v1/commitments?month=2026-03", token: f.tokens[.viewer]).status == .ok)
            // Replay: the first delivery again, on request.
            let firstDelivery = try #require(log.data.last?["id"] as? Int)
            let sentBefore = receiver.delivered.filter { $0.delivery == String(firstDelivery) }.count
            let replay = try await client.call(.post, "/api/v1/webhooks/\(subID)/replay", token: f.tokens[.admin], body: #"{"delivery_id":\#(firstDelivery)}"#)
            #expect(replay.json["queued"] as? Int == 1)
            try await eventually(clock, step: 100, "the replay") {
                receiver.delivered.filter { $0.delivery == String(firstDelivery) }.count == sentBefore + 1
            }
        }
    }

    @Test("a receiver that times out or is down loses nothing: deliveries stay pending and are retried")
    func receiverDown() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let clock = ManualClock(try Timestamp.parse("2026-03-02T10:00:00Z").get())
        _ = try await f.store.applyHandoverConfig(
            text: Self.config,
            config: try HandoverConfigFile.read(Self.config).get(),
            comment: "",
            actor: Fixture.actor,
            at: clock.now()
        )
        // Port 9 (discard) on loopback: nothing listens.
        let sub = try await f.store.createWebhook(
            url: "http://127.0.0.1:9/hook",
            events: ["stage.changed"],
            format: "slack",
            secret: "0123456789abcdef",
            actor: Fixture.actor,
            at: clock.now()
        )
        let dispatcher = WebhookDispatcher(store: f.store, clock: clock, interval: .milliseconds(20), timeout: .seconds(1), logger: Logger(label: "t"), allowPrivateURLs: true)
        let task = Task { try await dispatcher.run() }
        defer { task.cancel() }
        _ = try await f.store.update(.users, id: "u-viewer", fields: ["name": .text("V")], actor: Fixture.actor, at: clock.now())
        var rec = Record(.contacts, values: Array(repeating: .null, count: Resource.contacts.schema.fields.count))
        rec["id"] = .text("ct9")
        rec["email"] = .text("x@y.example")
        rec["created_at"] = .timestamp(clock.now())
        rec["lifecycle_stage"] = .text("lead")
        try await f.store.create(rec, actor: Fixture.actor, at: clock.now())
        _ = try await f.store.update(.contacts, id: "ct9", fields: ["lifecycle_stage": .text("sql")], actor: Fixture.actor, at: clock.now())
        try await eventually(clock, step: 1000, "three failed attempts") {
            try await f.store.deliveries(subscriptionID: sub.id, status: nil, limit: 10).last.map { $0.attempts >= 3 } ?? false
        }
        // Newest first: the second stage change waits behind the first (order), nothing is lost.
        let list = try await f.store.deliveries(subscriptionID: sub.id, status: nil, limit: 10)
        #expect(list.map(\.status) == ["pending", "pending"] && list.map(\.eventType) == ["stage.changed", "stage.changed"])
        #expect(list[1].attempts >= 3 && list[1].lastError != nil && list[0].attempts == 0)
    }

    @Test("a slow receiver times out: the attempt is recorded as failed and retried, nothing is lost")
    func slowReceiver() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let clock = ManualClock(try Timestamp.parse("2026-03-02T10:00:00Z").get())
        let router = Router()
        router.post("/slow") { _, _ -> Response in
            try await Task.sleep(for: .seconds(3))
            return Response(status: .ok)
        }
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "slow")
        )
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        var listening: Int?
        for _ in 0..<200 where listening == nil {
            listening = port.withLock { $0 }
            if listening == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let sub = try await f.store.createWebhook(
            url: "http://127.0.0.1:\(try #require(listening))/slow",
            events: ["stage.changed"],
            format: "json",
            secret: "0123456789abcdef",
            actor: Fixture.actor,
            at: clock.now()
        )
        var rec = Record(.contacts, values: Array(repeating: .null, count: Resource.contacts.schema.fields.count))
        rec["id"] = .text("ct8")
        rec["email"] = .text("s@y.example")
        rec["created_at"] = .timestamp(clock.now())
        rec["lifecycle_stage"] = .text("lead")
        try await f.store.create(rec, actor: Fixture.actor, at: clock.now())
        let dispatcher = WebhookDispatcher(store: f.store, clock: clock, interval: .milliseconds(20), timeout: .milliseconds(300), logger: Logger(label: "t"), allowPrivateURLs: true)
        let (attempts, failed) = try await dispatcher.drain()
        #expect(attempts == 1 && failed == 1)
        let d = try #require(try await f.store.deliveries(subscriptionID: sub.id, status: nil, limit: 10).first)
        #expect(d.status == "pending" && d.attempts == 1 && d.lastStatus == nil && d.lastError != nil)
        #expect(d.nextAttemptAt == clock.now().adding(milliseconds: 1000))
    }
}
