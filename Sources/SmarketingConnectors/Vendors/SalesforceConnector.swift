import Foundation
import NIOHTTP1
import SmarketingCore
import SmarketingStore

/// Salesforce REST (`../shared/data/vendor-specs/salesforce/`): OAuth 2.0 (refresh token or
/// client credentials) to an access token and instance URL; SOQL queries followed through
/// `nextRecordsUrl`, ordered by `SystemModstamp` from the watermark; deletions and merges from
/// `queryAll` (`IsDeleted`, `MasterRecordId`); write-back through sObject Collections.
struct SalesforceConnector: VendorConnector, PacedConnector {
    let config: ConnectionConfig
    let http: VendorHTTP
    /// (access token, instance URL), fetched on first use and again after INVALID_SESSION_ID.
    let session: Locked<(String, String)?>
    let version = "v62.0"

    init(config: ConnectionConfig, http: VendorHTTP) {
        self.config = config
        self.http = http
        session = Locked(nil)
    }

    var objects: [SyncObject] { [.owners, .companies, .campaigns, .people, .deals, .memberships, .activities] }
    var pushBatchSize: Int { 200 }
    func shutdown() async { await http.shutdown() }

    var loginURL: String {
        var b = config.secrets["login_url"] ?? config.baseURL ?? "https://login.salesforce.com"
        while b.hasSuffix("/") { b.removeLast() }
        return b
    }

    // MARK: Auth and requests

    func authenticate() async throws -> (String, String) {
        guard let id = config.secrets["client_id"], let secret = config.secrets["client_secret"] else {
            throw VendorError(.auth, "the Salesforce connection has no client_id and client_secret")
        }
        var form = "client_id=\(id.queryEncoded)&client_secret=\(secret.queryEncoded)"
        if let rt = config.secrets["refresh_token"] {
            form = "grant_type=refresh_token&refresh_token=\(rt.queryEncoded)&" + form
        } else {
            form = "grant_type=client_credentials&" + form
        }
        let r = try await http.send(
            .POST,
            loginURL + "/services/oauth2/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
            body: Array(form.utf8),
            what: "Salesforce token"
        )
        let json = try r.json("Salesforce token")
        guard r.status == 200, let token = json["access_token"]?.text, var instance = json["instance_url"]?.text else {
            let why = json["error_description"]?.text ?? json["error"]?.text ?? "HTTP \(r.status)"
            throw VendorError(.auth, "Salesforce refused the OAuth credentials: \(why)")
        }
        while instance.hasSuffix("/") { instance.removeLast() }
        let s = (token, instance)
        session.set(s)
        return s
    }

    func call(_ method: HTTPMethod, _ pathOrURL: String, body: JSONValue? = nil, what: String) async throws -> VendorResponse {
        var renewed = false
        while true {
            let (token, instance) = try await (session.get().map { $0 }).asyncOr { try await authenticate() }
            let url = pathOrURL.hasPrefix("/services/") ? instance + pathOrURL : instance + "/services/data/\(version)" + pathOrURL
            var headers = [("Authorization", "Bearer " + token), ("Accept", "application/json")]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let r = try await http.send(method, url, headers: headers, body: body.map(jsonBytes), what: "Salesforce \(what)")
            if r.status == 401, !renewed {
                // INVALID_SESSION_ID: the token expired or was revoked; one new token, one retry.
                renewed = true
                session.set(nil)
                continue
            }
            return r
        }
    }

    func ok(_ r: VendorResponse, _ what: String) throws -> JSONValue {
        if (200..<300).contains(r.status) { return r.body.isEmpty ? .null : try r.json("Salesforce \(what)") }
        let err = (try? r.json("Salesforce \(what)"))?.array.first
        let code = err?["errorCode"]?.text ?? "HTTP \(r.status)"
        let message = err?["message"]?.text ?? String(decoding: r.body.prefix(200), as: UTF8.self)
        switch (r.status, code) {
        case (401, _): throw VendorError(.auth, "Salesforce refused the session for \(what) (\(code)): \(message)")
        case (403, "REQUEST_LIMIT_EXCEEDED"): throw VendorError(.rateLimited, "the Salesforce org's daily API allowance is used up (\(message))")
        case (403, _): throw VendorError(.permission, "the Salesforce user may not \(what) (\(code)): \(message)")
        default: throw VendorError(.refused, "Salesforce refused \(what) (\(code)): \(message)")
        }
    }

    // MARK: Check

    func check() async -> ConnectionCheck {
        var checked: [String] = []
        do {
            _ = try await authenticate()
            checked.append("OAuth: ok")
        } catch {
            return ConnectionCheck(ok: false, message: "\(error)", checked: ["OAuth: \(error)"])
        }
        for object in ["User", "Account", "Lead", "Contact", "Opportunity", "Campaign", "CampaignMember", "Task"] {
            do {
                _ = try ok(try await call(.GET, "/query?q=" + "SELECT Id FROM \(object) LIMIT 1".queryEncoded, what: "read \(object)"), "read \(object)")
                checked.append("read \(object): ok")
            } catch {
                return ConnectionCheck(ok: false, message: "the Salesforce user cannot read \(object): \(error)", checked: checked)
            }
        }
        var missing: [String] = []
        for object in ["Lead", "Contact"] {
            guard let d = try? ok(try await call(.GET, "/sobjects/\(object)/describe", what: "describe \(object)"), "describe \(object)") else { continue }
            let updateable = Set((d["fields"]?.array ?? []).filter { $0["updateable"]?.bool ?? false }.compactMap { $0["name"]?.text })
            for name in SyncMapping.defaults(.salesforce).writeback.values.sorted() where !updateable.contains(name) {
                missing.append("\(object).\(name)")
            }
        }
        if !missing.isEmpty {
            return ConnectionCheck(
                ok: true,
                message: "reading works; the write-back needs these updateable fields: \(missing.joined(separator: ", ")) — `smarketing connect setup-fields \(config.name)` lists their types",
                checked: checked + ["write-back fields missing: " + missing.joined(separator: ", ")]
            )
        }
        return ConnectionCheck(ok: true, message: "Salesforce works: every object can be read and the write-back fields are updateable", checked: checked)
    }

    // MARK: Pages

    /// The SOQL of each phase; `since` adds the modification filter and order.
    static let phases: [SyncObject: [(String, String)]] = [
        .owners: [("User", "SELECT Id, Email, Name FROM User WHERE IsActive = true")],
        .companies: [("Account", "SELECT Id, Name, Website, Industry, NumberOfEmployees, AnnualRevenue, BillingCountry, OwnerId, CreatedDate, SystemModstamp FROM Account")],
        .campaigns: [("Campaign", "SELECT Id, Name, Type, StartDate, EndDate, BudgetedCost, SystemModstamp FROM Campaign")],
        .people: [
            (
                "Lead",
                "SELECT Id, Email, FirstName, LastName, Title, Phone, Country, Company, OwnerId, Status, LeadSource, CreatedDate, SystemModstamp FROM Lead WHERE IsConverted = false"
            ),
            ("Contact", "SELECT Id, Email, FirstName, LastName, Title, Phone, MailingCountry, AccountId, OwnerId, LeadSource, CreatedDate, SystemModstamp FROM Contact"),
            ("Lead.deleted", "SELECT Id, MasterRecordId FROM Lead WHERE IsDeleted = true"),
            ("Contact.deleted", "SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = true"),
        ],
        .deals: [
            (
                "Opportunity",
                "SELECT Id, Name, Amount, StageName, IsClosed, IsWon, CloseDate, OwnerId, AccountId, CampaignId, CreatedDate, SystemModstamp, (SELECT ContactId, Role, IsPrimary FROM OpportunityContactRoles) FROM Opportunity"
            ),
            ("Opportunity.deleted", "SELECT Id FROM Opportunity WHERE IsDeleted = true"),
        ],
        .memberships: [
            ("CampaignMember", "SELECT Id, CampaignId, LeadId, ContactId, Status, HasResponded, FirstRespondedDate, CreatedDate, SystemModstamp FROM CampaignMember")
        ],
        .activities: [
            ("Task", "SELECT Id, WhoId, Subject, ActivityDate, TaskSubtype, Type, OwnerId, CreatedDate, SystemModstamp FROM Task WHERE WhoId != null"),
            ("Event", "SELECT Id, WhoId, Subject, StartDateTime, Type, OwnerId, CreatedDate, SystemModstamp FROM Event WHERE WhoId != null"),
        ],
    ]

    /// The mapping's extra person fields for a phase: `Field` for both Lead and Contact,
    /// `Lead.Field` / `Contact.Field` for one of them.
    func extraFields(_ phase: String) -> [(key: String, field: String)] {
        config.safeExtraFields.compactMap { key in
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2 { return parts[0] == phase ? (key, parts[1]) : nil }
            return (key, key)
        }
    }

    func soql(_ base: String, since: String?) -> String {
        guard let since, let t = Timestamp.parse(dateOrInstant: since) else { return base }
        let condition = "SystemModstamp >= \(t.iso8601)"
        let q = base.contains(" WHERE ") ? base + " AND " + condition : base + " WHERE " + condition
        return q + " ORDER BY SystemModstamp, Id"
    }

    func page(_ object: SyncObject, cursor: String?, since: String?) async throws -> SyncPage {
        guard let phases = Self.phases[object] else { return SyncPage(object: object, items: [], nextCursor: nil, watermark: nil) }
        // Cursor: `<phase index>|<nextRecordsUrl>`; an empty URL starts the phase's query.
        var index = 0
        var next = ""
        if let cursor, let bar = cursor.firstIndex(of: "|"), let i = Int(cursor[..<bar]), phases.indices.contains(i) {
            index = i
            next = String(cursor[cursor.index(after: bar)...])
        } else if cursor != nil {
            throw VendorError(.malformed, "a stored Salesforce cursor is damaged")
        }
        let (phase, base) = phases[index]
        // Deletions are only looked for on incremental passes (a full pass links what exists).
        if phase.hasSuffix(".deleted"), since == nil {
            let after = index + 1 < phases.count ? "\(index + 1)|" : nil
            return SyncPage(object: object, items: [], nextCursor: after, watermark: nil)
        }
        let path: String
        let extras = object == .people && !phase.hasSuffix(".deleted") ? extraFields(phase) : []
        if next.isEmpty {
            let endpoint = phase.hasSuffix(".deleted") ? "/queryAll" : "/query"
            var query = base
            if !extras.isEmpty { query = "SELECT " + extras.map(\.field).joined(separator: ", ") + ", " + query.dropFirst("SELECT ".count) }
            path = endpoint + "?q=" + soql(query, since: since).queryEncoded
        } else {
            guard next.hasPrefix("/services/data/") else { throw VendorError(.malformed, "Salesforce gave a nextRecordsUrl outside its API") }
            path = next
        }
        let json = try ok(try await call(.GET, path, what: "query \(phase)"), "query \(phase)")
        let records = json["records"]?.array ?? []
        var page = SyncPage(object: object, items: [], nextCursor: nil, watermark: nil)
        if phase.hasSuffix(".deleted") {
            let vendorObject = String(phase.dropLast(".deleted".count))
            for r in records {
                guard let id = r["Id"]?.text else { continue }
                if let master = r["MasterRecordId"]?.text, !master.isEmpty {
                    page.items.append(.personMerged(object: vendorObject, survivorID: master, mergedID: id))
                } else {
                    page.deletedIDs.append(id)
                }
            }
        } else {
            page.items = records.map { r in
                var item = Self.item(object, phase, r)
                if case .person(var p) = item, !extras.isEmpty {
                    for e in extras { if let v = r[e.field]?.text, !v.isEmpty { p.extra[e.key] = v } }
                    item = .person(p)
                }
                return item
            }
        }
        if json["done"]?.bool == false, let url = json["nextRecordsUrl"]?.text {
            page.nextCursor = "\(index)|\(url)"
        } else if index + 1 < phases.count {
            page.nextCursor = "\(index + 1)|"
        }
        return page
    }

    static func item(_ object: SyncObject, _ phase: String, _ r: JSONValue) -> SyncItem {
        guard let id = r["Id"]?.text else { return .unreadable(externalID: "?", reason: "a \(phase) record without Id") }
        func s(_ k: String) -> String? { r[k]?.text.flatMap { $0.isEmpty ? nil : $0 } }
        switch object {
        case .owners:
            return .owner(SyncedOwner(externalID: id, email: s("Email"), name: s("Name")))
        case .companies:
            var c = SyncedCompany(externalID: id)
            c.name = s("Name")
            c.domain = s("Website")
            c.industry = s("Industry")
            c.employees = r["NumberOfEmployees"]?.double
            c.annualRevenue = r["AnnualRevenue"]?.double
            c.country = s("BillingCountry")
            c.ownerID = s("OwnerId")
            c.createdAt = r["CreatedDate"]?.timestamp
            return .company(c)
        case .campaigns:
            var c = SyncedCampaign(externalID: id)
            c.name = s("Name")
            c.type = s("Type")
            c.startDate = r["StartDate"]?.date
            c.endDate = r["EndDate"]?.date
            c.budget = r["BudgetedCost"]?.double
            return .campaign(c)
        case .people:
            var p = SyncedPerson(externalID: id, object: phase)
            p.email = s("Email")
            p.firstName = s("FirstName")
            p.lastName = s("LastName")
            p.title = s("Title")
            p.phone = s("Phone")
            p.country = s("Country") ?? s("MailingCountry")
            p.companyID = s("AccountId")
            p.companyName = s("Company")
            p.ownerID = s("OwnerId")
            p.stage = s("Status")
            p.source = s("LeadSource")
            p.createdAt = r["CreatedDate"]?.timestamp
            return .person(p)
        case .deals:
            var d = SyncedDeal(externalID: id)
            d.name = s("Name")
            d.amount = r["Amount"]?.double
            d.stage = s("StageName")
            d.closed = r["IsClosed"]?.bool
            d.won = r["IsClosed"]?.bool == true ? r["IsWon"]?.bool : nil
            d.closeDate = r["CloseDate"]?.date
            d.ownerID = s("OwnerId")
            d.companyID = s("AccountId")
            d.campaignID = s("CampaignId")
            d.createdAt = r["CreatedDate"]?.timestamp
            var roles = (r["OpportunityContactRoles"]?["records"]?.array ?? []).compactMap { role -> (SyncedRole, Bool)? in
                guard let c = role["ContactId"]?.text else { return nil }
                return (SyncedRole(personID: c, role: role["Role"]?.text), role["IsPrimary"]?.bool ?? false)
            }
            roles.sort { $0.1 && !$1.1 }
            d.contacts = roles.map(\.0)
            return .deal(d)
        case .memberships:
            guard let campaign = s("CampaignId"), let person = s("ContactId") ?? s("LeadId") else {
                return .unreadable(externalID: id, reason: "a campaign member without campaign or person")
            }
            let at = r["FirstRespondedDate"]?.timestamp ?? r["CreatedDate"]?.timestamp ?? Timestamp(milliseconds: 0)
            return .membership(
                SyncedMembership(
                    externalID: id,
                    campaignID: campaign,
                    personID: person,
                    status: s("Status"),
                    responded: r["HasResponded"]?.bool ?? false,
                    at: at
                )
            )
        case .activities:
            guard let who = s("WhoId") else { return .unreadable(externalID: id, reason: "an activity without WhoId") }
            guard let at = r["StartDateTime"]?.timestamp ?? r["ActivityDate"]?.timestamp ?? r["CreatedDate"]?.timestamp else {
                return .unreadable(externalID: id, reason: "an activity without a date")
            }
            let kind = s("TaskSubtype") ?? s("Type") ?? (phase == "Event" ? "Event" : "Task")
            var a = SyncedActivity(externalID: id, personID: who, occurredAt: at, kind: kind)
            a.ownerID = s("OwnerId")
            if let subject = s("Subject") { a.details["subject"] = subject }
            return .activity(a)
        }
    }

    // MARK: Write-back

    func push(_ changes: [WritebackChange], mapping: SyncMapping) async throws -> [WritebackResult] {
        var order: [String] = []
        var fields: [String: [String: JSONValue]] = [:]
        var types: [String: String] = [:]
        for c in changes {
            guard let name = mapping.writeback[c.field] else { continue }
            if fields[c.externalID] == nil {
                order.append(c.externalID)
                types[c.externalID] = c.object
            }
            let value: JSONValue
            switch c.field {
            case "score": value = c.value.flatMap(Double.init).map { .number($0) } ?? .null
            case "sla_breached": value = c.value.map { .bool($0 == "true") } ?? .null
            default: value = c.value.map { .string($0) } ?? .null
            }
            fields[c.externalID, default: [:]][name] = value
        }
        let records: [JSONValue] = order.map { id in
            var o = fields[id] ?? [:]
            o["attributes"] = .object(["type": .string(types[id] ?? "Contact")])
            o["Id"] = .string(id)
            return .object(o)
        }
        let r = try await call(.PATCH, "/composite/sobjects", body: .object(["allOrNone": .bool(false), "records": .array(records)]), what: "update people")
        let json: JSONValue
        do {
            json = try ok(r, "update people")
        } catch let e as VendorError {
            return changes.map { WritebackResult(seq: $0.seq, delivered: false, retry: e.kind != .refused, error: e.message) }
        }
        var outcome: [String: String?] = [:]
        for (i, result) in json.array.enumerated() where i < order.count {
            if result["success"]?.bool == true {
                outcome[order[i]] = .some(nil)
            } else {
                let e = result["errors"]?.array.first
                outcome[order[i]] = "\(e?["statusCode"]?.text ?? "error"): \(e?["message"]?.text ?? "refused")"
            }
        }
        return changes.map { c in
            switch outcome[c.externalID] {
            case .some(.none): return WritebackResult(seq: c.seq, delivered: true, retry: false, error: nil)
            case .some(.some(let m)):
                return WritebackResult(seq: c.seq, delivered: false, retry: m.hasPrefix("UNABLE_TO_LOCK_ROW"), error: m)
            case .none: return WritebackResult(seq: c.seq, delivered: false, retry: true, error: "Salesforce gave no result for the record")
            }
        }
    }

    func setupFields(mapping: SyncMapping) async throws -> [String] {
        // Custom fields need the Metadata API and a deployment; we say exactly what to create.
        let types: [String: String] = [
            "stage": "Text(40)", "score": "Number(18, 0)", "grade": "Text(10)", "mql_date": "Date", "sla_status": "Text(40)",
            "sla_breached": "Checkbox", "rejection_reason": "Text(255)",
        ]
        return mapping.writeback.sorted(by: { $0.key < $1.key }).compactMap { field, name in
            guard name.hasSuffix("__c") else { return nil }
            return "create \(name) (\(types[field] ?? "Text(255)")) on Lead and on Contact, updateable by the integration user"
        }
    }
}

extension Optional where Wrapped: Sendable {
    /// The value, or the result of `make` when nil.
    func asyncOr(_ make: () async throws -> Wrapped) async throws -> Wrapped {
        if let v = self { return v }
        return try await make()
    }
}
