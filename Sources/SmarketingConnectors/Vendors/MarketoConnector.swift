import Foundation
import NIOHTTP1
import SmarketingCore
import SmarketingStore

/// Marketo Engage REST (`vendor-specs/marketo/`): the identity endpoint's expiring token;
/// errors inside HTTP 200 bodies (601/602 token → a new token, 606 rate and 615 concurrency →
/// wait and retry, 607 daily quota → stop); programs as campaigns (offset paging); people found
/// through the New Lead and Change Data Value activities since the watermark (paging tokens,
/// `moreResult`) and read 300 at a time by id; activities as touchpoints; write-back with
/// `leads.json` `updateOnly` (300 per request).
struct MarketoConnector: VendorConnector, PacedConnector {
    let config: ConnectionConfig
    let http: VendorHTTP
    let base: String
    let token = Locked<String?>(nil)
    /// Activity types read as touchpoints (at most 10 per call).
    static let touchTypes = [1, 2, 3, 6, 7, 8, 9, 10, 11, 46]
    static let leadFields = ["id", "email", "firstName", "lastName", "title", "phone", "country", "company", "leadStatus", "leadSource", "createdAt", "updatedAt"]

    init(config: ConnectionConfig, http: VendorHTTP) {
        self.config = config
        self.http = http
        base = config.base("https://example.mktorest.com")
    }

    var objects: [SyncObject] { [.campaigns, .people, .activities] }
    var pushBatchSize: Int { 300 }
    func shutdown() async { await http.shutdown() }

    func authenticate() async throws -> String {
        let id = config.secrets["client_id"] ?? ""
        let secret = config.secrets["client_secret"] ?? ""
        let r = try await http.send(
            .GET,
            base + "/identity/oauth/token?grant_type=client_credentials&client_id=\(id.queryEncoded)&client_secret=\(secret.queryEncoded)",
            headers: [("Accept", "application/json")],
            what: "Marketo identity"
        )
        let json = try r.json("Marketo identity")
        guard r.status == 200, let t = json["access_token"]?.text else {
            throw VendorError(.auth, "Marketo refused the client id and secret: \(json["error_description"]?.text ?? json["error"]?.text ?? "HTTP \(r.status)")")
        }
        token.set(t)
        return t
    }

    /// A REST call with Marketo's in-body error codes handled.
    func call(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil, what: String) async throws -> JSONValue {
        var renewed = false
        var waits = 0
        while true {
            let t = try await token.get().asyncOr { try await authenticate() }
            var headers = [("Authorization", "Bearer " + t), ("Accept", "application/json")]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let r = try await http.send(method, base + path, headers: headers, body: body.map(jsonBytes), what: "Marketo \(what)")
            guard (200..<300).contains(r.status) else {
                throw VendorError(r.status == 401 ? .auth : .refused, "Marketo refused \(what) (HTTP \(r.status))")
            }
            let json = try r.json("Marketo \(what)")
            if json["success"]?.bool == true { return json }
            let error = json["errors"]?.array.first
            let code = error?["code"]?.text ?? "?"
            let message = error?["message"]?.text ?? "success: false"
            switch code {
            case "601", "602":
                guard !renewed else { throw VendorError(.auth, "Marketo refused a new access token (\(code) \(message))") }
                renewed = true
                token.set(nil)
            case "606", "615", "604":
                // Rate (100 per 20 s), concurrency (10) or time-out: wait and try again.
                waits += 1
                guard waits <= 6 else { throw VendorError(.rateLimited, "Marketo kept answering \(code) (\(message)) for \(what)") }
                try await Task.sleep(for: .seconds(code == "606" ? 5 * Double(waits) : Double(waits)))
            case "607": throw VendorError(.rateLimited, "the Marketo instance's daily API quota is used up (607 \(message))")
            case "603": throw VendorError(.permission, "the Marketo API user may not \(what) (603 \(message))")
            default: throw VendorError(.refused, "Marketo refused \(what) (\(code) \(message))")
            }
        }
    }

    func check() async -> ConnectionCheck {
        var checked: [String] = []
        do {
            _ = try await authenticate()
            checked.append("identity: ok")
            _ = try await call(.GET, "/rest/v1/activities/types.json", what: "read activity types")
            checked.append("read activity types: ok")
            _ = try await call(.GET, "/rest/asset/v1/programs.json?maxReturn=1&offset=0", what: "read programs")
            checked.append("read programs: ok")
            let describe = try await call(.GET, "/rest/v1/leads/describe2.json", what: "describe leads")
            let names = Set((describe["result"]?.array.first?["fields"]?.array ?? []).compactMap { $0["name"]?.text })
            let missing = SyncMapping.defaults(.marketo).writeback.values.filter { !names.contains($0) }.sorted()
            if !missing.isEmpty {
                return ConnectionCheck(
                    ok: true,
                    message: "reading works; the write-back needs these lead fields in Marketo: \(missing.joined(separator: ", ")) (create them in Admin → Field Management)",
                    checked: checked + ["write-back fields missing: " + missing.joined(separator: ", ")]
                )
            }
            return ConnectionCheck(ok: true, message: "Marketo works: programs, leads and activities can be read and the write-back fields exist", checked: checked)
        } catch {
            return ConnectionCheck(ok: false, message: "\(error)", checked: checked)
        }
    }

    func page(_ object: SyncObject, cursor: String?, since: String?) async throws -> SyncPage {
        switch object {
        case .campaigns:
            let offset = cursor.flatMap(Int.init) ?? 0
            let json = try await call(.GET, "/rest/asset/v1/programs.json?maxReturn=200&offset=\(offset)", what: "read programs")
            let result = json["result"]?.array ?? []
            let items: [SyncItem] = result.map { p in
                guard let id = p["id"]?.text else { return .unreadable(externalID: "?", reason: "a program without id") }
                var c = SyncedCampaign(externalID: id)
                c.name = p["name"]?.text
                c.type = p["type"]?.text
                c.channel = p["channel"]?.text
                return .campaign(c)
            }
            return SyncPage(object: object, items: items, nextCursor: result.count == 200 ? String(offset + 200) : nil, watermark: nil)
        case .people, .activities:
            var pageToken = cursor
            if pageToken == nil {
                let start = since.flatMap { Timestamp.parse(dateOrInstant: $0) } ?? Timestamp(milliseconds: 946_684_800_000)  // 2000-01-01
                let json = try await call(.GET, "/rest/v1/activities/pagingtoken.json?sinceDatetime=" + start.iso8601.queryEncoded, what: "get a paging token")
                guard let t = json["nextPageToken"]?.text else { throw VendorError(.malformed, "Marketo gave no paging token") }
                pageToken = t
            }
            let types = object == .people ? [12, 13] : Self.touchTypes
            let path = "/rest/v1/activities.json?activityTypeIds=" + types.map(String.init).joined(separator: ",") + "&nextPageToken=" + (pageToken ?? "").queryEncoded
            let json = try await call(.GET, path, what: "read activities")
            let result = json["result"]?.array ?? []
            let more = json["moreResult"]?.bool ?? false
            let next = more ? json["nextPageToken"]?.text : nil
            if object == .activities {
                let items: [SyncItem] = result.map { a in
                    guard let id = a["marketoGUID"]?.text ?? a["id"]?.text, let lead = a["leadId"]?.text, let at = a["activityDate"]?.timestamp,
                        let type = a["activityTypeId"]?.text
                    else { return .unreadable(externalID: a["id"]?.text ?? "?", reason: "an activity without id, lead, date or type") }
                    var x = SyncedActivity(externalID: id, personID: lead, occurredAt: at, kind: type)
                    x.campaignID = a["campaignId"]?.text
                    if let v = a["primaryAttributeValue"]?.text { x.details["primary"] = v }
                    return .activity(x)
                }
                return SyncPage(object: object, items: items, nextCursor: next, watermark: nil)
            }
            var ids: [String] = []
            for a in result { if let l = a["leadId"]?.text, !ids.contains(l) { ids.append(l) } }
            var items: [SyncItem] = []
            for chunk in stride(from: 0, to: ids.count, by: 300).map({ Array(ids[$0..<min($0 + 300, ids.count)]) }) {
                let leads = try await call(
                    .GET,
                    "/rest/v1/leads.json?filterType=id&filterValues=" + chunk.joined(separator: ",") + "&fields="
                        + (Self.leadFields + config.safeExtraFields.filter { !Self.leadFields.contains($0) }).joined(separator: ","),
                    what: "read leads"
                )
                for l in leads["result"]?.array ?? [] {
                    guard let id = l["id"]?.text else { continue }
                    var p = SyncedPerson(externalID: id, object: "leads")
                    p.email = l["email"]?.text
                    p.firstName = l["firstName"]?.text
                    p.lastName = l["lastName"]?.text
                    p.title = l["title"]?.text
                    p.phone = l["phone"]?.text
                    p.country = l["country"]?.text
                    p.companyName = l["company"]?.text
                    p.stage = l["leadStatus"]?.text
                    p.source = l["leadSource"]?.text
                    p.createdAt = l["createdAt"]?.timestamp
                    for f in config.safeExtraFields { if let v = l[f]?.text, !v.isEmpty { p.extra[f] = v } }
                    items.append(.person(p))
                }
            }
            return SyncPage(object: object, items: items, nextCursor: next, watermark: nil)
        default:
            return SyncPage(object: object, items: [], nextCursor: nil, watermark: nil)
        }
    }

    func push(_ changes: [WritebackChange], mapping: SyncMapping) async throws -> [WritebackResult] {
        var order: [String] = []
        var fields: [String: [String: JSONValue]] = [:]
        for c in changes {
            guard let name = mapping.writeback[c.field] else { continue }
            if fields[c.externalID] == nil { order.append(c.externalID) }
            fields[c.externalID, default: [:]][name] = c.value.map { .string($0) } ?? .null
        }
        let input: [JSONValue] = order.map { id in
            var o = fields[id] ?? [:]
            o["id"] = Int64(id).map { .number(Double($0)) } ?? .string(id)
            return .object(o)
        }
        let json: JSONValue
        do {
            json = try await call(
                .POST,
                "/rest/v1/leads.json",
                body: .object(["action": .string("updateOnly"), "lookupField": .string("id"), "input": .array(input)]),
                what: "update leads"
            )
        } catch let e as VendorError {
            return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: e.kind != .refused, error: e.message) }
        }
        var outcome: [String: String?] = [:]
        for (i, r) in (json["result"]?.array ?? []).enumerated() where i < order.count {
            let status = r["status"]?.text ?? ""
            if status == "updated" || status == "created" {
                outcome[order[i]] = .some(nil)
            } else {
                let reason = r["reasons"]?.array.first
                outcome[order[i]] = "\(reason?["code"]?.text ?? status) \(reason?["message"]?.text ?? "skipped")"
            }
        }
        return changes.map { c in
            switch outcome[c.externalID] {
            case .some(.none): return WritebackResult(seq: c.seq, delivered: true, retry: false, error: nil)
            case .some(.some(let m)): return WritebackResult(seq: c.seq, delivered: false, retry: false, error: m)
            case .none: return WritebackResult(seq: c.seq, delivered: false, retry: true, error: "Marketo gave no result for the lead")
            }
        }
    }

    func setupFields(mapping: SyncMapping) async throws -> [String] {
        // Marketo's REST API cannot create lead fields; they are made in Admin → Field Management.
        mapping.writeback.sorted(by: { $0.key < $1.key }).map { field, name in
            "create the lead field \(name) (\(field == "score" ? "Integer" : field == "mql_date" ? "Date" : "String")) in Marketo Admin → Field Management"
        }
    }
}
