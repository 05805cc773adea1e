import Foundation
import Hummingbird
import SmarketingCore
import Synchronization

/// A HubSpot portal following `vendor-specs/hubspot/README.md`: Bearer tokens with scopes,
/// owners, CRM objects (contacts, companies, deals, emails, calls, meetings) with all property
/// values as strings, the list API's opaque `after`, the search API (GTE/sorts, at most 200 per
/// page and 10,000 results per search), v4 association batch reads, batch update (at most 100
/// inputs), contact properties, HubSpot's error bodies and its per-10-seconds rate limit.
public final class FakeHubSpot: Sendable {
    public struct Object: Sendable {
        public var id: String
        public var properties: [String: String]
        public var createdAt: Timestamp
        public var updatedAt: Timestamp
        public var archived = false
        /// Associated object type → ids.
        public var associations: [String: [String]] = [:]

        public init(id: String, properties: [String: String], createdAt: Timestamp, updatedAt: Timestamp) {
            self.id = id
            self.properties = properties
            self.createdAt = createdAt
            self.updatedAt = updatedAt
        }
    }

    public struct Owner: Sendable {
        public var id: String
        public var email: String
        public var firstName: String
        public var lastName: String
        public init(id: String, email: String, firstName: String, lastName: String) {
            self.id = id
            self.email = email
            self.firstName = firstName
            self.lastName = lastName
        }
    }

    struct Data {
        var objects: [String: [Object]] = [:]
        var index: [String: [String: Int]] = [:]
        var owners: [Owner] = []
        var contactProperties: Set<String> = []
        var tokens: [String: Set<String>] = [:]
        /// Every batch update input received: (contact id, properties).
        var updates: [(String, [String: String])] = []
        /// Contacts removed by a GDPR delete, in order.
        var gdprDeleted: [String] = []
        var nextID = 1000
    }

    /// Contact ids removed by a GDPR delete, in order.
    public var gdprDeleted: [String] { data.withLock { $0.gdprDeleted } }

    public static let allScopes: Set<String> = [
        "crm.objects.owners.read", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read",
        "crm.objects.deals.read", "crm.schemas.contacts.write",
    ]

    let data = Mutex(Data())
    public let traffic: FakeTraffic
    /// The most results one search reaches (HubSpot: 10,000).
    public let searchWindow: Int

    public init(limit: Int = 100, window: Duration = .seconds(10), searchWindow: Int = 10_000) {
        traffic = FakeTraffic(limit: limit, window: window)
        self.searchWindow = searchWindow
        data.withLock { $0.contactProperties = Set(["email", "firstname", "lastname", "jobtitle", "phone", "lifecyclestage", "hubspot_owner_id"]) }
    }

    // MARK: Setup

    public func grant(token: String, scopes: Set<String> = FakeHubSpot.allScopes) { data.withLock { $0.tokens[token] = scopes } }
    public func revoke(token: String) { _ = data.withLock { $0.tokens.removeValue(forKey: token) } }
    public func addOwner(_ o: Owner) { data.withLock { $0.owners.append(o) } }

    public func upsert(_ type: String, _ o: Object) {
        data.withLock { d in
            if let i = d.index[type]?[o.id] {
                d.objects[type]?[i] = o
            } else {
                d.index[type, default: [:]][o.id] = d.objects[type, default: []].count
                d.objects[type, default: []].append(o)
            }
        }
    }

    public func object(_ type: String, _ id: String) -> Object? {
        data.withLock { d in d.index[type]?[id].flatMap { d.objects[type]?[$0] } }
    }

    /// Changes properties of an object (its modification time moves to `at`).
    public func modify(_ type: String, _ id: String, at: Timestamp, _ change: [String: String]) {
        data.withLock { d in
            guard let i = d.index[type]?[id] else { return }
            for (k, v) in change { d.objects[type]?[i].properties[k] = v }
            d.objects[type]?[i].updatedAt = at
            d.objects[type]?[i].properties[type == "contacts" ? "lastmodifieddate" : "hs_lastmodifieddate"] = at.iso8601
        }
    }

    public func archive(_ type: String, _ id: String, at: Timestamp) {
        data.withLock { d in
            guard let i = d.index[type]?[id] else { return }
            d.objects[type]?[i].archived = true
            d.objects[type]?[i].updatedAt = at
        }
    }

    public func defineContactProperty(_ name: String) { _ = data.withLock { $0.contactProperties.insert(name) } }
    public var contactPropertyNames: Set<String> { data.withLock { $0.contactProperties } }
    /// Batch update inputs received (contact id, properties), in order.
    public var updates: [(String, [String: String])] { data.withLock { $0.updates } }

    // MARK: Answers

    static func error(_ status: Int, _ category: String, _ message: String) -> Response {
        Fake.json(
            status,
            .object([
                "status": .string("error"), "message": .string(message), "correlationId": .string(UUID().uuidString.lowercased()),
                "category": .string(category),
            ])
        )
    }

    static let rateLimited: @Sendable () -> Response = {
        Fake.json(
            429,
            .object([
                "status": .string("error"), "message": .string("You have reached your secondly limit."), "errorType": .string("RATE_LIMIT"),
                "correlationId": .string(UUID().uuidString.lowercased()), "policyName": .string("SECONDLY"),
            ]),
            headers: [("Retry-After", "1")]
        )
    }

    func authorize(_ request: Request, _ scope: String) -> Response? {
        guard let token = Fake.bearer(request) else { return Self.error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.") }
        guard let scopes = data.withLock({ $0.tokens[token] }) else {
            return Self.error(401, "INVALID_AUTHENTICATION", "The OAuth token used to make this call expired or is not valid.")
        }
        if !scopes.contains(scope) {
            return Self.error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call. Required: \(scope)")
        }
        return nil
    }

    func render(_ type: String, _ o: Object, properties: [String]?, associations: [String]) -> JSONValue {
        let names = properties ?? (type == "contacts" ? ["firstname", "lastname", "email"] : type == "companies" ? ["name", "domain"] : ["dealname", "amount", "closedate", "pipeline", "dealstage"])
        var props: [String: JSONValue] = ["hs_object_id": .string(o.id)]
        for n in names { props[n] = o.properties[n].map { .string($0) } ?? .null }
        var out: [String: JSONValue] = [
            "id": .string(o.id), "properties": .object(props), "createdAt": .string(o.createdAt.iso8601),
            "updatedAt": .string(o.updatedAt.iso8601), "archived": .bool(o.archived),
        ]
        if o.archived { out["archivedAt"] = .string(o.updatedAt.iso8601) }
        var assoc: [String: JSONValue] = [:]
        for a in associations {
            let ids = o.associations[a] ?? []
            if !ids.isEmpty {
                assoc[a] = .object(["results": .array(ids.map { .object(["id": .string($0), "type": .string("\(type.dropLast())_to_\(a.dropLast())")]) })])
            }
        }
        if !assoc.isEmpty { out["associations"] = .object(assoc) }
        return .object(out)
    }

    static func scope(_ type: String) -> String {
        switch type {
        case "companies": return "crm.objects.companies.read"
        case "deals": return "crm.objects.deals.read"
        default: return "crm.objects.contacts.read"
        }
    }

    public func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.get("/crm/v3/owners") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let refusal = self.authorize(request, "crm.objects.owners.read") { return refusal }
                let limit = min(max(Int(request.uri.queryParameters["limit"].map(String.init) ?? "") ?? 100, 1), 500)
                let start = Int(request.uri.queryParameters["after"].map(String.init) ?? "") ?? 0
                let owners = self.data.withLock { $0.owners }
                let slice = owners.dropFirst(start).prefix(limit)
                var out: [String: JSONValue] = [
                    "results": .array(slice.map { o in
                        .object([
                            "id": .string(o.id), "email": .string(o.email), "firstName": .string(o.firstName), "lastName": .string(o.lastName),
                            "userId": .number(Double(Int(o.id) ?? 0)), "archived": .bool(false), "teams": .array([]),
                        ])
                    })
                ]
                if start + limit < owners.count { out["paging"] = .object(["next": .object(["after": .string(String(start + limit))])]) }
                return Fake.json(200, .object(out))
            }
        }
        router.get("/crm/v3/objects/:type") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                let type = context.parameters.get("type") ?? ""
                if let refusal = self.authorize(request, Self.scope(type)) { return refusal }
                let q = request.uri.queryParameters
                let limit = Int(q["limit"].map(String.init) ?? "") ?? 10
                guard (1...100).contains(limit) else { return Self.error(400, "VALIDATION_ERROR", "limit must be between 1 and 100") }
                // The cursor is opaque to clients; here it is a base-36 offset.
                let start = q["after"].flatMap { Int(String($0), radix: 36) } ?? 0
                let archived = q["archived"].map(String.init) == "true"
                let properties = q["properties"].map { String($0).split(separator: ",").map(String.init) }
                let associations = q["associations"].map { String($0).split(separator: ",").map(String.init) } ?? []
                // Walks from the cursor's position (an index into all records) to the next `limit`
                // matching ones, so a page costs the same at the end of a million records.
                let (slice, nextIndex) = self.data.withLock { d -> ([Object], Int?) in
                    let all = d.objects[type] ?? []
                    var out: [Object] = []
                    var i = start
                    while i < all.count, out.count < limit {
                        if all[i].archived == archived { out.append(all[i]) }
                        i += 1
                    }
                    while i < all.count, all[i].archived != archived { i += 1 }
                    return (out, i < all.count ? i : nil)
                }
                var out: [String: JSONValue] = ["results": .array(slice.map { self.render(type, $0, properties: properties, associations: associations) })]
                if let nextIndex {
                    let after = String(nextIndex, radix: 36)
                    out["paging"] = .object(["next": .object(["after": .string(after), "link": .string("?after=" + after)])])
                }
                return Fake.json(200, .object(out))
            }
        }
        router.post("/crm/v3/objects/:type/search") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                let type = context.parameters.get("type") ?? ""
                if let refusal = self.authorize(request, Self.scope(type)) { return refusal }
                guard let body = try await Fake.bodyJSON(request) else { return Self.error(400, "VALIDATION_ERROR", "Invalid input JSON") }
                let limit = Int(body[key: "limit"]?.textValue ?? "10") ?? 10
                guard (1...200).contains(limit) else { return Self.error(400, "VALIDATION_ERROR", "limit must be between 1 and 200") }
                let after = Int(body[key: "after"]?.textValue ?? "0") ?? 0
                guard after + limit <= self.searchWindow else {
                    return Self.error(400, "VALIDATION_ERROR", "Requested offset exceeds the maximum of \(self.searchWindow) results")
                }
                var all = self.data.withLock { $0.objects[type] ?? [] }.filter { !$0.archived }
                for group in body[key: "filterGroups"]?.items ?? [] {
                    for f in group[key: "filters"]?.items ?? [] {
                        guard let name = f[key: "propertyName"]?.textValue, let op = f[key: "operator"]?.textValue,
                            let value = f[key: "value"]?.textValue
                        else { continue }
                        if op == "GTE", name.hasSuffix("lastmodifieddate"), let ms = Int64(value) {
                            all = all.filter { $0.updatedAt.milliseconds >= ms }
                        } else if op == "GT", name == "hs_object_id", let id = Int64(value) {
                            all = all.filter { (Int64($0.id) ?? 0) > id }
                        } else if op == "EQ" {
                            all = all.filter { $0.properties[name] == value }
                        }
                    }
                }
                // One sort, as HubSpot allows: by record id or by a modification date.
                if let sort = body[key: "sorts"]?.items.first, let name = sort[key: "propertyName"]?.textValue {
                    let ascending = sort[key: "direction"]?.textValue != "DESCENDING"
                    if name == "hs_object_id" {
                        all.sort { ((Int64($0.id) ?? 0) < (Int64($1.id) ?? 0)) == ascending }
                    } else {
                        all.sort { ($0.updatedAt < $1.updatedAt) == ascending }
                    }
                }
                let properties = body[key: "properties"]?.items.compactMap(\.textValue)
                let slice = all.dropFirst(after).prefix(limit)
                var out: [String: JSONValue] = [
                    "total": .number(Double(all.count)),
                    "results": .array(slice.map { self.render(type, $0, properties: properties, associations: []) }),
                ]
                if after + limit < all.count { out["paging"] = .object(["next": .object(["after": .string(String(after + limit))])]) }
                return Fake.json(200, .object(out))
            }
        }
        router.post("/crm/v4/associations/:from/:to/batch/read") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                let from = context.parameters.get("from") ?? ""
                let to = context.parameters.get("to") ?? ""
                if let refusal = self.authorize(request, Self.scope(from)) { return refusal }
                guard let body = try await Fake.bodyJSON(request) else { return Self.error(400, "VALIDATION_ERROR", "Invalid input JSON") }
                let ids = (body[key: "inputs"]?.items ?? []).compactMap { $0[key: "id"]?.textValue }
                let results: [JSONValue] = ids.compactMap { id in
                    guard let o = self.object(from, id) else { return nil }
                    return .object([
                        "from": .object(["id": .string(id)]),
                        "to": .array((o.associations[to] ?? []).map { .object(["toObjectId": .string($0), "associationTypes": .array([])]) }),
                    ])
                }
                return Fake.json(200, .object(["status": .string("COMPLETE"), "results": .array(results)]))
            }
        }
        // One route per shape: Hummingbird's trie does not fall back from a constant segment to a parameter.
        router.post("/crm/v3/objects/:type/batch/update") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard context.parameters.get("type") == "contacts" else { return Self.error(404, "OBJECT_NOT_FOUND", "not supported by this fake") }
                if let refusal = self.authorize(request, "crm.objects.contacts.write") { return refusal }
                guard let body = try await Fake.bodyJSON(request) else { return Self.error(400, "VALIDATION_ERROR", "Invalid input JSON") }
                let inputs = body[key: "inputs"]?.items ?? []
                guard (1...100).contains(inputs.count) else { return Self.error(400, "VALIDATION_ERROR", "inputs must hold 1 to 100 records") }
                var results: [JSONValue] = []
                var missing: [String] = []
                let known = self.contactPropertyNames
                for input in inputs {
                    guard let id = input[key: "id"]?.textValue, let props = input[key: "properties"]?.objectValue else { continue }
                    let unknown = props.keys.filter { !known.contains($0) }
                    if let u = unknown.first {
                        return Self.error(400, "VALIDATION_ERROR", "Property values were not valid: Property \"\(u)\" does not exist")
                    }
                    guard self.object("contacts", id) != nil else {
                        missing.append(id)
                        continue
                    }
                    let change = props.compactMapValues(\.textValue)
                    self.data.withLock { $0.updates.append((id, change)) }
                    self.modify("contacts", id, at: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)), change)
                    results.append(.object(["id": .string(id), "properties": .object(props)]))
                }
                var out: [String: JSONValue] = [
                    "status": .string("COMPLETE"), "results": .array(results), "startedAt": .string(Timestamp(milliseconds: 0).iso8601),
                    "completedAt": .string(Timestamp(milliseconds: 0).iso8601),
                ]
                if !missing.isEmpty {
                    out["errors"] = .array([
                        .object([
                            "status": .string("error"), "category": .string("OBJECT_NOT_FOUND"), "message": .string("Could not get some CONTACT objects"),
                            "context": .object(["ids": .array(missing.map { .string($0) })]),
                        ])
                    ])
                    return Fake.json(207, .object(out))
                }
                return Fake.json(200, .object(out))
            }
        }
        // GDPR delete (`PublicGdprDeleteInput`: objectId, optional idProperty): 204; the contact
        // is gone from every read.
        router.post("/crm/v3/objects/:type/gdpr-delete") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                guard context.parameters.get("type") == "contacts" else { return Self.error(404, "OBJECT_NOT_FOUND", "not supported by this fake") }
                if let refusal = self.authorize(request, "crm.objects.contacts.write") { return refusal }
                guard let body = try await Fake.bodyJSON(request), let id = body[key: "objectId"]?.textValue else {
                    return Self.error(400, "VALIDATION_ERROR", "objectId is required")
                }
                let removed = self.data.withLock { d -> Bool in
                    guard let i = d.index["contacts"]?[id] else { return false }
                    d.objects["contacts"]?.remove(at: i)
                    d.index["contacts"] = Dictionary(uniqueKeysWithValues: (d.objects["contacts"] ?? []).enumerated().map { ($1.id, $0) })
                    d.gdprDeleted.append(id)
                    return true
                }
                return removed ? Response(status: .noContent) : Self.error(404, "OBJECT_NOT_FOUND", "resource not found")
            }
        }
        router.get("/crm/v3/properties/contacts/:name") { request, context in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let refusal = self.authorize(request, "crm.objects.contacts.read") { return refusal }
                let name = context.parameters.get("name") ?? ""
                guard self.contactPropertyNames.contains(name) else { return Self.error(404, "OBJECT_NOT_FOUND", "Unable to find property \(name)") }
                return Fake.json(200, .object(["name": .string(name), "type": .string("string"), "fieldType": .string("text")]))
            }
        }
        router.post("/crm/v3/properties/contacts") { request, _ in
            try await Fake.guarded(self.traffic, request, rateLimited: Self.rateLimited) {
                if let refusal = self.authorize(request, "crm.schemas.contacts.write") { return refusal }
                guard let body = try await Fake.bodyJSON(request), let name = body[key: "name"]?.textValue else {
                    return Self.error(400, "VALIDATION_ERROR", "name is required")
                }
                if self.contactPropertyNames.contains(name) { return Self.error(409, "CONFLICT", "A property named '\(name)' already exists.") }
                self.defineContactProperty(name)
                return Fake.json(201, .object(["name": .string(name)]))
            }
        }
        return router
    }
}
