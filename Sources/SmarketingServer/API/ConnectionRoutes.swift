import Foundation
import HTTPTypes
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// A connection as the API shows it: never its credentials.
struct ConnectionOut: Encodable {
    var name: String
    var vendor: String
    var baseUrl: String?
    var status: String
    var createdAt: String
    var lastSyncAt: String?
    var lastError: String?
    var counts: SyncCounts
    var webhookUrl: String

    init(_ c: StoredConnection) {
        name = c.name
        vendor = c.vendor.rawValue
        baseUrl = c.baseURL
        status = c.status
        createdAt = c.createdAt.iso8601
        lastSyncAt = c.lastSyncAt?.iso8601
        lastError = c.lastError
        counts = c.counts
        webhookUrl = "/hooks/" + c.name
    }
}

extension APIHandlers {
    func connectionRoute(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "manage connections") }
        guard let service = connections else {
            throw Problem(
                .serviceUnavailable,
                "connections need the key that seals vendor credentials: start the server with `smarketing serve` (on SQLite it opens or creates the key file; on PostgreSQL set SMARKETING_SECRET_KEY, the same on every instance)"
            )
        }
        switch route.kind {
        case .connectionList:
            struct Out: Encodable { var data: [ConnectionOut] }
            return try json(.ok, Out(data: try await service.store.connections().map(ConnectionOut.init)))
        case .connectionCreate:
            let o = try jsonObject(try await body(request))
            guard let vendorText = o["vendor"]?.string, let vendor = Vendor(rawValue: vendorText) else {
                throw Problem(.unprocessableContent, "vendor must be one of " + Vendor.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard let name = o["name"]?.string else { throw Problem(.unprocessableContent, "name is required") }
            var secrets: [String: String] = [:]
            for (k, v) in o["credentials"]?.objectValue ?? [:] {
                guard let s = v.string else { throw Problem(.unprocessableContent, "credential \"\(k)\" must be a string") }
                secrets[k] = s
            }
            var settings: [String: String] = [:]
            for (k, v) in o["settings"]?.objectValue ?? [:] {
                guard let s = v.string else { throw Problem(.unprocessableContent, "setting \"\(k)\" must be a string") }
                settings[k] = s
            }
            do {
                if !allowPrivateURLs, let base = o["base_url"]?.string, let host = URL(string: base)?.host, let why = PrivateAddress.reason(host: host) {
                    throw Problem(.unprocessableContent, "base_url points into the server's own network (\(why)); an admin may allow it with `smarketing serve --allow-private-urls`")
                }
                let c = try await service.add(name: name, vendor: vendor, baseURL: o["base_url"]?.string, secrets: secrets, settings: settings, actor: actor)
                var response = try json(.created, ConnectionOut(c))
                response.headers[HTTPField.Name.location] = "/api/v1/connections/" + c.name
                return response
            } catch let e as ConnectionError {
                throw Problem(.unprocessableContent, e.description)
            }
        case .connectionDelete:
            let name = try pathID(context)
            do {
                try await service.store.removeConnection(named: name, actor: actor, at: clock.now())
            } catch StoreError.missing(let m) {
                throw Problem(.notFound, m)
            }
            return Response(status: .noContent)
        case .connectionTest, .connectionSync:
            let name = try pathID(context)
            guard try await service.store.connection(named: name) != nil else { throw Problem(.notFound, "no connection named \"\(name)\"") }
            guard let scheduler else { throw Problem(.serviceUnavailable, "the sync scheduler is not running on this server") }
            if route.kind == .connectionTest {
                // Vendors may take long to answer: the check runs in the background and its
                // outcome is the connection's status and last error.
                Task { _ = try? await service.test(name) }
                return try json(.accepted, ["status": "testing", "connection": name])
            }
            let full = request.uri.queryParameters.get("full") == "true"
            guard await scheduler.startNow(name, full: full) else { throw Problem(.conflict, "a sync of \(name) is running; wait for it to finish") }
            return try json(.accepted, ["status": "syncing", "connection": name])
        case .connectionRuns:
            let name = try pathID(context)
            guard try await service.store.connection(named: name) != nil else { throw Problem(.notFound, "no connection named \"\(name)\"") }
            struct Out: Encodable { var data: [SyncRunInfo] }
            return try json(.ok, Out(data: try await service.store.syncRuns(connection: name, limit: 50)))
        default:
            throw Problem(.notFound, "no such route")
        }
    }
}

/// `POST /hooks/{name}`: vendor webhooks, authenticated by the vendor's signature or secret
/// (not by an API token), idempotent on the vendor's event id, answered at once; the records
/// they name are read by an incremental sync soon after.
struct InboundHookHandler: Sendable {
    let service: ConnectionService
    let scheduler: SyncScheduler?
    let publicURL: String?
    let maxBodyBytes: Int

    func handle(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let raw = try context.parameters.require("name")
        let name = raw.removingPercentEncoding ?? raw
        guard ConnectionService.validName(name), let connection = try await service.store.connection(named: name) else {
            throw Problem(.notFound, "no connection named \"\(name)\"")
        }
        let buffer = try await request.body.collect(upTo: maxBodyBytes)
        var headers: [(String, String)] = []
        for field in request.headers { headers.append((field.name.rawName, field.value)) }
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
        let host = request.head.authority ?? "localhost"
        let scheme = request.headers[HTTPField.Name("X-Forwarded-Proto")!] ?? "http"
        let base = publicURL ?? (scheme + "://" + host)
        let inbound = InboundRequest(
            method: request.method.rawValue,
            url: base + request.uri.description,
            headers: headers,
            body: Array(buffer.readableBytesView),
            query: query
        )
        let objects: Set<SyncObject>
        do {
            objects = try await service.receive(name, inbound, actor: Actor(userID: "system", role: .admin, via: "webhook \(name)"))
        } catch let refusal as InboundRefusal {
            throw Problem(refusal.unauthenticated ? .unauthorized : .badRequest, refusal.description)
        }
        if !objects.isEmpty { await scheduler?.request(name, objects: objects) }
        let ack = InboundWebhooks.acknowledgement(connection.vendor)
        var response = RecordJSON.response(.ok, ack.body)
        response.headers[.contentType] = ack.contentType
        return response
    }
}
