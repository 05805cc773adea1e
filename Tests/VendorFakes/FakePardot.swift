import Foundation
import Hummingbird
import SmarketingCore
import Synchronization

/// A Pardot business unit following `vendor-specs/pardot/README.md` (API v5): a Salesforce-style
/// token endpoint, the required `Pardot-Business-Unit-Id` header, `fields` (required; only those
/// are returned), `limit` (at most 1000), `orderBy`, `updatedAtAfterOrEqualTo`, `deleted`, the
/// `{values, nextPageToken, nextPageUrl}` page, `{code, message}` errors and PATCH of prospects.
public final class FakePardot: Sendable {
    struct Data {
        var objects: [String: [[String: JSONValue]]] = [:]
        var tokens: Set<String> = []
        var updates: [(String, [String: JSONValue])] = []
        var pages: [String: (object: String, rows: [[String: JSONValue]], fields: [String], offset: Int, limit: Int)] = [:]
    }

    let data = Mutex(Data())
    public let traffic: FakeTraffic
    public let clientID = "pa-client"
    public let clientSecret = "pa-secret"
    public let businessUnit = "0Uv000000000001AAA"

    public init(limit: Int = 5, window: Duration = .seconds(1)) {
        traffic = FakeTraffic(limit: limit, window: window)
    }

    public var updates: [(String, [String: JSONValue])] { data.withLock { $0.updates } }
    public func add(_ object: String, _ r: [String: JSONValue]) { data.withLock { $0.objects[object, default: []].append(r) } }

    static func error(_ status: Int, _ code: Int, _ message: String) -> Response {
        Fake.json(status, .object(["code": .number(Double(code)), "message": .string(message)]))
    }

    static let rateLimited: @Sendable () -> Response = { error(429, 66, "The max number of concurrent API calls has been exceeded") }

    func authorized(_ request: Request) -> Response? {
        guard let t = Fake.bearer(request), data.withLock({ $0.tokens.contains(t) }) else { return Self.error(401, 184, "Access token is invalid, unverified, or has expired") }
        guard request.headers[.init("Pardot-Business-Unit-Id")!] == businessUnit else {
            return Self.error(400, 181, "Pardot-Business-Unit-Id header is missing or not a valid business unit")
        }
        return nil
    }

    func next(_ key: String) -> Response {
        data.withLock { d -> Response in
            guard let p = d.pages[key] else { return Self.error(400, 200, "Invalid nextPageToken") }
            d.pages[key] = nil
            let slice = p.rows.dropFirst(p.offset).prefix(p.limit)
            var out: [String: JSONValue] = ["values": .array(slice.map { r in .object(Dictionary(uniqueKeysWithValues: p.fields.map { ($0, r[$0] ?? .null) })) })]
            if p.offset + slice.count < p.rows.count {
                let token = UUID().uuidString
                d.pages[token] = (p.object, p.rows, p.fields, p.offset + slice.count, p.limit)
                out["nextPageToken"] = .string(token)
                out["nextPageUrl"] = .string("/api/v5/objects/\(p.object)?nextPageToken=\(token)")
            } else {
                out["nextPageToken"] = .null
                out["nextPageUrl"] = .null
            }
            return Fake.json(200, .object(out))
        }
    }

    public func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.post("/services/oauth2/token") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                let form = Fake.form(try await Fake.body(request))
                guard form["client_id"] == self.clientID, form["client_secret"] == self.clientSecret else {
                    return Fake.json(400, .object(["error": .string("invalid_client"), "error_description": .string("invalid client credentials")]))
                }
                let t = "00DPARDOT!" + UUID().uuidString
                self.data.withLock { _ = $0.tokens.insert(t) }
                return Fake.json(200, .object(["access_token": .string(t), "instance_url": .string("http://127.0.0.1"), "token_type": .string("Bearer")]))
            }
        }
        router.get("/api/v5/objects/:object") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                let object = context.parameters.get("object") ?? ""
                let q = request.uri.queryParameters
                if let token = q["nextPageToken"] { return self.next(String(token)) }
                guard let fieldsText = q["fields"] else { return Self.error(400, 92, "The fields parameter is required") }
                let limit = Int(q["limit"].map(String.init) ?? "200") ?? 200
                guard (1...1000).contains(limit) else { return Self.error(400, 87, "limit must be between 1 and 1000") }
                var rows = self.data.withLock { $0.objects[object] ?? [] }
                let deleted = q["deleted"].map(String.init) ?? "false"
                if deleted == "false" { rows = rows.filter { $0["isDeleted"] != .bool(true) } }
                if let s = q["updatedAtAfterOrEqualTo"], let since = Timestamp.parse(dateOrInstant: String(s).removingPercentEncoding ?? String(s)) {
                    rows = rows.filter { ($0["updatedAt"]?.textValue).flatMap { Timestamp.parse(dateOrInstant: $0) }.map { $0 >= since } ?? false }
                }
                rows.sort { (Int($0["id"]?.textValue ?? "") ?? 0) < (Int($1["id"]?.textValue ?? "") ?? 0) }
                let key = UUID().uuidString
                self.data.withLock { $0.pages[key] = (object, rows, String(fieldsText).split(separator: ",").map(String.init), 0, limit) }
                return self.next(key)
            }
        }
        router.patch("/api/v5/objects/:object/:id") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                guard context.parameters.get("object") == "prospects" else { return Self.error(404, 24, "not supported by this fake") }
                let id = context.parameters.get("id") ?? ""
                guard let body = try await Fake.bodyJSON(request), let change = body.objectValue else { return Self.error(400, 35, "Invalid JSON") }
                let found = self.data.withLock { d -> Bool in
                    guard let i = d.objects["prospects"]?.firstIndex(where: { $0["id"]?.textValue == id }) else { return false }
                    for (k, v) in change { d.objects["prospects"]?[i][k] = v }
                    d.updates.append((id, change))
                    return true
                }
                return found ? Fake.json(200, .object(["id": .string(id)])) : Self.error(404, 24, "Invalid prospect ID")
            }
        }
        return router
    }

    public func fill(people: [FakePerson]) {
        add("campaigns", ["id": .number(1), "name": .string("Website"), "cost": .number(100), "updatedAt": .string(FakeData.start.iso8601)])
        for p in people {
            var r: [String: JSONValue] = [
                "id": .number(Double(9000 + p.n)), "firstName": .string(p.first), "lastName": .string(p.last), "jobTitle": .string(p.title),
                "company": .string("Company \(p.company)"), "createdAt": .string(p.createdAt.iso8601), "updatedAt": .string(p.createdAt.iso8601),
                "isDeleted": .bool(false), "score": .number(0), "grade": .null,
            ]
            r["email"] = p.email.map { .string($0) } ?? .null
            add("prospects", r)
            add(
                "visitor-activities",
                ["id": .number(Double(70_000 + p.n)), "prospectId": .number(Double(9000 + p.n)), "type": .number(p.n % 2 == 0 ? 2 : 4), "typeName": .string(p.n % 2 == 0 ? "View" : "Success"), "campaignId": .number(1), "createdAt": .string(p.createdAt.adding(milliseconds: 30_000).iso8601), "updatedAt": .string(p.createdAt.iso8601)]
            )
        }
    }
}
