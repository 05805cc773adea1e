import Foundation
import Hummingbird
import SmarketingCore
import Synchronization

/// A Marketo instance following `vendor-specs/marketo/`: the identity endpoint, errors inside
/// HTTP 200 bodies (601 invalid / 602 expired token, 606 over 100 calls per 20 s, 615
/// concurrency), activity paging tokens with `moreResult` (at most 300 per page), leads by id,
/// programs with offset paging, describe2, and `leads.json` updateOnly with per-record status.
public final class FakeMarketo: Sendable {
    struct Data {
        var leads: [Int: [String: JSONValue]] = [:]
        var activities: [[String: JSONValue]] = []
        var programs: [[String: JSONValue]] = []
        var tokens: Set<String> = []
        var fields: Set<String> = []
        var updates: [(Int, [String: JSONValue])] = []
    }

    let data = Mutex(Data())
    public let traffic: FakeTraffic
    public let clientID = "mk-client"
    public let clientSecret = "mk-secret"

    public init(limit: Int = 100, window: Duration = .seconds(20)) {
        traffic = FakeTraffic(limit: limit, window: window)
        data.withLock { $0.fields = Set(MarketoFields.standard) }
    }

    public var updates: [(Int, [String: JSONValue])] { data.withLock { $0.updates } }
    public func expireTokens() { data.withLock { $0.tokens.removeAll() } }
    public func addField(_ name: String) { _ = data.withLock { $0.fields.insert(name) } }

    static func envelope(_ result: [JSONValue], extra: [String: JSONValue] = [:]) -> Response {
        var o: [String: JSONValue] = ["requestId": .string(String(UUID().uuidString.prefix(8))), "success": .bool(true), "result": .array(result)]
        for (k, v) in extra { o[k] = v }
        return Fake.json(200, .object(o))
    }

    static func failure(_ code: String, _ message: String) -> Response {
        Fake.json(200, .object(["requestId": .string("e42b#1"), "success": .bool(false), "errors": .array([.object(["code": .string(code), "message": .string(message)])])]))
    }

    static let rateLimited: @Sendable () -> Response = { failure("606", "Max rate limit '100' exceeded with in '20' secs") }

    func authorized(_ request: Request) -> Response? {
        guard let t = Fake.bearer(request) else { return Self.failure("601", "Access token invalid") }
        guard data.withLock({ $0.tokens.contains(t) }) else { return Self.failure("602", "Access token expired") }
        return nil
    }

    /// Paging tokens here are base64 of `since-ms:offset`.
    static func token(_ since: Int64, _ offset: Int) -> String { Foundation.Data("\(since):\(offset)".utf8).base64EncodedString() }

    public func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.get("/identity/oauth/token") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                let q = request.uri.queryParameters
                guard q["client_id"].map(String.init) == self.clientID, q["client_secret"].map(String.init) == self.clientSecret else {
                    return Fake.json(401, .object(["error": .string("unauthorized"), "error_description": .string("Bad client credentials")]))
                }
                let t = UUID().uuidString.lowercased() + ":ab"
                self.data.withLock { _ = $0.tokens.insert(t) }
                return Fake.json(200, .object(["access_token": .string(t), "token_type": .string("bearer"), "expires_in": .number(3599), "scope": .string("api@example")]))
            }
        }
        router.get("/rest/v1/activities/types.json") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                return Self.envelope([.object(["id": .number(1), "name": .string("Visit Webpage")]), .object(["id": .number(12), "name": .string("New Lead")])])
            }
        }
        router.get("/rest/v1/leads/describe2.json") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                let fields = self.data.withLock { $0.fields }.sorted().map { JSONValue.object(["name": .string($0), "dataType": .string("string")]) }
                return Self.envelope([.object(["name": .string("API Lead"), "fields": .array(fields)])])
            }
        }
        router.get("/rest/asset/v1/programs.json") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                let q = request.uri.queryParameters
                let max = min(200, Int(q["maxReturn"].map(String.init) ?? "20") ?? 20)
                let offset = Int(q["offset"].map(String.init) ?? "0") ?? 0
                let page = self.data.withLock { Array($0.programs.dropFirst(offset).prefix(max)) }
                if page.isEmpty { return Self.envelope([], extra: ["warnings": .array([.string("No assets found for the given search criteria.")])]) }
                return Self.envelope(page.map { .object($0) })
            }
        }
        router.get("/rest/v1/activities/pagingtoken.json") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                guard let s = request.uri.queryParameters["sinceDatetime"], let t = Timestamp.parse(dateOrInstant: String(s).removingPercentEncoding ?? String(s)) else {
                    return Self.failure("1003", "sinceDatetime is required")
                }
                return Fake.json(200, .object(["requestId": .string("1"), "success": .bool(true), "nextPageToken": .string(Self.token(t.milliseconds, 0))]))
            }
        }
        router.get("/rest/v1/activities.json") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                let q = request.uri.queryParameters
                guard let raw = q["nextPageToken"], let decoded = Foundation.Data(base64Encoded: String(raw).removingPercentEncoding ?? String(raw)) else {
                    return Self.failure("1003", "nextPageToken is invalid")
                }
                let parts = String(decoding: decoded, as: UTF8.self).split(separator: ":")
                guard parts.count == 2, let since = Int64(parts[0]), let offset = Int(parts[1]) else { return Self.failure("1003", "nextPageToken is invalid") }
                let types = Set((q["activityTypeIds"].map(String.init) ?? "").split(separator: ",").compactMap { Int($0) })
                guard !types.isEmpty, types.count <= 10 else { return Self.failure("1003", "activityTypeIds: 1 to 10 ids") }
                let all = self.data.withLock { $0.activities }.filter { a in
                    types.contains(Int(a["activityTypeId"]?.textValue ?? "") ?? -1)
                        && (a["activityDate"]?.textValue.flatMap { Timestamp.parse(dateOrInstant: $0) }.map { $0.milliseconds >= since } ?? false)
                }
                let page = Array(all.dropFirst(offset).prefix(300))
                let more = offset + page.count < all.count
                return Self.envelope(page.map { .object($0) }, extra: ["nextPageToken": .string(Self.token(since, offset + page.count)), "moreResult": .bool(more)])
            }
        }
        router.get("/rest/v1/leads.json") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                let q = request.uri.queryParameters
                guard q["filterType"].map(String.init) == "id" else { return Self.failure("1003", "filterType not supported by this fake") }
                let ids = (q["filterValues"].map(String.init) ?? "").split(separator: ",").compactMap { Int($0) }
                guard ids.count <= 300 else { return Self.failure("1003", "Too many values in filterValues") }
                let fields = (q["fields"].map(String.init) ?? "id,email").split(separator: ",").map(String.init)
                let leads = self.data.withLock { d in ids.compactMap { d.leads[$0] } }
                return Self.envelope(leads.map { l in .object(Dictionary(uniqueKeysWithValues: fields.map { ($0, l[$0] ?? .null) })) })
            }
        }
        router.post("/rest/v1/leads.json") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let r = self.authorized(request) { return r }
                guard let body = try await Fake.bodyJSON(request) else { return Self.failure("609", "Invalid JSON") }
                let input = body[key: "input"]?.items ?? []
                guard input.count <= 300 else { return Self.failure("1003", "Batch size exceeds 300") }
                let known = self.data.withLock { $0.fields }
                let results: [JSONValue] = input.map { i in
                    guard let id = i[key: "id"]?.textValue.flatMap(Int.init), self.data.withLock({ $0.leads[id] != nil }) else {
                        return .object(["status": .string("skipped"), "reasons": .array([.object(["code": .string("1004"), "message": .string("Lead not found")])])])
                    }
                    var change = i.objectValue ?? [:]
                    change["id"] = nil
                    if let bad = change.keys.first(where: { !known.contains($0) }) {
                        return .object(["id": .number(Double(id)), "status": .string("skipped"), "reasons": .array([.object(["code": .string("1006"), "message": .string("Field '\(bad)' not found")])])])
                    }
                    self.data.withLock { d in
                        for (k, v) in change { d.leads[id]?[k] = v }
                        d.updates.append((id, change))
                    }
                    return .object(["id": .number(Double(id)), "status": .string("updated")])
                }
                return Self.envelope(results)
            }
        }
        return router
    }

    /// Leads (with New Lead activities), programs, email and web activities.
    public func fill(people: [FakePerson]) {
        data.withLock { d in
            d.programs = [
                ["id": .number(1001), "name": .string("Spring Webinar"), "type": .string("event"), "channel": .string("webinar")],
                ["id": .number(1002), "name": .string("Newsletter"), "type": .string("email"), "channel": .string("email")],
            ]
            var aid = 1
            for p in people {
                let id = 500 + p.n
                var lead: [String: JSONValue] = [
                    "id": .number(Double(id)), "firstName": .string(p.first), "lastName": .string(p.last), "title": .string(p.title),
                    "company": .string("Company \(p.company)"), "createdAt": .string(p.createdAt.iso8601), "updatedAt": .string(p.createdAt.iso8601),
                    "leadSource": .string("Website"),
                ]
                lead["email"] = p.email.map { .string($0) } ?? .null
                d.leads[id] = lead
                func activity(_ type: Int, _ at: Timestamp, _ primary: String) {
                    d.activities.append([
                        "id": .number(Double(aid)), "marketoGUID": .string(String(aid)), "leadId": .number(Double(id)), "activityDate": .string(at.iso8601),
                        "activityTypeId": .number(Double(type)), "primaryAttributeValue": .string(primary), "attributes": .array([]),
                    ])
                    aid += 1
                }
                activity(12, p.createdAt, "New Lead")
                activity(1, p.createdAt.adding(milliseconds: 60_000), "/pricing")
                if p.n % 2 == 0 { activity(10, p.createdAt.adding(milliseconds: 120_000), "Newsletter #1") }
            }
            d.activities.sort { ($0["activityDate"]?.textValue ?? "") < ($1["activityDate"]?.textValue ?? "") }
        }
    }
}

public enum MarketoFields {
    public static let standard = ["id", "email", "firstName", "lastName", "title", "phone", "country", "company", "leadStatus", "leadSource", "leadScore", "createdAt", "updatedAt"]
}
