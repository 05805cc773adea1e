import Foundation
import NIOHTTP1
import SmarketingCore
import SmarketingStore

/// HubSpot CRM v3 (`../shared/data/vendor-specs/hubspot/`): owners, companies, contacts, deals
/// and engagements (emails, calls, meetings) read with the list API's `after` cursor on a full
/// sync and the search API on an incremental one (restarted from the last modification time
/// before its 10,000-result window ends); write-back through `batch/update`.
struct HubSpotConnector: VendorConnector, PacedConnector {
    let config: ConnectionConfig
    let http: VendorHTTP
    let token: Locked<String>
    let base: String

    init(config: ConnectionConfig, http: VendorHTTP) {
        self.config = config
        self.http = http
        token = Locked(config.secrets["access_token"] ?? "")
        base = config.base("https://api.hubapi.com")
    }

    var objects: [SyncObject] { [.owners, .companies, .people, .deals, .activities] }
    var pushBatchSize: Int { 100 }
    func shutdown() async { await http.shutdown() }

    static let contactProperties = [
        "email", "firstname", "lastname", "jobtitle", "phone", "country", "lifecyclestage", "hubspot_owner_id", "createdate",
        "lastmodifieddate", "associatedcompanyid", "hs_merged_object_ids", "hs_analytics_source",
    ] + ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"].map { "hs_lifecyclestage_\($0)_date" }
    static let companyProperties = [
        "name", "domain", "industry", "numberofemployees", "annualrevenue", "country", "hubspot_owner_id", "createdate",
        "hs_lastmodifieddate",
    ]
    static let dealProperties = [
        "dealname", "amount", "pipeline", "dealstage", "hubspot_owner_id", "createdate", "closedate", "hs_lastmodifieddate",
        "closed_lost_reason", "hs_is_closed_won", "hs_is_closed",
    ]
    static let engagementTypes = ["emails", "calls", "meetings"]
    static let engagementProperties = ["hs_timestamp", "hs_email_subject", "hs_call_title", "hs_meeting_title", "hubspot_owner_id", "hs_lastmodifieddate"]

    // MARK: Requests

    func call(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil, what: String) async throws -> VendorResponse {
        var refreshed = false
        while true {
            var headers = [("Authorization", "Bearer " + token.get()), ("Accept", "application/json")]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let r = try await http.send(method, base + path, headers: headers, body: body.map(jsonBytes), what: "HubSpot \(what)")
            if r.status == 401, !refreshed, try await refresh() {
                refreshed = true
                continue
            }
            return r
        }
    }

    /// Exchanges the refresh token for a new access token (OAuth apps); false when not set up.
    func refresh() async throws -> Bool {
        guard let rt = config.secrets["refresh_token"], let id = config.secrets["client_id"], let secret = config.secrets["client_secret"] else { return false }
        let form = "grant_type=refresh_token&client_id=\(id.queryEncoded)&client_secret=\(secret.queryEncoded)&refresh_token=\(rt.queryEncoded)"
        let r = try await http.send(
            .POST,
            base + "/oauth/v1/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(form.utf8),
            what: "HubSpot token refresh"
        )
        guard r.status == 200, let t = try r.json("HubSpot token refresh")["access_token"]?.text else { return false }
        token.set(t)
        return true
    }

    /// The JSON of a 2xx answer; 401/403 and other refusals as one sentence.
    func ok(_ r: VendorResponse, _ what: String) throws -> JSONValue {
        if (200..<300).contains(r.status) { return try r.json("HubSpot \(what)") }
        let body = try? r.json("HubSpot \(what)")
        let message = body?["message"]?.text ?? String(decoding: r.body.prefix(200), as: UTF8.self)
        switch r.status {
        case 401: throw VendorError(.auth, "HubSpot refused the access token for \(what) (HTTP 401): \(message)")
        case 403:
            throw VendorError(.permission, "the HubSpot token lacks a scope for \(what) (HTTP 403\(body?["category"]?.text.map { ", " + $0 } ?? "")): \(message)")
        default: throw VendorError(.refused, "HubSpot refused \(what) (HTTP \(r.status)): \(message)")
        }
    }

    // MARK: Check

    func check() async -> ConnectionCheck {
        var checked: [String] = []
        let reads: [(String, String, String)] = [
            ("/crm/v3/owners?limit=1", "owners", "crm.objects.owners.read"),
            ("/crm/v3/objects/contacts?limit=1", "contacts", "crm.objects.contacts.read"),
            ("/crm/v3/objects/companies?limit=1", "companies", "crm.objects.companies.read"),
            ("/crm/v3/objects/deals?limit=1", "deals", "crm.objects.deals.read"),
        ]
        for (path, what, scope) in reads {
            do {
                _ = try ok(try await call(.GET, path, what: what), what)
                checked.append("read \(what): ok")
            } catch let e as VendorError {
                let missing = e.kind == .permission ? "the token lacks the scope \(scope) (reading \(what)); add it to the private app" : e.message
                return ConnectionCheck(ok: false, message: missing, checked: checked + ["read \(what): \(e.message)"])
            } catch {
                return ConnectionCheck(ok: false, message: "HubSpot could not be checked: \(error)", checked: checked)
            }
        }
        // The write-back needs its custom properties (and crm.objects.contacts.write).
        let mapping = SyncMapping.defaults(.hubspot)
        var missing: [String] = []
        for name in mapping.writeback.values.sorted() where name.hasPrefix("smarketing_") {
            if let r = try? await call(.GET, "/crm/v3/properties/contacts/\(name)", what: "property \(name)"), r.status == 404 { missing.append(name) }
        }
        if !missing.isEmpty {
            checked.append("write-back properties missing: " + missing.joined(separator: ", "))
            return ConnectionCheck(
                ok: true,
                message: "reading works; the write-back needs the contact properties \(missing.joined(separator: ", ")) — run `smarketing connect setup-fields \(config.name)`",
                checked: checked
            )
        }
        checked.append("write-back properties: present")
        return ConnectionCheck(ok: true, message: "HubSpot works: owners, contacts, companies and deals can be read; the write-back properties exist", checked: checked)
    }

    // MARK: Pages

    func page(_ object: SyncObject, cursor: String?, since: String?) async throws -> SyncPage {
        switch object {
        case .owners:
            let after = cursor.map { "&after=" + $0.queryEncoded } ?? ""
            let json = try ok(try await call(.GET, "/crm/v3/owners?limit=100" + after, what: "owners"), "owners")
            let items: [SyncItem] = json["results"]?.array.map { o in
                guard let id = o["id"]?.text else { return .unreadable(externalID: "?", reason: "an owner without id") }
                let name = [o["firstName"]?.text, o["lastName"]?.text].compactMap { $0 }.joined(separator: " ")
                return .owner(SyncedOwner(externalID: id, email: o["email"]?.text, name: name.isEmpty ? nil : name))
            } ?? []
            return SyncPage(object: object, items: items, nextCursor: json["paging"]?["next"]?["after"]?.text, watermark: nil)
        case .companies:
            return try await crmPage(object, type: "companies", properties: Self.companyProperties, associations: [], modified: "hs_lastmodifieddate", cursor: cursor, since: since)
        case .people:
            let properties = Self.contactProperties + config.safeExtraFields.filter { !Self.contactProperties.contains($0) }
            return try await crmPage(object, type: "contacts", properties: properties, associations: ["companies"], modified: "lastmodifieddate", cursor: cursor, since: since)
        case .deals:
            return try await crmPage(object, type: "deals", properties: Self.dealProperties, associations: ["contacts", "companies"], modified: "hs_lastmodifieddate", cursor: cursor, since: since)
        case .activities:
            // The cursor names the engagement type it is in: `emails|<inner>`.
            var type = Self.engagementTypes[0]
            var inner: String?
            if let cursor, let bar = cursor.firstIndex(of: "|") {
                type = String(cursor[..<bar])
                let rest = String(cursor[cursor.index(after: bar)...])
                inner = rest.isEmpty ? nil : rest
            }
            guard let index = Self.engagementTypes.firstIndex(of: type) else { throw VendorError(.malformed, "a stored HubSpot cursor names no engagement type") }
            var page = try await crmPage(object, type: type, properties: Self.engagementProperties, associations: ["contacts"], modified: "hs_lastmodifieddate", cursor: inner, since: since)
            if let next = page.nextCursor {
                page.nextCursor = type + "|" + next
            } else if index + 1 < Self.engagementTypes.count {
                page.nextCursor = Self.engagementTypes[index + 1] + "|"
            }
            return page
        case .campaigns, .memberships:
            return SyncPage(object: object, items: [], nextCursor: nil, watermark: nil)
        }
    }

    /// One page of a CRM object: the list API (full), or the search API from `since`. Cursors:
    /// `L<after>` list, `A<after>` archived list (deletions), `S<since ms>:<after>` search.
    func crmPage(
        _ object: SyncObject,
        type: String,
        properties: [String],
        associations: [String],
        modified: String,
        cursor: String?,
        since: String?
    ) async throws -> SyncPage {
        let mode = cursor?.first ?? (since == nil ? "L" : "S")
        let rest = cursor.map { String($0.dropFirst()) } ?? ""
        switch mode {
        case "L", "A":
            let archived = mode == "A"
            var path = "/crm/v3/objects/\(type)?limit=100&archived=\(archived)&properties=" + properties.joined(separator: ",").queryEncoded
            if !associations.isEmpty, !archived { path += "&associations=" + associations.joined(separator: ",") }
            if !rest.isEmpty { path += "&after=" + rest.queryEncoded }
            let json = try ok(try await call(.GET, path, what: type), type)
            let results = json["results"]?.array ?? []
            let next = json["paging"]?["next"]?["after"]?.text
            var page: SyncPage
            if archived {
                page = SyncPage(object: object, items: [], nextCursor: next.map { "A" + $0 }, watermark: nil)
                page.deletedIDs = results.compactMap { $0["id"]?.text }
            } else {
                let items = try await records(results, type: type, object: object, associationsIncluded: true)
                // After the live records, the archived ones tell what was deleted (not for engagements).
                let after = next.map { "L" + $0 } ?? (object == .activities ? nil : "A")
                page = SyncPage(object: object, items: items, nextCursor: after, watermark: nil)
            }
            return page
        default:
            // Search: `S<since ms>:<last id>:<after>`, sorted by record id. A search reaches
            // `search_window` (10,000) results at most, so before its end a new search starts
            // after the last id read; ids only grow, so nothing is read twice or skipped.
            var sinceMS: Int64 = 0
            var lastID = ""
            var after = ""
            if cursor == nil {
                sinceMS = since.flatMap { Timestamp.parse(dateOrInstant: $0)?.milliseconds } ?? 0
            } else {
                let parts = rest.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 3, let ms = Int64(parts[0]) else { throw VendorError(.malformed, "a stored HubSpot search cursor is damaged") }
                (sinceMS, lastID, after) = (ms, parts[1], parts[2])
            }
            var filters: [JSONValue] = [.object(["propertyName": .string(modified), "operator": .string("GTE"), "value": .string(String(sinceMS))])]
            if !lastID.isEmpty { filters.append(.object(["propertyName": .string("hs_object_id"), "operator": .string("GT"), "value": .string(lastID)])) }
            var body: [String: JSONValue] = [
                "filterGroups": .array([.object(["filters": .array(filters)])]),
                "sorts": .array([.object(["propertyName": .string("hs_object_id"), "direction": .string("ASCENDING")])]),
                "properties": .array(properties.map { .string($0) }),
                "limit": .number(200),
            ]
            if !after.isEmpty { body["after"] = .string(after) }
            let json = try ok(try await call(.POST, "/crm/v3/objects/\(type)/search", body: .object(body), what: "\(type) search"), "\(type) search")
            let results = json["results"]?.array ?? []
            let items = try await records(results, type: type, object: object, associationsIncluded: false)
            var next: String?
            if let a = json["paging"]?["next"]?["after"]?.text {
                if let offset = Int(a), offset + 200 > searchWindow, let last = results.last?["id"]?.text {
                    next = "S\(sinceMS):\(last):"
                } else {
                    next = "S\(sinceMS):\(lastID):\(a)"
                }
            }
            return SyncPage(object: object, items: items, nextCursor: next, watermark: nil)
        }
    }

    /// The most results one search reaches (HubSpot: 10,000; the `search_window` setting).
    var searchWindow: Int { config.settings["search_window"].flatMap(Int.init).map { max(200, min($0, 10_000)) } ?? 10_000 }

    /// Associations of records (v4 batch read), when the search API left them out.
    func associations(_ from: String, _ to: String, ids: [String]) async throws -> [String: [String]] {
        guard !ids.isEmpty else { return [:] }
        var out: [String: [String]] = [:]
        for chunk in stride(from: 0, to: ids.count, by: 100).map({ Array(ids[$0..<min($0 + 100, ids.count)]) }) {
            let body = JSONValue.object(["inputs": .array(chunk.map { .object(["id": .string($0)]) })])
            let r = try await call(.POST, "/crm/v4/associations/\(from)/\(to)/batch/read", body: body, what: "\(from) → \(to) associations")
            let json = try ok(r, "\(from) → \(to) associations")
            for result in json["results"]?.array ?? [] {
                guard let id = result["from"]?["id"]?.text else { continue }
                out[id] = (result["to"]?.array ?? []).compactMap { $0["toObjectId"]?.text }
            }
        }
        return out
    }

    func records(_ results: [JSONValue], type: String, object: SyncObject, associationsIncluded: Bool) async throws -> [SyncItem] {
        var assoc: [String: [String: [String]]] = [:]
        func included(_ r: JSONValue, _ to: String) -> [String] {
            (r["associations"]?[to]?["results"]?.array ?? []).compactMap { $0["id"]?.text }
        }
        let ids = results.compactMap { $0["id"]?.text }
        if !associationsIncluded {
            switch object {
            case .deals:
                assoc["contacts"] = try await associations("deals", "contacts", ids: ids)
                assoc["companies"] = try await associations("deals", "companies", ids: ids)
            case .activities: assoc["contacts"] = try await associations(type, "contacts", ids: ids)
            default: break
            }
        }
        func linked(_ r: JSONValue, _ id: String, _ to: String) -> [String] {
            associationsIncluded ? included(r, to) : assoc[to]?[id] ?? []
        }
        var items: [SyncItem] = []
        for r in results {
            guard let id = r["id"]?.text, let p = r["properties"]?.objectValue else {
                items.append(.unreadable(externalID: r["id"]?.text ?? "?", reason: "a \(type) record without id or properties"))
                continue
            }
            func prop(_ k: String) -> String? { p[k]?.text.flatMap { $0.isEmpty ? nil : $0 } }
            switch object {
            case .companies:
                var c = SyncedCompany(externalID: id)
                c.name = prop("name")
                c.domain = prop("domain")
                c.industry = prop("industry")
                c.employees = p["numberofemployees"]?.double
                c.annualRevenue = p["annualrevenue"]?.double
                c.country = prop("country")
                c.ownerID = prop("hubspot_owner_id")
                c.createdAt = p["createdate"]?.timestamp
                items.append(.company(c))
            case .people:
                var person = SyncedPerson(externalID: id, object: "contacts")
                person.email = prop("email")
                person.firstName = prop("firstname")
                person.lastName = prop("lastname")
                person.title = prop("jobtitle")
                person.phone = prop("phone")
                person.country = prop("country")
                person.stage = prop("lifecyclestage")
                person.ownerID = prop("hubspot_owner_id")
                person.createdAt = p["createdate"]?.timestamp
                person.source = prop("hs_analytics_source")
                person.companyID = linked(r, id, "companies").first ?? prop("associatedcompanyid")
                for stage in ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"] {
                    if let t = p["hs_lifecyclestage_\(stage)_date"]?.timestamp { person.stageDates[stage] = t }
                }
                for f in config.safeExtraFields { if let v = prop(f) { person.extra[f] = v } }
                person.mergedIDs = (prop("hs_merged_object_ids") ?? "").split(separator: ";").map { String($0).trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                items.append(.person(person))
            case .deals:
                var d = SyncedDeal(externalID: id)
                d.name = prop("dealname")
                d.amount = p["amount"]?.double
                d.pipeline = prop("pipeline")
                d.stage = prop("dealstage")
                d.ownerID = prop("hubspot_owner_id")
                d.createdAt = p["createdate"]?.timestamp
                d.closeDate = p["closedate"]?.date
                if prop("hs_is_closed") == "true" { d.closed = true }
                if prop("hs_is_closed_won") == "true" { d.won = true } else if prop("hs_is_closed") == "true" { d.won = false }
                if d.closed == true { d.closedAt = p["closedate"]?.timestamp }
                d.lostReason = prop("closed_lost_reason")
                d.companyID = linked(r, id, "companies").first
                d.contacts = linked(r, id, "contacts").map { SyncedRole(personID: $0, role: nil) }
                items.append(.deal(d))
            case .activities:
                guard let at = p["hs_timestamp"]?.timestamp ?? r["createdAt"]?.timestamp else {
                    items.append(.unreadable(externalID: id, reason: "a \(type) engagement without hs_timestamp"))
                    continue
                }
                let kind = String(type.dropLast())  // emails → email
                for contact in linked(r, id, "contacts") {
                    var a = SyncedActivity(externalID: type + ":" + id + ":" + contact, personID: contact, occurredAt: at, kind: kind)
                    a.ownerID = prop("hubspot_owner_id")
                    if let s = prop("hs_email_subject") ?? prop("hs_call_title") ?? prop("hs_meeting_title") { a.details["subject"] = s }
                    items.append(.activity(a))
                }
            default:
                break
            }
        }
        return items
    }

    // MARK: Write-back

    func push(_ changes: [WritebackChange], mapping: SyncMapping) async throws -> [WritebackResult] {
        var byRecord: [String: [String: JSONValue]] = [:]
        var order: [String] = []
        for c in changes {
            guard let property = mapping.writeback[c.field] else { continue }
            if byRecord[c.externalID] == nil { order.append(c.externalID) }
            byRecord[c.externalID, default: [:]][property] = .string(c.value ?? "")
        }
        let inputs = order.map { JSONValue.object(["id": .string($0), "properties": .object(byRecord[$0] ?? [:])]) }
        let r = try await call(.POST, "/crm/v3/objects/contacts/batch/update", body: .object(["inputs": .array(inputs)]), what: "contacts batch update")
        if r.status == 200 || r.status == 207 {
            var failedIDs: [String: String] = [:]
            if r.status == 207, let json = try? r.json("HubSpot batch update") {
                for e in json["errors"]?.array ?? [] {
                    let message = e["message"]?.text ?? "refused"
                    for id in e["context"]?["ids"]?.array ?? [] { if let id = id.text { failedIDs[id] = message } }
                }
            }
            return changes.map { c in
                if let m = failedIDs[c.externalID] { return WritebackResult(seq: c.seq, delivered: false, retry: false, error: m) }
                return WritebackResult(seq: c.seq, delivered: true, retry: false, error: nil)
            }
        }
        do {
            _ = try ok(r, "contacts batch update")
        } catch let e as VendorError {
            return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: e.kind == .auth, error: e.message) }
        }
        return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: true, error: "HTTP \(r.status)") }
    }

    /// HubSpot's GDPR delete: the contact and its history are removed permanently and its
    /// address is blocked from being tracked again (POST /crm/v3/objects/contacts/gdpr-delete).
    func erase(object: String, externalID: String) async -> VendorErasure {
        func result(_ o: VendorErasure.Outcome, _ m: String) -> VendorErasure {
            VendorErasure(connection: config.name, object: object, externalID: externalID, outcome: o, message: m)
        }
        guard object == "contacts" else { return result(.manual, "HubSpot's GDPR delete covers contacts only; delete this \(object) record in HubSpot") }
        do {
            let r = try await call(.POST, "/crm/v3/objects/contacts/gdpr-delete", body: .object(["objectId": .string(externalID)]), what: "GDPR delete")
            if r.status == 204 || r.status == 200 { return result(.erased, "HubSpot erased contact \(externalID) (GDPR delete)") }
            if r.status == 404 { return result(.notFound, "HubSpot has no contact \(externalID)") }
            _ = try ok(r, "GDPR delete")
            return result(.failed, "HubSpot answered HTTP \(r.status)")
        } catch let e as VendorError {
            return result(.failed, e.message)
        } catch {
            return result(.failed, "HubSpot GDPR delete failed: \(error)")
        }
    }

    func setupFields(mapping: SyncMapping) async throws -> [String] {
        var out: [String] = []
        for (field, name) in mapping.writeback.sorted(by: { $0.key < $1.key }) where name.hasPrefix("smarketing_") {
            let body = JSONValue.object([
                "name": .string(name), "label": .string("smarketing " + field.replacingOccurrences(of: "_", with: " ")),
                "type": .string("string"), "fieldType": .string("text"), "groupName": .string("contactinformation"),
            ])
            let r = try await call(.POST, "/crm/v3/properties/contacts", body: body, what: "create property \(name)")
            switch r.status {
            case 200, 201: out.append("created contact property \(name)")
            case 409: out.append("contact property \(name) exists")
            default:
                _ = try ok(r, "create property \(name)")
            }
        }
        return out
    }
}
