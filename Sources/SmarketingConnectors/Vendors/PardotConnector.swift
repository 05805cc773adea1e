import Foundation
import NIOHTTP1
import SmarketingCore
import SmarketingStore

/// Pardot / Account Engagement API v5 (`vendor-specs/pardot/README.md`): a Salesforce OAuth
/// token plus the `Pardot-Business-Unit-Id` header; campaigns, prospects and visitor activities
/// queried with `fields`, `orderBy=id`, `updatedAtAfterOrEqualTo` and followed through
/// `nextPageToken`; write-back of score and grade with one PATCH per prospect (v5 has no batch
/// update).
struct PardotConnector: VendorConnector, PacedConnector {
    let config: ConnectionConfig
    let http: VendorHTTP
    let token = Locked<String?>(nil)
    let base: String
    let loginURL: String

    init(config: ConnectionConfig, http: VendorHTTP) {
        self.config = config
        self.http = http
        var b = config.settings["pardot_base_url"] ?? config.baseURL ?? "https://pi.pardot.com"
        while b.hasSuffix("/") { b.removeLast() }
        base = b
        var l = config.secrets["login_url"] ?? config.baseURL ?? "https://login.salesforce.com"
        while l.hasSuffix("/") { l.removeLast() }
        loginURL = l
    }

    var objects: [SyncObject] { [.campaigns, .people, .activities] }
    var pushBatchSize: Int { 1 }
    func shutdown() async { await http.shutdown() }

    static let fields: [SyncObject: String] = [
        .campaigns: "id,name,cost,createdAt,updatedAt",
        .people: "id,email,firstName,lastName,jobTitle,company,phone,country,source,score,grade,campaignId,createdAt,updatedAt,isDeleted",
        .activities: "id,prospectId,type,typeName,details,campaignId,createdAt,updatedAt",
    ]
    static let paths: [SyncObject: String] = [.campaigns: "campaigns", .people: "prospects", .activities: "visitor-activities"]

    func authenticate() async throws -> String {
        var form = "client_id=\((config.secrets["client_id"] ?? "").queryEncoded)&client_secret=\((config.secrets["client_secret"] ?? "").queryEncoded)"
        if let rt = config.secrets["refresh_token"] {
            form = "grant_type=refresh_token&refresh_token=\(rt.queryEncoded)&" + form
        } else {
            form = "grant_type=client_credentials&" + form
        }
        let r = try await http.send(
            .POST,
            loginURL + "/services/oauth2/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(form.utf8),
            what: "Salesforce token for Pardot"
        )
        let json = try r.json("Salesforce token for Pardot")
        guard r.status == 200, let t = json["access_token"]?.text else {
            throw VendorError(.auth, "Salesforce refused the OAuth credentials for Pardot: \(json["error_description"]?.text ?? "HTTP \(r.status)")")
        }
        token.set(t)
        return t
    }

    func call(_ method: HTTPMethod, _ pathOrURL: String, body: JSONValue? = nil, what: String) async throws -> JSONValue {
        var renewed = false
        var waits = 0
        while true {
            let t = try await token.get().asyncOr { try await authenticate() }
            var headers = [("Authorization", "Bearer " + t), ("Pardot-Business-Unit-Id", config.secrets["business_unit_id"] ?? ""), ("Accept", "application/json")]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let url = pathOrURL.hasPrefix("http") ? pathOrURL : base + pathOrURL
            let r = try await http.send(method, url, headers: headers, body: body.map(jsonBytes), what: "Pardot \(what)")
            if (200..<300).contains(r.status) { return r.body.isEmpty ? .null : try r.json("Pardot \(what)") }
            let json = try? r.json("Pardot \(what)")
            let code = json?["code"]?.text ?? ""
            let message = json?["message"]?.text ?? String(decoding: r.body.prefix(200), as: UTF8.self)
            if r.status == 401, !renewed {
                renewed = true
                token.set(nil)
                continue
            }
            if code == "66", waits < 5 {
                // More than five concurrent requests: wait and try again.
                waits += 1
                try await Task.sleep(for: .seconds(Double(waits)))
                continue
            }
            switch (r.status, code) {
            case (_, "122"): throw VendorError(.rateLimited, "the Pardot business unit's daily API allowance is used up (122 \(message))")
            case (401, _): throw VendorError(.auth, "Pardot refused the session for \(what) (\(code) \(message))")
            case (403, _): throw VendorError(.permission, "the Pardot user may not \(what) (\(code) \(message))")
            default: throw VendorError(.refused, "Pardot refused \(what) (HTTP \(r.status) \(code) \(message))")
            }
        }
    }

    func check() async -> ConnectionCheck {
        var checked: [String] = []
        do {
            _ = try await authenticate()
            checked.append("OAuth: ok")
            for object in [SyncObject.campaigns, .people, .activities] {
                _ = try await call(.GET, "/api/v5/objects/\(Self.paths[object] ?? "")?fields=id&limit=1", what: "read \(Self.paths[object] ?? "")")
                checked.append("read \(Self.paths[object] ?? ""): ok")
            }
        } catch {
            return ConnectionCheck(ok: false, message: "\(error)", checked: checked)
        }
        return ConnectionCheck(ok: true, message: "Pardot works: campaigns, prospects and visitor activities can be read; score and grade are written back", checked: checked)
    }

    func page(_ object: SyncObject, cursor: String?, since: String?) async throws -> SyncPage {
        guard let path = Self.paths[object], let fields = Self.fields[object] else { return SyncPage(object: object, items: [], nextCursor: nil, watermark: nil) }
        var url = "/api/v5/objects/\(path)?"
        if let cursor {
            url += "nextPageToken=" + cursor.queryEncoded
        } else {
            let extras = object == .people ? config.safeExtraFields.filter { !fields.split(separator: ",").map(String.init).contains($0) } : []
            url += "fields=" + ([fields] + extras).joined(separator: ",") + "&limit=1000&orderBy=id"
            if let since, let t = Timestamp.parse(dateOrInstant: since) { url += "&updatedAtAfterOrEqualTo=" + t.iso8601.queryEncoded }
            if object == .people, since != nil { url += "&deleted=all" }
        }
        let json = try await call(.GET, url, what: "read \(path)")
        var page = SyncPage(object: object, items: [], nextCursor: json["nextPageToken"]?.text, watermark: nil)
        for r in json["values"]?.array ?? [] {
            guard let id = r["id"]?.text else {
                page.items.append(.unreadable(externalID: "?", reason: "a \(path) record without id"))
                continue
            }
            switch object {
            case .campaigns:
                var c = SyncedCampaign(externalID: id)
                c.name = r["name"]?.text
                c.budget = r["cost"]?.double
                page.items.append(.campaign(c))
            case .people:
                if r["isDeleted"]?.bool == true {
                    page.deletedIDs.append(id)
                    continue
                }
                var p = SyncedPerson(externalID: id, object: "prospects")
                p.email = r["email"]?.text
                p.firstName = r["firstName"]?.text
                p.lastName = r["lastName"]?.text
                p.title = r["jobTitle"]?.text
                p.companyName = r["company"]?.text
                p.phone = r["phone"]?.text
                p.country = r["country"]?.text
                p.source = r["source"]?.text
                p.createdAt = r["createdAt"]?.timestamp
                for f in config.safeExtraFields { if let v = r[f]?.text, !v.isEmpty { p.extra[f] = v } }
                page.items.append(.person(p))
            case .activities:
                guard let prospect = r["prospectId"]?.text, let at = r["createdAt"]?.timestamp, let type = r["type"]?.text else {
                    page.items.append(.unreadable(externalID: id, reason: "a visitor activity without prospect, date or type"))
                    continue
                }
                var a = SyncedActivity(externalID: id, personID: prospect, occurredAt: at, kind: type)
                a.campaignID = r["campaignId"]?.text
                if let d = r["details"]?.text { a.details["details"] = d }
                page.items.append(.activity(a))
            default:
                break
            }
        }
        return page
    }

    func push(_ changes: [WritebackChange], mapping: SyncMapping) async throws -> [WritebackResult] {
        guard let id = changes.first?.externalID else { return [] }
        var body: [String: JSONValue] = [:]
        for c in changes {
            guard let name = mapping.writeback[c.field] else { continue }
            body[name] = c.field == "score" ? (c.value.flatMap(Double.init).map { .number($0) } ?? .null) : (c.value.map { .string($0) } ?? .null)
        }
        do {
            _ = try await call(.PATCH, "/api/v5/objects/prospects/\(id.queryEncoded)", body: .object(body), what: "update prospect \(id)")
            return changes.map { WritebackResult(seq: $0.seq, delivered: true, retry: false, error: nil) }
        } catch let e as VendorError {
            return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: e.kind != .refused, error: e.message) }
        }
    }

    func setupFields(mapping: SyncMapping) async throws -> [String] {
        ["nothing to create: score and grade are standard prospect fields in Pardot"]
    }
}
