import Foundation
import NIOHTTP1
import SmarketingCore
import SmarketingStore

/// Pipedrive API v2 (`vendor-specs/pipedrive/pipedrive-openapi-v2.yaml`): users (v1), stages,
/// organizations, persons, deals and done activities, paged with `cursor`/`next_cursor` (500 per
/// page) and read incrementally with `updated_since`; the `x-api-token` header. Deal outcome is
/// Pipedrive's `status` (won/lost), the stage is mapped by its name. Write-back goes to custom
/// person fields found by name (their `field_code` is a hash per account), one PATCH per person
/// (v2 has no batch update).
struct PipedriveConnector: VendorConnector, PacedConnector {
    let config: ConnectionConfig
    let http: VendorHTTP
    let base: String
    /// Stage id → name, read once per connector.
    let stages = Locked<[String: String]?>(nil)
    /// Person field name → field code, read once per connector.
    let fieldCodes = Locked<[String: String]?>(nil)

    init(config: ConnectionConfig, http: VendorHTTP) {
        self.config = config
        self.http = http
        let domain = config.secrets["company_domain"].map { "https://\($0).pipedrive.com" } ?? "https://api.pipedrive.com"
        base = config.base(domain)
    }

    var objects: [SyncObject] { [.owners, .companies, .people, .deals, .activities] }
    var pushBatchSize: Int { 1 }
    func shutdown() async { await http.shutdown() }

    func get(_ path: String, what: String) async throws -> JSONValue { try await send(.GET, path, body: nil, what: what) }

    func send(_ method: HTTPMethod, _ path: String, body: JSONValue?, what: String) async throws -> JSONValue {
        var headers = [("x-api-token", config.secrets["api_token"] ?? ""), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let r = try await http.send(method, base + path, headers: headers, body: body.map(jsonBytes), what: "Pipedrive \(what)")
        let json = try? r.json("Pipedrive \(what)")
        if (200..<300).contains(r.status), let json {
            guard json["success"]?.bool != false else {
                throw VendorError(.refused, "Pipedrive refused \(what): \(json["error"]?.text ?? "success: false")")
            }
            return json
        }
        let message = json?["error"]?.text ?? String(decoding: r.body.prefix(200), as: UTF8.self)
        switch r.status {
        case 401: throw VendorError(.auth, "Pipedrive refused the API token for \(what) (HTTP 401): \(message)")
        case 403: throw VendorError(.permission, "the Pipedrive token may not read \(what) (HTTP 403): \(message)")
        case 200..<300: throw VendorError(.malformed, "Pipedrive answered \(what) with a body that is not JSON")
        default: throw VendorError(.refused, "Pipedrive refused \(what) (HTTP \(r.status)): \(message)")
        }
    }

    func check() async -> ConnectionCheck {
        var checked: [String] = []
        for (path, what) in [("/v1/users/me", "the token's user"), ("/api/v2/persons?limit=1", "persons"), ("/api/v2/deals?limit=1", "deals"), ("/api/v2/organizations?limit=1", "organizations"), ("/api/v2/activities?limit=1", "activities")] {
            do {
                _ = try await get(path, what: what)
                checked.append("read \(what): ok")
            } catch {
                return ConnectionCheck(ok: false, message: "\(error)", checked: checked + ["read \(what): \(error)"])
            }
        }
        return ConnectionCheck(
            ok: true,
            message: "Pipedrive works: persons, organizations, deals and activities can be read",
            checked: checked
        )
    }

    func stageNames() async throws -> [String: String] {
        if let s = stages.get() { return s }
        var out: [String: String] = [:]
        var cursor: String?
        repeat {
            let json = try await get("/api/v2/stages?limit=500" + (cursor.map { "&cursor=" + $0.queryEncoded } ?? ""), what: "stages")
            for s in json["data"]?.array ?? [] { if let id = s["id"]?.text, let name = s["name"]?.text { out[id] = name } }
            cursor = json["additional_data"]?["next_cursor"]?.text
        } while cursor != nil
        stages.set(out)
        return out
    }

    func page(_ object: SyncObject, cursor: String?, since: String?) async throws -> SyncPage {
        if object == .owners {
            // v1 users: one page holds them all.
            let json = try await get("/v1/users", what: "users")
            let items: [SyncItem] = (json["data"]?.array ?? []).map { u in
                guard let id = u["id"]?.text else { return .unreadable(externalID: "?", reason: "a user without id") }
                return .owner(SyncedOwner(externalID: id, email: u["email"]?.text, name: u["name"]?.text))
            }
            return SyncPage(object: object, items: items, nextCursor: nil, watermark: nil)
        }
        let path: String
        switch object {
        case .companies: path = "/api/v2/organizations"
        case .people: path = "/api/v2/persons"
        case .deals: path = "/api/v2/deals"
        case .activities: path = "/api/v2/activities"
        default: return SyncPage(object: object, items: [], nextCursor: nil, watermark: nil)
        }
        var query = "?limit=500&sort_by=id&sort_direction=asc"
        if let since, let t = Timestamp.parse(dateOrInstant: since) { query += "&updated_since=" + t.iso8601.queryEncoded }
        if let cursor { query += "&cursor=" + cursor.queryEncoded }
        if object == .activities { query += "&done=true" }
        let json = try await get(path + query, what: object.rawValue)
        let names = object == .deals ? try await stageNames() : [:]
        let extras = config.safeExtraFields
        let items = (json["data"]?.array ?? []).map { r -> SyncItem in
            var item = Self.item(object, r, stages: names)
            if case .person(var p) = item, !extras.isEmpty {
                // Standard fields at the top, custom fields by their hash under custom_fields.
                for f in extras { if let v = (r[f] ?? r["custom_fields"]?[f])?.text, !v.isEmpty { p.extra[f] = v } }
                item = .person(p)
            }
            return item
        }
        return SyncPage(object: object, items: items, nextCursor: json["additional_data"]?["next_cursor"]?.text, watermark: nil)
    }

    /// v2 writes times as RFC 3339; v1 as `YYYY-MM-DD HH:MM:SS` in UTC.
    static func time(_ v: JSONValue?) -> Timestamp? {
        guard let s = v?.text, !s.isEmpty else { return nil }
        if s.count == 19, s.dropFirst(10).first == " " { return Timestamp.parse(dateOrInstant: s.replacingOccurrences(of: " ", with: "T") + "Z") }
        return v?.timestamp
    }

    static func item(_ object: SyncObject, _ r: JSONValue, stages: [String: String]) -> SyncItem {
        guard let id = r["id"]?.text else { return .unreadable(externalID: "?", reason: "a \(object.rawValue) record without id") }
        func s(_ k: String) -> String? { r[k]?.text.flatMap { $0.isEmpty ? nil : $0 } }
        switch object {
        case .companies:
            var c = SyncedCompany(externalID: id)
            c.name = s("name")
            c.domain = s("website")
            c.industry = s("industry")
            c.employees = r["employee_count"]?.double
            c.annualRevenue = r["annual_revenue"]?.double
            c.ownerID = s("owner_id")
            c.createdAt = time(r["add_time"])
            c.deleted = r["is_deleted"]?.bool ?? false
            return .company(c)
        case .people:
            var p = SyncedPerson(externalID: id, object: "persons")
            let emails = r["emails"]?.array ?? []
            p.email = (emails.first { $0["primary"]?.bool == true } ?? emails.first)?["value"]?.text
            let phones = r["phones"]?.array ?? []
            p.phone = (phones.first { $0["primary"]?.bool == true } ?? phones.first)?["value"]?.text
            p.firstName = s("first_name")
            p.lastName = s("last_name") ?? (p.firstName == nil ? s("name") : nil)
            p.title = s("job_title")
            p.companyID = s("org_id")
            p.ownerID = s("owner_id")
            p.createdAt = time(r["add_time"])
            p.deleted = r["is_deleted"]?.bool ?? false
            return .person(p)
        case .deals:
            var d = SyncedDeal(externalID: id)
            d.name = s("title")
            d.amount = r["value"]?.double
            d.pipeline = s("pipeline_id")
            d.stage = s("stage_id").flatMap { stages[$0] ?? $0 }
            switch s("status") {
            case "won": d.won = true
            case "lost": d.won = false
            case "deleted": d.deleted = true
            default: d.closed = false
            }
            d.lostReason = s("lost_reason")
            d.ownerID = s("owner_id")
            d.companyID = s("org_id")
            if let person = s("person_id") { d.contacts = [SyncedRole(personID: person, role: nil)] }
            d.createdAt = time(r["add_time"])
            d.closedAt = time(r["won_time"]) ?? time(r["lost_time"]) ?? time(r["close_time"])
            d.closeDate = r["expected_close_date"]?.date
            if r["is_deleted"]?.bool == true { d.deleted = true }
            return .deal(d)
        case .activities:
            guard let person = s("person_id") else { return .unreadable(externalID: id, reason: "an activity without a person") }
            guard let at = time(r["marked_as_done_time"]) ?? r["due_date"]?.date?.startUTC ?? time(r["add_time"]) else {
                return .unreadable(externalID: id, reason: "an activity without a date")
            }
            var a = SyncedActivity(externalID: id, personID: person, occurredAt: at, kind: s("type") ?? "task")
            a.ownerID = s("owner_id")
            if let subject = s("subject") { a.details["subject"] = subject }
            return .activity(a)
        default:
            return .unreadable(externalID: id, reason: "not read from Pipedrive")
        }
    }

    /// Person field name → code (custom fields are keyed by a hash per account).
    func personFields() async throws -> [String: String] {
        if let f = fieldCodes.get() { return f }
        var out: [String: String] = [:]
        var cursor: String?
        repeat {
            let json = try await get("/api/v2/personFields?limit=500" + (cursor.map { "&cursor=" + $0.queryEncoded } ?? ""), what: "person fields")
            for f in json["data"]?.array ?? [] { if let name = f["field_name"]?.text, let code = f["field_code"]?.text { out[name] = code } }
            cursor = json["additional_data"]?["next_cursor"]?.text
        } while cursor != nil
        fieldCodes.set(out)
        return out
    }

    func push(_ changes: [WritebackChange], mapping: SyncMapping) async throws -> [WritebackResult] {
        guard let id = changes.first?.externalID else { return [] }
        let codes: [String: String]
        do {
            codes = try await personFields()
        } catch let e as VendorError {
            return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: e.kind != .refused, error: e.message) }
        }
        var custom: [String: JSONValue] = [:]
        var body: [String: JSONValue] = [:]
        var missing: [String] = []
        for c in changes {
            guard let name = mapping.writeback[c.field] else { continue }
            if name == "owner_id" {
                body["owner_id"] = c.value.flatMap { Int64($0) }.map { .number(Double($0)) } ?? .null
            } else if let code = codes[name] {
                custom[code] = c.field == "score" ? (c.value.flatMap(Double.init).map { .number($0) } ?? .null) : (c.value.map { .string($0) } ?? .null)
            } else {
                missing.append(name)
            }
        }
        if !missing.isEmpty {
            let why = "the Pipedrive person fields \(missing.map { "\"\($0)\"" }.joined(separator: ", ")) do not exist; run `smarketing connect setup-fields \(config.name)`"
            return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: false, error: why) }
        }
        if !custom.isEmpty { body["custom_fields"] = .object(custom) }
        do {
            _ = try await send(.PATCH, "/api/v2/persons/\(id.queryEncoded)", body: .object(body), what: "update person \(id)")
            return changes.map { WritebackResult(seq: $0.seq, delivered: true, retry: false, error: nil) }
        } catch let e as VendorError {
            return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: e.kind != .refused, error: e.message) }
        }
    }

    /// Pipedrive deletes a person (DELETE /api/v2/persons/{id}); it is kept in Pipedrive's trash
    /// for 30 days before it is gone for good.
    func erase(object: String, externalID: String) async -> VendorErasure {
        func result(_ o: VendorErasure.Outcome, _ m: String) -> VendorErasure {
            VendorErasure(connection: config.name, object: object, externalID: externalID, outcome: o, message: m)
        }
        guard object == "persons" else { return result(.manual, "delete this Pipedrive \(object) record in Pipedrive") }
        do {
            _ = try await send(.DELETE, "/api/v2/persons/\(externalID.queryEncoded)", body: nil, what: "delete person \(externalID)")
            return result(.erased, "Pipedrive deleted person \(externalID) (permanently after 30 days in its trash)")
        } catch let e as VendorError {
            if e.message.contains("HTTP 404") || e.message.localizedCaseInsensitiveContains("not found") { return result(.notFound, "Pipedrive has no person \(externalID)") }
            return result(.failed, e.message)
        } catch {
            return result(.failed, "Pipedrive delete failed: \(error)")
        }
    }

    func setupFields(mapping: SyncMapping) async throws -> [String] {
        let existing = try await personFields()
        var out: [String] = []
        for (field, name) in mapping.writeback.sorted(by: { $0.key < $1.key }) where name != "owner_id" {
            if existing[name] != nil {
                out.append("person field \"\(name)\" exists")
                continue
            }
            let type = field == "score" ? "double" : field == "mql_date" ? "date" : "varchar"
            let json = try await send(.POST, "/api/v2/personFields", body: .object(["field_name": .string(name), "field_type": .string(type)]), what: "create person field \(name)")
            out.append("created person field \"\(name)\" (\(json["data"]?["field_code"]?.text ?? "?"))")
        }
        fieldCodes.set(nil)
        return out
    }
}
