import Foundation
import Hummingbird
import SmarketingCore
import Synchronization

/// A Pipedrive company following `vendor-specs/pipedrive/` (API v2): `x-api-token`, the
/// `{success, data, additional_data}` envelope, `limit` (at most 500) and an opaque `cursor`
/// answered with `additional_data.next_cursor` (null on the last page), `updated_since`
/// (RFC 3339), v1 users, the `success: false` error envelope and 429 with `x-ratelimit-reset`.
public final class FakePipedrive: Sendable {
    struct Data {
        var objects: [String: [[String: JSONValue]]] = [:]
        var users: [[String: JSONValue]] = []
        var personFields: [[String: JSONValue]] = [
            ["field_code": .string("name"), "field_name": .string("Name"), "field_type": .string("varchar")],
            ["field_code": .string("owner_id"), "field_name": .string("Owner"), "field_type": .string("user")],
        ]
        var updates: [(String, JSONValue)] = []
        var deleted: [String] = []
    }

    /// Person ids deleted, in order.
    public var deleted: [String] { data.withLock { $0.deleted } }

    /// PATCHes of persons received: (person id, body).
    public var updates: [(String, JSONValue)] { data.withLock { $0.updates } }

    let data = Mutex(Data())
    public let traffic: FakeTraffic
    public let token: String

    public init(token: String = "pd-token", limit: Int = 80, window: Duration = .seconds(2)) {
        self.token = token
        traffic = FakeTraffic(limit: limit, window: window)
    }

    public func add(_ object: String, _ record: [String: JSONValue]) { data.withLock { $0.objects[object, default: []].append(record) } }
    public func addUser(_ record: [String: JSONValue]) { data.withLock { $0.users.append(record) } }

    public func update(_ object: String, id: Int, at: Timestamp, _ change: [String: JSONValue]) {
        data.withLock { d in
            guard let i = d.objects[object]?.firstIndex(where: { $0["id"]?.textValue == String(id) }) else { return }
            for (k, v) in change { d.objects[object]?[i][k] = v }
            d.objects[object]?[i]["update_time"] = .string(at.iso8601)
        }
    }

    static func error(_ status: Int, _ message: String) -> Response {
        Fake.json(status, .object(["success": .bool(false), "error": .string(message), "error_info": .string("Please check developers.pipedrive.com"), "data": .null, "additional_data": .null]))
    }

    static let rateLimited: @Sendable () -> Response = {
        Fake.json(429, .object(["success": .bool(false), "error": .string("Rate limit has been exceeded"), "data": .null]), headers: [("x-ratelimit-reset", "1")])
    }

    func authorized(_ request: Request) -> Bool { request.headers[.init("x-api-token")!] == token }

    public func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.get("/v1/users") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard self.authorized(request) else { return Self.error(401, "unauthorized access") }
                return Fake.json(200, .object(["success": .bool(true), "data": .array(self.data.withLock { $0.users.map { .object($0) } })]))
            }
        }
        router.get("/v1/users/me") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard self.authorized(request) else { return Self.error(401, "unauthorized access") }
                return Fake.json(200, .object(["success": .bool(true), "data": self.data.withLock { $0.users.first.map { .object($0) } ?? .null }]))
            }
        }
        router.get("/api/v2/:object") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard self.authorized(request) else { return Self.error(401, "unauthorized access") }
                let object = context.parameters.get("object") ?? ""
                if object == "personFields" {
                    return Fake.json(200, .object(["success": .bool(true), "data": .array(self.data.withLock { $0.personFields.map { .object($0) } }), "additional_data": .object(["next_cursor": .null])]))
                }
                guard ["persons", "organizations", "deals", "activities", "stages"].contains(object) else { return Self.error(404, "Unknown method .") }
                let q = request.uri.queryParameters
                let limit = Int(q["limit"].map(String.init) ?? "100") ?? 100
                guard (1...500).contains(limit) else { return Self.error(400, "limit must be between 1 and 500") }
                var rows = self.data.withLock { $0.objects[object] ?? [] }.filter { $0["is_deleted"] != .bool(true) }
                if let since = q["updated_since"].flatMap({ Timestamp.parse(dateOrInstant: String($0).removingPercentEncoding ?? String($0)) }) {
                    rows = rows.filter { ($0["update_time"]?.textValue).flatMap { Timestamp.parse(dateOrInstant: $0) }.map { $0 >= since } ?? false }
                }
                if q["done"].map(String.init) == "true" { rows = rows.filter { $0["done"] == .bool(true) } }
                rows.sort { (Int($0["id"]?.textValue ?? "") ?? 0) < (Int($1["id"]?.textValue ?? "") ?? 0) }
                // The cursor is opaque: base64 of the last id read.
                var start = 0
                if let c = q["cursor"], let decoded = Foundation.Data(base64Encoded: String(c).removingPercentEncoding ?? String(c)), let last = Int(String(decoding: decoded, as: UTF8.self)) {
                    start = rows.firstIndex { (Int($0["id"]?.textValue ?? "") ?? 0) > last } ?? rows.count
                }
                let slice = Array(rows.dropFirst(start).prefix(limit))
                var next: JSONValue = .null
                if start + slice.count < rows.count, let last = slice.last?["id"]?.textValue {
                    next = .string(Foundation.Data(last.utf8).base64EncodedString())
                }
                return Fake.json(200, .object(["success": .bool(true), "data": .array(slice.map { .object($0) }), "additional_data": .object(["next_cursor": next])]))
            }
        }
        router.post("/api/v2/:object") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard self.authorized(request) else { return Self.error(401, "unauthorized access") }
                guard context.parameters.get("object") == "personFields" else { return Self.error(404, "not supported by this fake") }
                guard let body = try await Fake.bodyJSON(request), let name = body[key: "field_name"]?.textValue, let type = body[key: "field_type"]?.textValue else {
                    return Self.error(400, "field_name and field_type are required")
                }
                let code = Foundation.Data(name.utf8).base64EncodedString().lowercased().filter { $0.isLetter || $0.isNumber }.prefix(40)
                let field: [String: JSONValue] = ["field_code": .string(String(code)), "field_name": .string(name), "field_type": .string(type)]
                self.data.withLock { $0.personFields.append(field) }
                return Fake.json(200, .object(["success": .bool(true), "data": .object(field)]))
            }
        }
        router.patch("/api/v2/:object/:id") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard self.authorized(request) else { return Self.error(401, "unauthorized access") }
                guard context.parameters.get("object") == "persons", let id = context.parameters.get("id") else { return Self.error(404, "not supported by this fake") }
                guard let body = try await Fake.bodyJSON(request) else { return Self.error(400, "invalid JSON") }
                let codes = Set(self.data.withLock { $0.personFields.compactMap { $0["field_code"]?.textValue } })
                for key in body[key: "custom_fields"]?.objectValue?.keys.map({ $0 }) ?? [] where !codes.contains(key) {
                    return Self.error(400, "custom field \(key) does not exist")
                }
                let found = self.data.withLock { d -> Bool in
                    guard d.objects["persons"]?.contains(where: { $0["id"]?.textValue == id }) == true else { return false }
                    d.updates.append((id, body))
                    return true
                }
                return found ? Fake.json(200, .object(["success": .bool(true), "data": .object(["id": .string(id)])])) : Self.error(404, "Person not found")
            }
        }
        router.delete("/api/v2/:object/:id") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard self.authorized(request) else { return Self.error(401, "unauthorized access") }
                guard context.parameters.get("object") == "persons", let id = context.parameters.get("id") else { return Self.error(404, "not supported by this fake") }
                guard Int(id) != nil else { return Self.error(400, "id must be an integer") }
                let found = self.data.withLock { d -> Bool in
                    guard let i = d.objects["persons"]?.firstIndex(where: { $0["id"]?.textValue == id }) else { return false }
                    d.objects["persons"]?.remove(at: i)
                    d.deleted.append(id)
                    return true
                }
                return found ? Fake.json(200, .object(["success": .bool(true), "data": .object(["id": .number(Double(id) ?? 0)])])) : Self.error(404, "Person not found")
            }
        }
        return router
    }

    /// Users, stages, organizations, persons (emails as Pipedrive's list), deals, done activities.
    public func fill(people: [FakePerson], companies: Int) {
        let t0 = FakeData.start
        for i in 1...2 { addUser(["id": .number(Double(i)), "name": .string("PD Rep \(i)"), "email": .string("pd-rep-\(i)@us.example"), "active_flag": .bool(true)]) }
        for (i, name) in ["Qualified", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started"].enumerated() {
            add("stages", ["id": .number(Double(i + 1)), "name": .string(name), "pipeline_id": .number(1), "order_nr": .number(Double(i))])
        }
        for c in 0..<companies {
            add("organizations", ["id": .number(Double(c + 1)), "name": .string("Company \(c)"), "website": .string("https://\(FakeData.domain(c))"), "owner_id": .number(1), "add_time": .string(t0.iso8601), "update_time": .string(t0.iso8601)])
        }
        for p in people {
            var r: [String: JSONValue] = [
                "id": .number(Double(p.n + 1)), "name": .string("\(p.first) \(p.last)"), "first_name": .string(p.first), "last_name": .string(p.last),
                "owner_id": .number(Double(1 + p.n % 2)), "org_id": .number(Double(p.company + 1)), "add_time": .string(p.createdAt.iso8601),
                "update_time": .string(p.createdAt.iso8601), "phones": .array([]),
            ]
            r["emails"] = p.email.map { .array([.object(["value": .string($0), "primary": .bool(true), "label": .string("work")])]) } ?? .array([])
            add("persons", r)
            if p.n % 2 == 0 {
                add(
                    "activities",
                    ["id": .number(Double(p.n + 1)), "subject": .string("Call"), "type": .string("call"), "person_id": .number(Double(p.n + 1)), "owner_id": .number(1), "done": .bool(true), "marked_as_done_time": .string(p.createdAt.adding(milliseconds: 86_400_000).iso8601), "update_time": .string(p.createdAt.iso8601)]
                )
            }
            if p.n % 10 == 0 {
                add(
                    "deals",
                    [
                        "id": .number(Double(p.n + 1)), "title": .string("Deal \(p.n)"), "value": .number(Double(1000 + p.n)), "currency": .string("EUR"),
                        "status": .string(p.n % 20 == 0 ? "won" : "open"), "stage_id": .number(Double(1 + p.n % 5)), "pipeline_id": .number(1),
                        "person_id": .number(Double(p.n + 1)), "org_id": .number(Double(p.company + 1)), "owner_id": .number(1),
                        "add_time": .string(p.createdAt.iso8601), "update_time": .string(p.createdAt.iso8601),
                        "won_time": p.n % 20 == 0 ? .string(p.createdAt.adding(milliseconds: 86_400_000 * 10).iso8601) : .null,
                    ]
                )
            }
        }
    }
}
