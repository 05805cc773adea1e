import AsyncHTTPClient
import Foundation
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
@Suite("Two serve processes on one PostgreSQL database")
struct TwoServersPostgresTests {
    func send(_ method: HTTPMethod, port: Int, _ path: String, token: String, body: String? = nil) async throws -> (UInt, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        return (response.status.code, text)
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
}
