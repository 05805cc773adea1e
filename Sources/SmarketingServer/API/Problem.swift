import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SmarketingCore
import SmarketingStore

/// An API error as RFC 9457 `application/problem+json`, with a `detail` that says what to fix.
public struct Problem: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var detail: String
    /// Extra members (for example per-event `results`), as JSON text.
    public var extensions: [(String, String)] = []
    public var headers: HTTPFields = [:]

    /// Creates a problem.
    public init(_ status: HTTPResponse.Status, _ detail: String, extensions: [(String, String)] = []) {
        self.status = status
        self.detail = detail
        self.extensions = extensions
    }

    /// The JSON text of this problem.
    public var json: String {
        var out = "{\"type\":\"about:blank\",\"title\":"
        JSONValue.quote(status.reasonPhrase, into: &out)
        out += ",\"status\":\(status.code),\"detail\":"
        JSONValue.quote(detail, into: &out)
        for (k, v) in extensions {
            out += ","
            JSONValue.quote(k, into: &out)
            out += ":" + v
        }
        return out + "}"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var h = headers
        h[.contentType] = "application/problem+json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// The problem for any error: our own, the store's, Hummingbird's, or an unexpected one.
    static func from(_ error: any Error) -> Problem {
        switch error {
        case let p as Problem: return p
        case let e as StoreError:
            switch e {
            case .notFound, .missing: return Problem(.notFound, e.description)
            case .conflict, .reference: return Problem(.conflict, e.description)
            case .invalid: return Problem(.unprocessableContent, e.description)
            case .unavailable:
                var p = Problem(.serviceUnavailable, e.description)
                p.headers[.retryAfter] = "1"
                return p
            }
        case let e as HTTPError:
            let detail: String
            switch e.status {
            case .notFound: detail = "no such route; the API is described at /openapi.json"
            case .contentTooLarge: detail = "the request body is larger than the server's limit"
            case .methodNotAllowed: detail = "this route does not take this method; see /openapi.json"
            default: detail = e.body ?? e.status.reasonPhrase
            }
            var p = Problem(e.status, detail)
            p.headers = e.headers
            return p
        default:
            return Problem(.internalServerError, "the server failed to handle the request; it has been logged")
        }
    }
}

/// The outermost responder: every error that leaves the router — including unknown routes —
/// becomes problem+json; every answer carries its request id (also in problem bodies and on the
/// request's log lines) and the security headers; each request is counted in the metrics; and
/// one client address may send at most `addressLimiter`'s rate.
struct ProblemResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == AppRequestContext {
    typealias Context = AppRequestContext
    let inner: Inner
    var metrics: ServerMetrics? = nil
    var addressLimiter: RateLimiter? = nil
    /// Send Strict-Transport-Security (the server is reached over HTTPS: `--secure-cookies`).
    var strictTransport = false


    func respond(to request: Request, context: Context) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let id = RequestID.of(request)
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        var response = try await answer(request, context, id)
        response.headers[RequestID.header] = id
        response.headers[.xContentTypeOptions] = "nosniff"
        if strictTransport { response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains" }
        if response.headers[.contentType]?.hasPrefix("text/html") != true, response.headers[.contentSecurityPolicy] == nil {
            // API answers are data, never a page to render or frame.
            response.headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'"
        }
        metrics?.request(
            route: MetricsRoute.label(request.uri.path), method: request.method.rawValue, status: Int(response.status.code),
            nanoseconds: DispatchTime.now().uptimeNanoseconds &- started
        )
        return response
    }

    private func answer(_ request: Request, _ context: Context, _ id: String) async throws -> Response {
        do {
            if let limiter = addressLimiter, !unlimitedPaths.contains(request.uri.path), let address = context.remoteAddress,
                let wait = limiter.take("ip:" + address)
            {
                throw Problem.tooMany("this address", limiter.limit, retryAfter: wait)
            }
            let response = try await inner.respond(to: request, context: context)
            // The router answers its own errors (unknown route, body too large) without a
            // problem body; give them one.
            // Web pages answer their errors as HTML pages of their own.
            if response.status.code >= 400, response.headers[.contentType] != "application/problem+json",
                response.headers[.contentType]?.hasPrefix("text/html") != true
            {
                // A person in a browser who typed a wrong address gets a page, not JSON.
                if response.status == .notFound, !request.uri.path.hasPrefix("/api/"), request.headers[.accept]?.contains("text/html") == true {
                    return htmlResponse(
                        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · smarketing</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>Not found</h1><p>There is no page at this address. <a href=\"/\">Go to the start page</a>.</p></main></body></html>",
                        status: .notFound
                    )
                }
                if response.status == .notFound, let allowed = APIRoute.allowedMethods(path: request.uri.path), !allowed.isEmpty {
                    var problem = Problem(
                        .methodNotAllowed,
                        "\(request.uri.path) does not take \(request.method.rawValue); it takes \(allowed.joined(separator: ", ")) (see /openapi.json)"
                    )
                    problem.headers[.allow] = allowed.joined(separator: ", ")
                    return try problem.identified(id).response(from: request, context: context)
                }
                var problem = Problem.from(HTTPError(response.status))
                problem.headers = response.headers
                problem.headers[.contentLength] = nil
                return try problem.identified(id).response(from: request, context: context)
            }
            return response
        } catch {
            let problem = Problem.from(error)
            if problem.status == .internalServerError {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            }
            return try problem.identified(id).response(from: request, context: context)
        }
    }
}

/// Routes no address limit applies to (probes and scrapes come often, from one address).
let unlimitedPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

extension Problem {
    /// The problem with the request's id as `request_id`.
    func identified(_ id: String) -> Problem {
        guard !extensions.contains(where: { $0.0 == "request_id" }) else { return self }
        var p = self
        var quoted = ""
        JSONValue.quote(id, into: &quoted)
        p.extensions.append(("request_id", quoted))
        return p
    }
}
