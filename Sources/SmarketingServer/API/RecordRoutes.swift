import Foundation
import HTTPTypes
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// The handlers behind `APIRoute`.
struct APIHandlers: Sendable {
    let store: any FunnelStore
    let clock: any WorkspaceClock
    let committer: IngestCommitter
    let maxBodyBytes: Int
    let tokenCache: TokenCache
    let jobs = ScoringJobs()
    /// Results that cost seconds on a large workspace (attribution), shared with the web app.
    let cache = WebCache()
    /// Vendor connections (nil when the server runs without a secret key).
    var connections: ConnectionService? = nil
    var metrics: ServerMetrics? = nil
    /// Webhook and connector URLs may point into the server's own network (`--allow-private-urls`).
    var allowPrivateURLs = false
    var scheduler: SyncScheduler? = nil

    func handle(_ route: APIRoute, _ request: Request, _ context: AppRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let request = try await checked(route, request, context)
        switch route.kind {
        case .list(let r):
            return try await list(r, request)
        case .get(let r):
            let id = try pathID(context)
            guard let record = try await store.get(r, id: id) else { throw StoreError.notFound(r, id) }
            return RecordJSON.response(.ok, RecordJSON.encode(record))
        case .create(let r):
            try authorizeWrite(actor, r)
            let fields = try RecordJSON.fields(try await body(request), for: r)
            var record = Record(r, values: Array(repeating: .null, count: r.schema.fields.count))
            for (k, v) in fields { record[k] = v }
            for f in r.schema.fields where f.required && record[f.name].isNull {
                throw Problem(.unprocessableContent, "field \"\(f.name)\" is required")
            }
            if r == .users, record["access_role"].isNull {
                record["access_role"] = .text(AccessRole.defaultFor(team: record["team"].text).rawValue)
            }
            try await store.create(record, actor: actor, at: clock.now())
            var response = RecordJSON.response(.created, RecordJSON.encode(record))
            // Percent-encoded: a header is ASCII, an id may be any text.
            var segment = CharacterSet.urlPathAllowed
            segment.remove(charactersIn: "/;")
            response.headers[.location] = route.path + "/" + (record.id.addingPercentEncoding(withAllowedCharacters: segment) ?? record.id)
            if r == .personas { try await regradeForPersonas(&response, actor) }
            return response
        case .update(let r):
            try authorizeWrite(actor, r)
            let id = try pathID(context)
            let fields = try RecordJSON.fields(try await body(request), for: r)
            let record = try await store.update(r, id: id, fields: fields, actor: actor, at: clock.now())
            var response = RecordJSON.response(.ok, RecordJSON.encode(record))
            if r == .personas { try await regradeForPersonas(&response, actor) }
            return response
        case .delete(let r):
            try authorizeWrite(actor, r)
            try await store.delete(r, id: try pathID(context), actor: actor, at: clock.now())
            var response = Response(status: .noContent)
            if r == .personas { try await regradeForPersonas(&response, actor) }
            return response
        case .opportunityContacts:
            let id = try pathID(context)
            guard try await store.get(.opportunities, id: id) != nil else { throw StoreError.notFound(.opportunities, id) }
            var q = ListQuery()
            q.equals["opportunity_id"] = .text(id)
            q.limit = 1000
            let page = try await store.list(.opportunityContacts, q)
            return RecordJSON.response(.ok, "{\"data\":[" + page.records.map(RecordJSON.encode).joined(separator: ",") + "]}")
        case .ingest:
            return try await ingest(request, actor)
        case .duplicates:
            let limit = Int(request.uri.queryParameters.get("limit") ?? "") ?? 100
            let pairs = try await store.duplicateContacts(limit: max(1, min(limit, 10_000)))
            let data = try JSONEncoder().encode(pairs)
            return RecordJSON.response(.ok, "{\"data\":" + String(decoding: data, as: UTF8.self) + "}")
        case .merge:
            guard AccessPolicy.mayMerge(actor.role) else { throw forbidden(actor, "merge contacts") }
            let object = try jsonObject(try await body(request))
            guard let keep = object["keep"]?.string, let dup = object["duplicate"]?.string, object.count == 2 else {
                throw Problem(.unprocessableContent, "send {\"keep\": \"<contact id>\", \"duplicate\": \"<contact id>\"}")
            }
            let kept = try await store.mergeContacts(keep: keep, duplicate: dup, actor: actor, at: clock.now())
            return RecordJSON.response(.ok, RecordJSON.encode(kept))
        case .createToken:
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "manage tokens") }
            let object = try jsonObject(try await body(request))
            guard let user = object["user_id"]?.string, let roleText = object["role"]?.string else {
                throw Problem(.unprocessableContent, "send {\"user_id\": \"…\", \"role\": \"admin|marketing|sales|viewer\", \"name\": \"…\"}")
            }
            guard let role = AccessRole(rawValue: roleText) else {
                throw Problem(.unprocessableContent, "role \"\(roleText)\" is not one of admin, marketing, sales, viewer")
            }
            let token = APIToken.generate()
            let id = try await store.createToken(
                userID: user,
                role: role,
                name: object["name"]?.string ?? "api",
                hash: APIToken.hash(token),
                actor: actor,
                at: clock.now()
            )
            return RecordJSON.response(
                .created,
                "{\"id\":\"\(id)\",\"token\":\"\(token)\",\"user_id\":\(JSONValue.string(user).compactText),\"role\":\"\(role.rawValue)\"}"
            )
        case .revokeToken:
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "manage tokens") }
            try await store.revokeToken(id: try pathID(context), actor: actor, at: clock.now())
            tokenCache.clear()
            return Response(status: .noContent)
        case .setPassword:
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "manage users") }
            let object = try jsonObject(try await body(request))
            guard let password = object["password"]?.string, password.count >= 10 else {
                throw Problem(.unprocessableContent, "send {\"password\": \"…\"} with at least 10 characters")
            }
            try await store.setPasswordHash(userID: try pathID(context), hash: PasswordHash.make(password), actor: actor, at: clock.now())
            return Response(status: .noContent)
        case .audit:
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "read the audit log") }
            let limit = Int(request.uri.queryParameters.get("limit") ?? "") ?? 100
            let before = Int64(request.uri.queryParameters.get("before") ?? "")
            let entries = try await store.audit(limit: max(1, min(limit, 1000)), before: before)
            let encoder = JSONEncoder()
            return RecordJSON.response(.ok, "{\"data\":" + String(decoding: try encoder.encode(entries), as: UTF8.self) + "}")
        case .contactConsent, .consentList:
            return try await consentRoute(route, request, context, actor)
        case .contactConsentSet:
            guard AccessPolicy.mayWrite(actor.role, .contacts) else { throw forbidden(actor, "change a contact's subscription status") }
            return try await consentRoute(route, request, context, actor)
        case .contactErase, .contactExport, .erasures, .retention:
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "erase or export a person's data") }
            return try await privacyRoute(route, request, context, actor)
        case .settings, .settingsChange, .settingsJob:
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "read or change the workspace settings") }
            return try await settingsRoute(route, request, context, actor)
        case _ where route.kind.isRitual:
            return try await ritualRoute(route, request, context, actor)
        case .scoringModel, .scoringVersions, .scoringValidate, .scoringDiff, .scoringApply, .scoringJob, .scoringBacktest, .contactScore,
            .contactTransitions:
            return try await scoring(route, request, context, actor)
        case .kpis, .kpiRecords, .stream, .attribution, .funnel, .killers:
            return try await kpi(route, request, context)
        case .connectionList, .connectionCreate, .connectionDelete, .connectionTest, .connectionSync, .connectionRuns:
            return try await connectionRoute(route, request, context, actor)
        default:
            return try await handover(route, request, context, actor)
        }
    }

    /// The request after the checks `/openapi.json` documents for the route: every parameter
    /// and the JSON body against their schemas (422 naming the value), the body's media type
    /// (415) and JSON syntax (400). The body is read here once and handed on buffered.
    func checked(_ route: APIRoute, _ request: Request, _ context: AppRequestContext) async throws -> Request {
        let query = request.uri.queryParameters
        for p in route.parameters {
            let value: String?
            if p.inPath {
                value = try pathID(context)
            } else {
                value = query.get(p.name)
            }
            guard let value else { continue }
            if let problem = SchemaCheck.parameterProblem(value, p.schema, name: p.name) { throw Problem(.unprocessableContent, problem) }
        }
        let yaml = OpenAPIDocument.takesYAML(route)
        guard let schema = OpenAPIDocument.bodySchema(route) ?? (yaml ? OpenAPIDocument.yamlJSONSchema : nil) else { return request }
        let buffer = try await body(request)
        var request = request
        request.body = RequestBody(buffer: buffer)
        let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() }
        let isJSON = type == nil || type == "application/json" || type?.hasSuffix("+json") == true
        let isNDJSON = route.kind == .ingest && (type == "application/x-ndjson" || type == "application/jsonlines" || type == "application/x-jsonlines")
        if yaml {
            guard type == "application/json" else {
                guard buffer.readableBytes > 0 else { throw Problem(.badRequest, "the body holds no file") }
                return request
            }
        } else if !isJSON && !isNDJSON {
            throw Problem(.unsupportedMediaType, "send the body as application/json\(route.kind == .ingest ? " or application/x-ndjson" : "")")
        }
        if buffer.readableBytes == 0, route.kind == .ingest { throw Problem(.badRequest, "the body holds no events") }
        if buffer.readableBytes == 0 {
            if case .object(let o) = schema, o["$ref"] == nil, o["oneOf"] == nil, (o["required"]?.arrayCount ?? 0) == 0, !yaml { return request }
            throw Problem(.badRequest, "the body is empty; it must be JSON (see /openapi.json)")
        }
        // Events are checked one by one in the ingest handler (a malformed event is rejected
        // at its position, and ?partial=true stores the others).
        if route.kind == .ingest { return request }
        let decoder = JSONDecoder()
        if isNDJSON {
            var line = 0
            for chunk in buffer.readableBytesView.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                line += 1
                if chunk.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                guard let v = try? decoder.decode(JSONValue.self, from: Data(chunk)) else { throw Problem(.badRequest, "line \(line) is not valid JSON") }
                if let problem = SchemaCheck.problem(v, OpenAPIDocument.ref("Event"), at: "line \(line)") { throw Problem(.unprocessableContent, problem) }
            }
            return request
        }
        let value: JSONValue
        do {
            value = try decoder.decode(JSONValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw Problem(.badRequest, "the body is not valid JSON: \(RecordJSON.describe(error))")
        }
        if let problem = SchemaCheck.problem(value, schema, at: "body") { throw Problem(.unprocessableContent, problem) }
        return request
    }

    /// The `{id}` of the path, percent-decoded (keyed records have ids like `2026-01|mqls|`).
    func pathID(_ context: AppRequestContext) throws -> String {
        let raw = try context.parameters.require("id")
        return raw.removingPercentEncoding ?? raw
    }

    func forbidden(_ actor: Actor, _ what: String) -> Problem {
        Problem(.forbidden, "the role \(actor.role.rawValue) may not \(what)")
    }

    func authorizeWrite(_ actor: Actor, _ r: Resource) throws {
        guard AccessPolicy.mayWrite(actor.role, r) else { throw forbidden(actor, "change \(r.rawValue)") }
    }

    func body(_ request: Request) async throws -> ByteBuffer {
        try await request.body.collect(upTo: maxBodyBytes)
    }

    func jsonObject(_ body: ByteBuffer) throws -> [String: JSONValue] {
        guard let v = try? JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView)) else {
            throw Problem(.badRequest, "the body is not valid JSON")
        }
        guard case .object(let o) = v else { throw Problem(.badRequest, "the body must be a JSON object") }
        return o
    }

    /// Query parameters every list takes besides field filters.
    static let listParameters = ["limit", "cursor", "sort", "q", "created_from", "created_to"]

    func list(_ r: Resource, _ request: Request) async throws -> Response {
        let schema = r.schema
        var q = ListQuery()
        for (key, rawValue) in request.uri.queryParameters {
            let name = String(key)
            let value = String(rawValue)  // Hummingbird has percent-decoded query values already
            switch name {
            case "limit":
                guard let n = Int(value), n >= 1, n <= 1000 else { throw Problem(.unprocessableContent, "limit must be a number from 1 to 1000") }
                q.limit = n
            case "cursor": q.cursor = value
            case "q": q.search = value
            case "sort":
                q.descending = value.hasPrefix("-")
                let field = q.descending ? String(value.dropFirst()) : value
                guard field == "id" || schema.field(field) != nil else {
                    throw Problem(.unprocessableContent, "sort \"\(field)\" is not a field of \(r.rawValue)")
                }
                q.sort = field
            case "created_from", "created_to":
                guard let tf = schema.timeField, let spec = schema.field(tf) else {
                    throw Problem(.unprocessableContent, "\(r.rawValue) has no time field to filter by")
                }
                let v = try RecordJSON.filterValue(value, spec, name: name)
                if name == "created_from" { q.from = v } else { q.to = v }
            default:
                let field = schema.aliases[name] ?? name
                guard let spec = schema.field(field), spec.filterable else {
                    let allowed = schema.fields.filter(\.filterable).map(\.name) + schema.aliases.keys.sorted()
                    throw Problem(.unprocessableContent, "unknown filter \"\(name)\"; \(r.rawValue) filters: \(allowed.joined(separator: ", "))")
                }
                q.equals[field] = try RecordJSON.filterValue(value, spec, name: name)
            }
        }
        let page = try await store.list(r, q)
        var out = "{\"data\":["
        for (i, rec) in page.records.enumerated() {
            if i > 0 { out += "," }
            RecordJSON.write(rec, into: &out)
        }
        out += "],\"next_cursor\":"
        if let c = page.nextCursor { JSONValue.quote(c, into: &out) } else { out += "null" }
        return RecordJSON.response(.ok, out + "}")
    }
}
