import Foundation
import Hummingbird
import SmarketingCore
import Synchronization

/// A Salesforce org following `vendor-specs/salesforce/README.md`: the OAuth token endpoint
/// (client credentials or refresh token → access token and this server as `instance_url`),
/// tokens that expire (`INVALID_SESSION_ID`), SOQL `query`/`queryAll` over a subset of SOQL
/// (field lists, one child subquery, `AND`ed `=`, `!=`, `>=` conditions, `ORDER BY`) paged
/// through `nextRecordsUrl`, `describe`, sObject Collections update (at most 200, aligned
/// results), JSON-array error bodies and `Sforce-Limit-Info`.
public final class FakeSalesforce: Sendable {
    struct Data {
        /// Object → records (field → value); every record has Id, IsDeleted, SystemModstamp.
        var records: [String: [[String: JSONValue]]] = [:]
        var index: [String: [String: Int]] = [:]
        var tokens: Set<String> = []
        var locators: [String: (object: String, ids: [String], fields: [String], child: (String, [String])?, offset: Int)] = [:]
        var updates: [(String, [String: JSONValue])] = []
        var updateable: Set<String> = []
        var apiUsed = 0
        var nextLocator = 1
    }

    let data = Mutex(Data())
    public let traffic: FakeTraffic
    public let clientID: String
    public let clientSecret: String
    /// Records per query batch (Salesforce: up to 2,000).
    public let batchSize: Int

    public init(clientID: String = "sf-client", clientSecret: String = "sf-secret", batchSize: Int = 2000, limit: Int = 1000, window: Duration = .seconds(1)) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.batchSize = batchSize
        traffic = FakeTraffic(limit: limit, window: window)
        let standard = [
            "FirstName", "LastName", "Email", "Title", "Phone", "OwnerId", "Status", "Smarketing_Stage__c", "Smarketing_Score__c",
            "Smarketing_Grade__c", "Smarketing_MQL_Date__c", "Smarketing_SLA_Status__c", "Smarketing_SLA_Breached__c",
            "Smarketing_Rejection_Reason__c",
        ]
        data.withLock { $0.updateable = Set(standard) }
    }

    // MARK: Setup

    public func insert(_ object: String, _ fields: [String: JSONValue]) {
        data.withLock { d in
            var r = fields
            if r["IsDeleted"] == nil { r["IsDeleted"] = .bool(false) }
            guard let id = r["Id"]?.textValue else { return }
            if let i = d.index[object]?[id] {
                d.records[object]?[i] = r
            } else {
                d.index[object, default: [:]][id] = d.records[object, default: []].count
                d.records[object, default: []].append(r)
            }
        }
    }

    public func record(_ object: String, _ id: String) -> [String: JSONValue]? {
        data.withLock { d in d.index[object]?[id].flatMap { d.records[object]?[$0] } }
    }

    public func update(_ object: String, _ id: String, at: Timestamp, _ change: [String: JSONValue]) {
        data.withLock { d in
            guard let i = d.index[object]?[id] else { return }
            for (k, v) in change { d.records[object]?[i][k] = v }
            d.records[object]?[i]["SystemModstamp"] = .string(Self.sfTime(at))
        }
    }

    /// Deletes a record (into the recycle bin); `master` makes it a merge loser.
    public func delete(_ object: String, _ id: String, at: Timestamp, mergedInto master: String? = nil) {
        update(object, id, at: at, ["IsDeleted": .bool(true), "MasterRecordId": master.map { .string($0) } ?? .null])
    }

    /// Every issued token stops working (as when a session times out).
    public func expireTokens() { data.withLock { $0.tokens.removeAll() } }
    public var updates: [(String, [String: JSONValue])] { data.withLock { $0.updates } }
    public func removeUpdateable(_ field: String) { _ = data.withLock { $0.updateable.remove(field) } }

    /// Salesforce writes `2026-01-01T10:00:00.000+0000`.
    public static func sfTime(_ t: Timestamp) -> String {
        let iso = t.iso8601
        let base = iso.hasSuffix("Z") ? String(iso.dropLast()) : iso
        let withMillis = base.contains(".") ? base : base + ".000"
        return withMillis + "+0000"
    }

    // MARK: Answers

    static func error(_ status: Int, _ code: String, _ message: String) -> Response {
        Fake.json(status, .array([.object(["message": .string(message), "errorCode": .string(code), "fields": .array([])])]))
    }

    static let rateLimited: @Sendable () -> Response = {
        error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    }

    func session(_ request: Request) -> Response? {
        guard let t = Fake.bearer(request), data.withLock({ $0.tokens.contains(t) }) else {
            return Self.error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        }
        return nil
    }

    func limitHeader() -> [(String, String)] {
        let used = data.withLock { d -> Int in
            d.apiUsed += 1
            return d.apiUsed
        }
        return [("Sforce-Limit-Info", "api-usage=\(used)/15000")]
    }

    struct Query {
        var object: String
        var fields: [String]
        var child: (relationship: String, fields: [String])?
        var conditions: [(String, String, String)]
        var order: [String]
        var limit: Int?
    }

    /// The SOQL subset the connector sends.
    static func parse(_ soql: String) -> Query? {
        var text = soql.trimmingCharacters(in: .whitespaces)
        var child: (String, [String])?
        if let open = text.range(of: "(SELECT "), let close = text.range(of: ")", range: open.upperBound..<text.endIndex) {
            let inner = String(text[open.upperBound..<close.lowerBound])
            if let from = inner.range(of: " FROM ") {
                child = (String(inner[from.upperBound...]).trimmingCharacters(in: .whitespaces), inner[..<from.lowerBound].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            }
            text.replaceSubrange(open.lowerBound..<close.upperBound, with: "__CHILD__")
        }
        guard text.hasPrefix("SELECT "), let from = text.range(of: " FROM ") else { return nil }
        let fields = text[text.index(text.startIndex, offsetBy: 7)..<from.lowerBound].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0 != "__CHILD__" }
        var rest = String(text[from.upperBound...])
        var limit: Int?
        if let l = rest.range(of: " LIMIT ") {
            limit = Int(rest[l.upperBound...].trimmingCharacters(in: .whitespaces))
            rest = String(rest[..<l.lowerBound])
        }
        var order: [String] = []
        if let o = rest.range(of: " ORDER BY ") {
            order = rest[o.upperBound...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            rest = String(rest[..<o.lowerBound])
        }
        var conditions: [(String, String, String)] = []
        var object = rest
        if let w = rest.range(of: " WHERE ") {
            object = String(rest[..<w.lowerBound])
            for c in rest[w.upperBound...].components(separatedBy: " AND ") {
                let parts = c.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 2).map(String.init)
                guard parts.count == 3 else { return nil }
                conditions.append((parts[0], parts[1], parts[2]))
            }
        }
        return Query(object: object.trimmingCharacters(in: .whitespaces), fields: fields, child: child, conditions: conditions, order: order, limit: limit)
    }

    static func matches(_ r: [String: JSONValue], _ c: (String, String, String)) -> Bool {
        let (field, op, value) = c
        let v = r[field] ?? .null
        switch op {
        case "=":
            if value == "true" || value == "false" { return (v == .bool(value == "true")) || (v == .null && value == "false") }
            if value == "null" { return v == .null }
            return v.textValue == value.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        case "!=":
            if value == "null" { return v != .null }
            return v.textValue != value.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        case ">=":
            guard let a = v.textValue.flatMap(time), let b = time(value) else { return false }
            return a >= b
        default: return false
        }
    }

    static func time(_ s: String) -> Int64? {
        var t = s
        if t.count > 5, t.hasSuffix("+0000") { t = String(t.dropLast(5)) + "Z" }
        return Timestamp.parse(dateOrInstant: t)?.milliseconds
    }

    func page(_ locator: String) -> JSONValue? {
        data.withLock { d -> JSONValue? in
            guard let l = d.locators[locator] else { return nil }
            let ids = l.ids.dropFirst(l.offset).prefix(batchSize)
            var records: [JSONValue] = []
            for id in ids {
                guard let i = d.index[l.object]?[id], let r = d.records[l.object]?[i] else { continue }
                var out: [String: JSONValue] = [
                    "attributes": .object(["type": .string(l.object), "url": .string("/services/data/v62.0/sobjects/\(l.object)/\(id)")])
                ]
                for f in l.fields { out[f] = r[f] ?? .null }
                if let (rel, fields) = l.child {
                    let childObject = rel == "OpportunityContactRoles" ? "OpportunityContactRole" : rel
                    let children = (d.records[childObject] ?? []).filter { $0["OpportunityId"]?.textValue == id && $0["IsDeleted"] != .bool(true) }
                    out[rel] = children.isEmpty
                        ? .null
                        : .object([
                            "totalSize": .number(Double(children.count)), "done": .bool(true),
                            "records": .array(children.map { c in .object(Dictionary(uniqueKeysWithValues: fields.map { ($0, c[$0] ?? .null) })) }),
                        ])
                }
                records.append(.object(out))
            }
            let offset = l.offset + ids.count
            var result: [String: JSONValue] = ["totalSize": .number(Double(l.ids.count)), "done": .bool(offset >= l.ids.count), "records": .array(records)]
            if offset < l.ids.count {
                let next = "01gFAKE\(d.nextLocator)-\(offset)"
                d.nextLocator += 1
                d.locators[next] = (l.object, l.ids, l.fields, l.child, offset)
                result["nextRecordsUrl"] = .string("/services/data/v62.0/query/" + next)
            }
            d.locators[locator] = nil
            return .object(result)
        }
    }

    func run(_ soql: String, all: Bool) -> Response {
        guard let q = Self.parse(soql) else { return Self.error(400, "MALFORMED_QUERY", "unexpected token in: \(soql.prefix(80))") }
        let locator = data.withLock { d -> String? in
            guard var rows = d.records[q.object] else {
                if ["User", "Account", "Lead", "Contact", "Opportunity", "Campaign", "CampaignMember", "Task", "Event"].contains(q.object) {
                    d.records[q.object] = []
                    d.index[q.object] = [:]
                    let l = "01gFAKE\(d.nextLocator)-0"
                    d.nextLocator += 1
                    d.locators[l] = (q.object, [], q.fields, q.child, 0)
                    return l
                }
                return nil
            }
            if !all { rows = rows.filter { $0["IsDeleted"] != .bool(true) } }
            for c in q.conditions { rows = rows.filter { Self.matches($0, c) } }
            if q.order.first == "SystemModstamp" {
                rows.sort { (Self.time($0["SystemModstamp"]?.textValue ?? "") ?? 0, $0["Id"]?.textValue ?? "") < (Self.time($1["SystemModstamp"]?.textValue ?? "") ?? 0, $1["Id"]?.textValue ?? "") }
            }
            if let limit = q.limit { rows = Array(rows.prefix(limit)) }
            let l = "01gFAKE\(d.nextLocator)-0"
            d.nextLocator += 1
            d.locators[l] = (q.object, rows.compactMap { $0["Id"]?.textValue }, q.fields, q.child, 0)
            return l
        }
        guard let locator else { return Self.error(400, "INVALID_TYPE", "sObject type '\(q.object)' is not supported.") }
        guard let page = page(locator) else { return Self.error(404, "NOT_FOUND", "The requested resource does not exist") }
        return Fake.json(200, page, headers: limitHeader())
    }

    public func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.post("/services/oauth2/token") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                let form = Fake.form(try await Fake.body(request))
                guard form["client_id"] == self.clientID, form["client_secret"] == self.clientSecret else {
                    return Fake.json(400, .object(["error": .string("invalid_client"), "error_description": .string("invalid client credentials")]))
                }
                guard ["client_credentials", "refresh_token"].contains(form["grant_type"] ?? "") else {
                    return Fake.json(400, .object(["error": .string("unsupported_grant_type"), "error_description": .string("grant type not supported")]))
                }
                let token = "00DFAKE!" + UUID().uuidString
                self.data.withLock { _ = $0.tokens.insert(token) }
                let host = request.head.authority ?? "127.0.0.1"
                return Fake.json(
                    200,
                    .object([
                        "access_token": .string(token), "instance_url": .string("http://" + host), "id": .string("http://\(host)/id/00D/005"),
                        "token_type": .string("Bearer"), "issued_at": .string("1767225600000"), "signature": .string("fake"),
                    ])
                )
            }
        }
        for endpoint in ["query", "queryAll"] {
            router.get("/services/data/v62.0/\(endpoint)") { request, _ in
                try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                    if let refusal = self.session(request) { return refusal }
                    guard let q = request.uri.queryParameters["q"] else { return Self.error(400, "MALFORMED_QUERY", "q is required") }
                    return self.run(String(q).removingPercentEncoding ?? String(q), all: endpoint == "queryAll")
                }
            }
        }
        router.get("/services/data/v62.0/query/:locator") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let refusal = self.session(request) { return refusal }
                guard let page = self.page(context.parameters.get("locator") ?? "") else {
                    return Self.error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
                }
                return Fake.json(200, page, headers: self.limitHeader())
            }
        }
        router.get("/services/data/v62.0/sobjects/:type/describe") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let refusal = self.session(request) { return refusal }
                let type = context.parameters.get("type") ?? ""
                let updateable = self.data.withLock { $0.updateable }
                let fields: [JSONValue] = updateable.sorted().map { .object(["name": .string($0), "updateable": .bool(true), "type": .string("string")]) }
                return Fake.json(200, .object(["name": .string(type), "fields": .array(fields + [.object(["name": .string("Id"), "updateable": .bool(false)])])]))
            }
        }
        router.patch("/services/data/v62.0/composite/sobjects") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let refusal = self.session(request) { return refusal }
                guard let body = try await Fake.bodyJSON(request) else { return Self.error(400, "JSON_PARSER_ERROR", "malformed JSON") }
                let records = body[key: "records"]?.items ?? []
                guard records.count <= 200 else { return Self.error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records") }
                let updateable = self.data.withLock { $0.updateable }
                var results: [JSONValue] = []
                for r in records {
                    guard var fields = r.objectValue, let id = fields["Id"]?.textValue, let type = r[key: "attributes"]?[key: "type"]?.textValue else {
                        results.append(.object(["success": .bool(false), "errors": .array([.object(["statusCode": .string("MISSING_ARGUMENT"), "message": .string("Id not specified")])])]))
                        continue
                    }
                    fields["attributes"] = nil
                    fields["Id"] = nil
                    if let bad = fields.keys.first(where: { !updateable.contains($0) }) {
                        results.append(
                            .object([
                                "id": .string(id), "success": .bool(false),
                                "errors": .array([.object(["statusCode": .string("INVALID_FIELD"), "message": .string("No such column '\(bad)' on sobject of type \(type)"), "fields": .array([.string(bad)])])]),
                            ])
                        )
                        continue
                    }
                    guard self.record(type, id) != nil else {
                        results.append(.object(["id": .string(id), "success": .bool(false), "errors": .array([.object(["statusCode": .string("ENTITY_IS_DELETED"), "message": .string("entity is deleted")])])]))
                        continue
                    }
                    self.update(type, id, at: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)), fields)
                    self.data.withLock { $0.updates.append((id, fields)) }
                    results.append(.object(["id": .string(id), "success": .bool(true), "errors": .array([])]))
                }
                return Fake.json(200, .array(results), headers: self.limitHeader())
            }
        }
        return router
    }
}
