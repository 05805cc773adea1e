import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing
import ThrowawayPostgres

/// Two real `serve` processes on one PostgreSQL database, as two app servers behind a load
/// balancer: what one commits, the other shows; what one revokes, the other refuses.
@Suite("Two serve processes on one PostgreSQL database", .timeLimit(.minutes(5)))
struct TwoServersPostgresTests {
    func send(_ method: HTTPMethod, port: Int, _ path: String, token: String, body: String? = nil) async throws -> (UInt, String) {
        let r = try await liveCall(port: port, method, path, token: token, body: body)
        return (UInt(r.status.code), r.text)
    }

    @Test("an event posted to A reaches B's /api/v1/stream; a token revoked through A is refused by B within a second")
    func twoServers() async throws {
        let url = try await ThrowawayPostgres.newDatabase()
        let store = try await WorkspaceStores.open(url)
        let setup = Actor(userID: "setup", role: .admin, via: "test")
        var tokens: [String] = []
        var tokenIDs: [String] = []
        for n in 1...2 {
            var user = Record(.users, values: Array(repeating: .null, count: Resource.users.schema.fields.count))
            user["id"] = .text("u-admin-\(n)")
            user["email"] = .text("admin\(n)@us.example")
            user["access_role"] = .text("admin")
            try await store.create(user, actor: setup, at: SystemClock().now())
            let token = APIToken.generate()
            tokenIDs.append(try await store.createToken(userID: "u-admin-\(n)", role: .admin, name: "t\(n)", hash: APIToken.hash(token), actor: setup, at: SystemClock().now()))
            tokens.append(token)
        }
        (store as? PostgresStore)?.close()
        let (pa, pb) = (try LoopbackPort.free(), try LoopbackPort.free())
        let a = try ServerProcess(database: url, port: pa)
        defer { a.stop() }
        let b = try ServerProcess(database: url, port: pb)
        defer { b.stop() }
        try await a.waitUntilReady()
        try await b.waitUntilReady()

        // B streams the KPI set; A stores a new lead.
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(pb)/api/v1/stream")
        request.headers.add(name: "Authorization", value: "Bearer \(tokens[1])")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        #expect(response.status == .ok)
        var events = EventReader(response.body)
        let first = try #require(try await events.next())
        let now = SystemClock().now().iso8601
        let event = #"[{"id":"two-1","type":"form_submit","occurred_at":"\#(now)","email":"first.lead@two-servers.example"}]"#
        let (status, text) = try await send(.POST, port: pa, "/api/v1/events", token: tokens[0], body: event)
        #expect(status == 200 && text.contains("\"accepted\":1"), "\(text)")
        let committed = ContinuousClock.now
        let second = try #require(try await events.next())
        let elapsed = ContinuousClock.now - committed
        #expect(second != first)
        let before = try JSONDecoder.snake.decode(KPIReport.self, from: Data(first.utf8)).total.current.leadToOpportunity.leadCohort.population
        let after = try JSONDecoder.snake.decode(KPIReport.self, from: Data(second.utf8)).total.current.leadToOpportunity.leadCohort.population
        #expect(after == before + 1)
        // NOTIFY at A's commit, B's listener reads the version, B's stream notices on its next
        // 250 ms tick: about 0.3 s on a quiet machine. Under the whole suite on two cores the
        // reads wait for CPU; the figure is measured (docs/SCALE.md), the bound here is loose.
        print("two serve processes: B pushed A's commit after \(elapsed)")
        #expect(elapsed < .seconds(5), "pushed after \(elapsed)")

        // A token revoked through A stops working on B within a second (B keeps verified tokens
        // for at most a second): every request B gets a second after the revocation is refused.
        #expect(try await send(.GET, port: pb, "/api/v1/contacts?limit=1", token: tokens[0]).0 == 200)
        let revoked = try await send(.DELETE, port: pa, "/api/v1/tokens/\(tokenIDs[0])", token: tokens[1])
        #expect(revoked.0 == 204, "\(revoked.1)")
        let revokedAt = ContinuousClock.now
        var refusedAfterASecond = 0
        while ContinuousClock.now - revokedAt < .milliseconds(2500) {
            let started = ContinuousClock.now - revokedAt
            let code = try await send(.GET, port: pb, "/api/v1/contacts?limit=1", token: tokens[0]).0
            if started >= .seconds(1) {
                #expect(code == 401, "B accepted the revoked token \(started) after the revocation")
                refusedAfterASecond += 1
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(refusedAfterASecond > 0)
        #expect(try await send(.GET, port: pb, "/api/v1/contacts?limit=1", token: tokens[1]).0 == 200)
    }

    /// Posts events (NDJSON) naming people by email; nil when the server acknowledged them (200),
    /// else what went wrong.
    func ingestFailure(_ ids: [String], port: Int, token: String) async -> String? {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/events")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.body = .bytes(ByteBuffer(string: killEvents(ids)))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        } catch {
            return "no answer: \(error)"
        }
        let answer = (try? await response.body.collect(upTo: 1 << 22)).map { String(buffer: $0) } ?? ""
        return response.status == .ok ? nil : "\(response.status.code): \(answer.prefix(500))"
    }

    @Test("kill -9 of one of two instances during ingest: nothing acknowledged is lost, one contact per email, the aggregates verify")
    func killOneInstance() async throws {
        let url = try await ThrowawayPostgres.newDatabase()
        let store = try await WorkspaceStores.open(url)
        defer { WorkspaceStores.close(store) }
        var user = Record(.users, values: Array(repeating: .null, count: Resource.users.schema.fields.count))
        user["id"] = .text("u-admin")
        user["email"] = .text("admin@kill.example")
        user["access_role"] = .text("admin")
        let setup = Actor(userID: "setup", role: .admin, via: "test")
        try await store.create(user, actor: setup, at: SystemClock().now())
        let token = APIToken.generate()
        _ = try await store.createToken(userID: "u-admin", role: .admin, name: "kill", hash: APIToken.hash(token), actor: setup, at: SystemClock().now())
        let (pa, pb) = (try LoopbackPort.free(), try LoopbackPort.free())
        let a = try ServerProcess(database: url, port: pa)
        defer { a.stop() }
        let b = try ServerProcess(database: url, port: pb)
        defer { b.stop() }
        try await a.waitUntilReady()
        try await b.waitUntilReady()

        let started = ContinuousClock.now
        // Six writers, three per instance; the people (seven per writer) are shared by both
        // instances' writers, so both create and merge into the same contacts concurrently.
        let acknowledged = Acknowledged()
        let writers = 6
        let batches = 150
        let perBatch = 20
        func batch(_ w: Int, _ b: Int) -> [String] { (0..<perBatch).map { "k-\(w % 3)x\(b % 7)-w\(w)b\(b)e\($0)" } }
        let senders = Task {
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<writers {
                    group.addTask {
                        for b in 0..<batches {
                            if let failure = await ingestFailure(batch(w, b), port: w < 3 ? pa : pb, token: token) {
                                if w >= 3 { Issue.record("the surviving instance refused writer \(w)'s batch \(b) (\(failure))") }
                                return
                            }
                            await acknowledged.add(batch(w, b))
                        }
                    }
                }
            }
        }
        while await acknowledged.ids.count < 1500 { try await Task.sleep(for: .milliseconds(20)) }
        a.kill()
        await senders.value
        let acked = await acknowledged.ids
        print("kill test: writers done at \(ContinuousClock.now - started)")
        #expect(acked.count >= 1500 && acked.count < writers * batches * perBatch, "the kill came before the end")
        var stored = Set<String>()
        var query = ListQuery()
        query.limit = 1000
        repeat {
            let page = try await store.list(.touchpoints, query)
            for record in page.records { if let id = record["id"].text { stored.insert(id) } }
            query.cursor = page.nextCursor
        } while query.cursor != nil
        let lost = acked.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "\(lost.count) acknowledged events were lost, e.g. \(lost.prefix(5))")

        // Everything again through the surviving instance: nothing is stored twice.
        print("kill test: \(acked.count) acknowledged checked at \(ContinuousClock.now - started)")
        // The six writers again, all on B: each stops at its first refusal, which shows B's log.
        let refusals = await withTaskGroup(of: String?.self) { group in
            for w in 0..<writers {
                group.addTask {
                    for n in 0..<batches {
                        if let failure = await ingestFailure(batch(w, n), port: pb, token: token) {
                            return "the surviving instance did not acknowledge writer \(w)'s batch \(n) (\(failure))"
                        }
                    }
                    return nil
                }
            }
            return await group.compactMap { $0 }.reduce(into: [String]()) { $0.append($1) }
        }
        print("kill test: re-sent at \(ContinuousClock.now - started)")
        if !refusals.isEmpty { Issue.record("\(refusals.joined(separator: "\n"))\n\(b.logTail())") }
        #expect(try await store.count(.touchpoints) == writers * batches * perBatch)
        #expect(try await store.count(.contacts) == 3 * 7)
        let verification = try await store.verifyKPIs()
        #expect(verification.mismatches.isEmpty, "\(verification.mismatches.prefix(5))")
        print("kill test: verified at \(ContinuousClock.now - started)")
    }
}
