import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SmarketingCore
import Synchronization

/// What every fake vendor does besides its API: enforce the vendor's published rate limit
/// (and count any request over it), inject faults on request, log what was asked.
public final class FakeTraffic: Sendable {
    public struct Fault: Sendable {
        public var status: Int
        public var body: String
        public var headers: [(String, String)]
        public var delay: Duration?
        public init(status: Int, body: String, headers: [(String, String)] = [], delay: Duration? = nil) {
            self.status = status
            self.body = body
            self.headers = headers
            self.delay = delay
        }
    }

    struct State {
        var starts: [ContinuousClock.Instant] = []
        var head = 0
        var accepted = 0
        var overLimit = 0
        var maxInWindow = 0
        var faults: [Fault] = []
        var faultPath: String?
        var log: [String] = []
        var first: ContinuousClock.Instant?
        var last: ContinuousClock.Instant?
    }

    public let limit: Int
    public let window: Duration
    let state = Mutex(State())
    let clock = ContinuousClock()

    public init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// Requests answered (not counting those refused for the rate limit).
    public var accepted: Int { state.withLock { $0.accepted } }
    /// Requests refused because they went over the published limit.
    public var overLimit: Int { state.withLock { $0.overLimit } }
    /// The most requests seen in any window.
    public var maxInWindow: Int { state.withLock { $0.maxInWindow } }
    /// Seconds from the first to the last request.
    public var span: Double {
        state.withLock { s in
            guard let a = s.first, let b = s.last else { return 0 }
            let d = (b - a).components
            return Double(d.seconds) + Double(d.attoseconds) / 1e18
        }
    }
    /// Paths (with query) asked so far.
    public var log: [String] { state.withLock { $0.log } }

    /// The next requests (whose path contains `path`, when given) get these answers instead.
    public func inject(_ faults: [Fault], onPath path: String? = nil) {
        state.withLock {
            $0.faults += faults
            $0.faultPath = path
        }
    }

    public func resetCounts() {
        state.withLock {
            $0.accepted = 0
            $0.overLimit = 0
            $0.maxInWindow = 0
            $0.first = nil
            $0.last = nil
            $0.log = []
        }
    }

    /// Counts a request; answers the rate-limit refusal or an injected fault, if due.
    func admit(_ pathAndQuery: String) -> (rateLimited: Bool, fault: Fault?) {
        state.withLock { s in
            let now = clock.now
            while s.head < s.starts.count, s.starts[s.head] + window <= now { s.head += 1 }
            if s.starts.count - s.head >= limit {
                s.overLimit += 1
                return (true, nil)
            }
            s.starts.append(now)
            s.maxInWindow = max(s.maxInWindow, s.starts.count - s.head)
            s.accepted += 1
            if s.first == nil { s.first = now }
            s.last = now
            if s.log.count < 200_000 { s.log.append(pathAndQuery) }
            if !s.faults.isEmpty, s.faultPath.map({ pathAndQuery.contains($0) }) ?? true { return (false, s.faults.removeFirst()) }
            return (false, nil)
        }
    }
}

/// Runs a router on a free loopback port.
public final class FakeServerHandle: Sendable {
    public let port: Int
    let task: Task<Void, any Error>

    init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func stop() { task.cancel() }

    public static func start(_ router: Hummingbird.Router<BasicRequestContext>, port wanted: Int = 0) async throws -> FakeServerHandle {
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: wanted)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "fake-vendor")
        )
        let task = Task { try await app.runService() }
        for _ in 0..<500 {
            if let p = port.withLock({ $0 }) { return FakeServerHandle(port: p, task: task) }
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        throw FakeError("the fake vendor did not start")
    }
}

public struct FakeError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Helpers for the fakes' handlers.
public enum Fake {
    public static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> Response {
        text(status, value.compactText, headers: headers)
    }

    public static func text(_ status: Int, _ body: String, contentType: String = "application/json", headers: [(String, String)] = []) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        for (k, v) in headers { if let name = HTTPField.Name(k) { fields[name] = v } }
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    public static func body(_ request: Request) async throws -> [UInt8] {
        let buffer = try await request.body.collect(upTo: 32 << 20)
        return Array(buffer.readableBytesView)
    }

    public static func bodyJSON(_ request: Request) async throws -> JSONValue? {
        let bytes = try await body(request)
        return try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    public static func form(_ bytes: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            if kv.count == 2 { out[kv[0]] = kv[1] }
        }
        return out
    }

    public static func bearer(_ request: Request) -> String? {
        guard let h = request.headers[.authorization], h.hasPrefix("Bearer ") else { return nil }
        return String(h.dropFirst(7))
    }

    /// Applies the traffic rules; answers the refusal or fault, else runs `body`.
    public static func guarded(
        _ traffic: FakeTraffic,
        _ request: Request,
        rateLimited: @Sendable () -> Response,
        _ body: () async throws -> Response
    ) async throws -> Response {
        let (limited, fault) = traffic.admit(request.uri.description)
        if limited { return rateLimited() }
        if let fault {
            if let d = fault.delay { try await Task.sleep(for: d) }
            if fault.status > 0 { return text(fault.status, fault.body, headers: fault.headers) }
        }
        return try await body()
    }
}

extension JSONValue {
    public subscript(key key: String) -> JSONValue? { objectValue?[key] }

    public var textValue: String? {
        switch self {
        case .string(let s): return s
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }

    public var items: [JSONValue] { if case .array(let a) = self { return a } else { return [] } }
}
