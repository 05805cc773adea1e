import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SmarketingCore

/// A vendor's answer.
public struct VendorResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// A header by name (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    /// The body as JSON; a clear error when it is not.
    public func json(_ what: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            let start = String(decoding: body.prefix(120), as: UTF8.self)
            throw VendorError(.malformed, "\(what) answered with a body that is not JSON (HTTP \(status)): \(start)")
        }
    }
}

/// Why a vendor call failed, in one sentence, with what kind of failure it is.
public struct VendorError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// The credentials are wrong, expired or revoked.
        case auth
        /// The credentials lack a scope or permission.
        case permission
        /// The vendor's rate limit or daily quota, after our retries.
        case rateLimited
        /// The vendor failed (5xx, time-outs) after our retries.
        case unavailable
        /// The vendor answered something we cannot read.
        case malformed
        /// The vendor refused the request (4xx).
        case refused
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Keeps a connection's calls within the vendor's published rate: at most `limit` requests
/// started in any `window` (a sliding log of start times). Waiting callers are served in order.
public actor RequestPacer {
    nonisolated let limit: Int
    nonisolated let configuredWindow: Duration
    let window: Duration
    let clock: ContinuousClock
    var starts: [ContinuousClock.Instant] = []
    var head = 0
    /// Requests started so far.
    public private(set) var sent = 0

    public init(limit: Int, window: Duration, clock: ContinuousClock = ContinuousClock()) {
        self.limit = max(1, limit)
        configuredWindow = window
        // The vendor counts arrivals, we count starts: network jitter can put one of our
        // requests into the vendor's previous window. A margin of 2 % plus 100 ms keeps us under
        // (measured: without it, 110 of 12,096 requests went over HubSpot's limit at the fake).
        self.window = window * 1.02 + .milliseconds(100)
        self.clock = clock
    }

    /// Waits until one more request fits in the window, then counts it.
    public func acquire() async throws {
        while true {
            let now = clock.now
            while head < starts.count, starts[head] + window <= now { head += 1 }
            if head > 4096 {
                starts.removeFirst(head)
                head = 0
            }
            if starts.count - head < limit {
                starts.append(now)
                sent += 1
                return
            }
            try await clock.sleep(until: starts[head] + window)
        }
    }
}

/// One pacer per vendor account in this process: a sync, the write-back that follows it and a
/// connection test share the account's rate limit, so a new task never starts with a window that
/// forgets the requests just made.
public final class PacerRegistry: @unchecked Sendable {
    public static let shared = PacerRegistry()
    private let lock = NSLock()
    private var pacers: [String: RequestPacer] = [:]

    public func pacer(for key: String, limit: Int, window: Duration) -> RequestPacer {
        lock.withLock {
            if let p = pacers[key], p.limit == max(1, limit), p.configuredWindow == window { return p }
            let p = RequestPacer(limit: limit, window: window)
            pacers[key] = p
            return p
        }
    }
}

/// HTTP to one vendor account: paced to its rate limit, retried on 429 (honouring
/// `Retry-After`), 5xx and network failures with back-off, bounded in time and size.
/// async-http-client does the HTTP.
public final class VendorHTTP: Sendable {
    let client: HTTPClient
    public let pacer: RequestPacer
    let attempts: Int
    let timeout: TimeAmount
    let maxBody: Int
    /// The longest a `Retry-After` is honoured before giving up on the call.
    let maxWait: Double

    public init(
        limit: Int,
        window: Duration,
        pacer shared: RequestPacer? = nil,
        attempts: Int = 6,
        timeout: TimeAmount = .seconds(60),
        maxBody: Int = 64 << 20,
        maxWait: Double = 120
    ) {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(10), read: timeout)
        config.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        pacer = shared ?? RequestPacer(limit: limit, window: window)
        self.attempts = attempts
        self.timeout = timeout
        self.maxBody = maxBody
        self.maxWait = maxWait
    }

    public func shutdown() async { try? await client.shutdown() }

    /// Sends a request; answers every status that is not retried (the connector reads 4xx).
    public func send(
        _ method: HTTPMethod,
        _ url: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        what: String
    ) async throws -> VendorResponse {
        var delay = 0.5
        var lastProblem = ""
        for attempt in 1...attempts {
            try await pacer.acquire()
            var request = HTTPClientRequest(url: url)
            request.method = method
            for (k, v) in headers { request.headers.add(name: k, value: v) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response: VendorResponse
            do {
                let r = try await client.execute(request, timeout: timeout)
                let buffer = try await r.body.collect(upTo: maxBody)
                response = VendorResponse(
                    status: Int(r.status.code),
                    headers: r.headers.map { ($0.name, $0.value) },
                    body: buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
                )
            } catch let e as NIOTooManyBytesError {
                _ = e
                throw VendorError(.malformed, "\(what) answered with more than \(maxBody >> 20) MB")
            } catch {
                lastProblem = "\(what) could not be reached (\(error))"
                if attempt < attempts {
                    try await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, 30)
                }
                continue
            }
            if response.status == 429 {
                lastProblem = "\(what) is rate limited (HTTP 429)"
                let wait = Self.retryAfter(response) ?? delay
                guard wait <= maxWait, attempt < attempts else { throw VendorError(.rateLimited, lastProblem) }
                try await Task.sleep(for: .seconds(wait))
                delay = min(delay * 2, 30)
                continue
            }
            if response.status >= 500 {
                lastProblem = "\(what) failed with HTTP \(response.status)"
                if attempt < attempts {
                    try await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, 30)
                }
                continue
            }
            return response
        }
        throw VendorError(.unavailable, lastProblem + " after \(attempts) attempts")
    }

    /// Seconds from `Retry-After` (seconds) or the vendors' reset headers.
    static func retryAfter(_ r: VendorResponse) -> Double? {
        for name in ["Retry-After", "x-ratelimit-reset"] {
            if let v = r.header(name), let s = Double(v.trimmingCharacters(in: .whitespaces)), s.isFinite, s >= 0 { return min(s, 3600) }
        }
        return nil
    }
}

/// Percent-encoding for query values.
extension String {
    var queryEncoded: String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return addingPercentEncoding(withAllowedCharacters: allowed) ?? self
    }
}

/// Reading vendor JSON without traps.
extension JSONValue {
    subscript(_ key: String) -> JSONValue? { objectValue?[key] }

    /// Text of a string, or of a number or bool (vendors write ids both ways).
    var text: String? {
        switch self {
        case .string(let s): return s
        case .number(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return String(d)
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }

    /// A number from a number or numeric text.
    var double: Double? {
        switch self {
        case .number(let d): return d.isFinite ? d : nil
        case .string(let s): return Double(s.trimmingCharacters(in: .whitespaces)).flatMap { $0.isFinite ? $0 : nil }
        default: return nil
        }
    }

    var bool: Bool? {
        switch self {
        case .bool(let b): return b
        case .string(let s): return s == "true" ? true : s == "false" ? false : nil
        default: return nil
        }
    }

    var array: [JSONValue] { if case .array(let a) = self { return a } else { return [] } }

    /// A timestamp from ISO 8601 text, epoch milliseconds (number or text), or a date.
    var timestamp: Timestamp? {
        switch self {
        case .number(let d):
            guard d.isFinite, abs(d) < 1e14 else { return nil }
            return Timestamp(milliseconds: Int64(d))
        case .string(let s):
            if let ms = Int64(s), s.count >= 12 { return Timestamp(milliseconds: ms) }
            return Timestamp.parse(dateOrInstant: Self.isoZone(s))
        default: return nil
        }
    }

    /// Salesforce writes `+0000` zones; ISO 8601 wants `+00:00`.
    static func isoZone(_ s: String) -> String {
        let u = Array(s.utf8)
        guard u.count > 5, let sign = u.dropLast(4).last, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
            u.suffix(4).allSatisfy({ $0 >= 48 && $0 <= 57 }), u.count > 19
        else { return s }
        return String(s.dropLast(2)) + ":" + String(s.suffix(2))
    }

    var date: LocalDate? { text.flatMap { LocalDate.parse($0.prefix(10)) } }
}

/// JSON text of an encodable value.
func jsonBytes(_ v: JSONValue) -> [UInt8] { Array(v.compactText.utf8) }
