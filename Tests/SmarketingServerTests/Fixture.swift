import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing
import ThrowawayPostgres

/// The backends the API suites run on.
enum ServerBackend: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite, postgres
    var description: String { rawValue }
}

/// A workspace on a real database (a SQLite file, or a throwaway PostgreSQL database) with one
/// user and token per role, served on loopback.
struct Fixture {
    let dir: String
    let store: any FunnelStore
    /// Where the store is: the SQLite file or the PostgreSQL URL.
    var location = ""
    var tokens: [AccessRole: String] = [:]
    static let clock = FixedClock(Timestamp(seconds: 1_767_225_600))
    /// The fixed clock's time as ISO 8601.
    static let nowText = "2026-01-01T00:00:00Z"
    static let actor = Actor(userID: "setup", role: .admin, via: "test")
    static let secretBox = SecretBox(key: SymmetricKey(size: .bits256))

    static func make(_ backend: ServerBackend = .sqlite, location given: String? = nil) async throws -> Fixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-server-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let location: String
        if let given { location = given } else if backend == .sqlite { location = dir + "/api.sqlite" } else { location = try await ThrowawayPostgres.newDatabase() }
        var f = Fixture(dir: dir, store: try await WorkspaceStores.open(location), location: location)
        for role in AccessRole.allCases {
            var rec = Record(.users, values: Array(repeating: .null, count: Resource.users.schema.fields.count))
            rec["id"] = .text("u-\(role.rawValue)")
            rec["email"] = .text("\(role.rawValue)@us.example")
            rec["access_role"] = .text(role.rawValue)
            try await f.store.create(rec, actor: actor, at: clock.now())
            let token = APIToken.generate()
            _ = try await f.store.createToken(userID: "u-\(role.rawValue)", role: role, name: "test", hash: APIToken.hash(token), actor: actor, at: clock.now())
            f.tokens[role] = token
        }
        return f
    }

    func app(maxBodyBytes: Int = 1 << 20, clock: any WorkspaceClock = Fixture.clock) -> some ApplicationProtocol {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: maxBodyBytes)
        configuration.secretBox = Fixture.secretBox
        // Webhook receivers and fake vendors listen on loopback.
        configuration.allowPrivateURLs = true
        return buildApplication(
            configuration: configuration,
            store: store,
            clock: clock,
            logger: Logger(label: "test")
        )
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// Every stored byte of the workspace as text: the SQLite file and its WAL, or a dump of the
    /// PostgreSQL database (to check that a secret is never stored).
    func storedBytes() async throws -> String {
        guard WorkspaceStores.isPostgres(location) else {
            return try String(contentsOfFile: location, encoding: .isoLatin1)
                + ((try? String(contentsOfFile: location + "-wal", encoding: .isoLatin1)) ?? "")
        }
        let bin = try await ThrowawayPostgres.cluster().bin
        let location = self.location
        return try await ThrowawayPostgres.offload { try Self.dump(bin: bin, location: location) }
    }

    static func dump(bin: String, location: String) throws -> String {
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: bin + "/pg_dump")
        dump.arguments = ["--data-only", location]
        let pipe = Pipe()
        dump.standardOutput = pipe
        dump.standardError = FileHandle.nullDevice
        try dump.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        dump.waitUntilExit()
        guard dump.terminationStatus == 0, !data.isEmpty else { throw TestFailure("pg_dump of \(location) failed") }
        return String(decoding: data, as: UTF8.self)
    }
}

struct Reply {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    var data: [[String: Any]] { json["data"] as? [[String: Any]] ?? [] }
    var isProblem: Bool { headers[.contentType] == "application/problem+json" && json["detail"] is String && json["status"] as? Int == Int(status.code) }
}

extension TestClientProtocol {
    /// A request to the application under test: in process for `.router`; for `.live` over
    /// loopback through AsyncHTTPClient (`liveCall`, 120 s deadline), not the live test client,
    /// whose 20 s read timeout a heavy request overran while the whole suite loaded two cores.
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String?,
        body: String? = nil,
        contentType: String = "application/json",
        headers extra: [String: String] = [:]
    ) async throws -> Reply {
        if let port {
            return try await liveCall(
                port: port,
                HTTPMethod(rawValue: method.rawValue),
                uri,
                token: token,
                body: body,
                contentType: contentType,
                headers: extra,
                timeout: .seconds(120)
            )
        }
        var headers: HTTPFields = [:]
        for (name, value) in extra { if let n = HTTPField.Name(name) { headers[n] = value } }
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = contentType }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { r in
            Reply(status: r.status, headers: r.headers, text: String(buffer: r.body))
        }
    }
}

/// The tests' HTTP client: it never follows a redirect (tests look at the 303s themselves).
/// It lives as long as the test process.
let testHTTPClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

/// A request to a server listening on `port` through AsyncHTTPClient, with a deadline of its own
/// (the test client's 20 s read timeout is too short when the whole suite loads the machine, and
/// its connection was once left half-closed after a server had gone).
func liveCall(
    port: Int,
    _ method: HTTPMethod,
    _ path: String,
    token: String?,
    body: String? = nil,
    contentType: String = "application/json",
    headers: [String: String] = [:],
    timeout: TimeAmount = .seconds(30)
) async throws -> Reply {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let body {
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(string: body))
    }
    let response = try await testHTTPClient.execute(request, timeout: timeout)
    let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
    var headers = HTTPFields()
    for h in response.headers { if let name = HTTPField.Name(h.name) { headers.append(HTTPField(name: name, value: h.value)) } }
    return Reply(status: HTTPResponse.Status(code: Int(response.status.code)), headers: headers, text: text)
}

/// The shipped example model file.
func exampleModelPath() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/scoring-model.yaml").path
}

/// Waits until a scoring job is done; fails the test when it fails or takes over 30 s.
func waitForJob(_ client: some TestClientProtocol, _ id: String, token: String) async throws {
    for _ in 0..<300 {
        let r = try await client.call(.get, "/api/v1/scoring/jobs/" + id, token: token)
        let status = r.json["status"] as? String
        if status == "done" { return }
        #expect(status == "running", "job \(id): \(r.text)")
        if status != "running" { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("job \(id) did not finish in 30 s")
}
