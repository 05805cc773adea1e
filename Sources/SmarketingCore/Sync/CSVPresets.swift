import Foundation

/// How the columns of a vendor's CSV export (or any spreadsheet, with a mapping file) become
/// vendor-neutral records, so a CSV file goes through the same identity rules as a sync.
public struct CSVPreset: Sendable, Hashable {
    public var name: String
    public var vendor: Vendor?
    public var object: SyncObject
    /// The vendor object name used for links (`contacts`, `Lead`, …).
    public var vendorObject: String
    /// Our field → the column headers it may have (first found wins), case-insensitive.
    public var columns: [String: [String]]

    public init(name: String, vendor: Vendor?, object: SyncObject, vendorObject: String, columns: [String: [String]]) {
        self.name = name
        self.vendor = vendor
        self.object = object
        self.vendorObject = vendorObject
        self.columns = columns
    }

    /// The fields a preset or mapping file may name, per object.
    public static let fields: [SyncObject: [String]] = [
        .people: ["id", "email", "first_name", "last_name", "title", "phone", "country", "company", "company_id", "owner", "stage", "source", "created_at"],
        .companies: ["id", "name", "domain", "industry", "employees", "annual_revenue", "country", "owner", "created_at"],
        .deals: ["id", "name", "amount", "stage", "pipeline", "won", "close_date", "created_at", "company_id", "person_id", "owner", "lost_reason"],
    ]

    /// The vendors' standard exports (docs/INTEGRATIONS.md, "CSV presets").
    public static let all: [CSVPreset] = [
        CSVPreset(
            name: "hubspot-contacts", vendor: .hubspot, object: .people, vendorObject: "contacts",
            columns: [
                "id": ["Record ID", "Contact ID", "hs_object_id"], "email": ["Email", "email"], "first_name": ["First Name", "firstname"],
                "last_name": ["Last Name", "lastname"], "title": ["Job Title", "jobtitle"], "phone": ["Phone Number", "phone"],
                "country": ["Country/Region", "Country", "country"], "company": ["Company Name", "company"],
                "company_id": ["Associated Company IDs (Primary)", "Associated Company ID", "associatedcompanyid"],
                "stage": ["Lifecycle Stage", "lifecyclestage"], "source": ["Original Source", "hs_analytics_source"], "created_at": ["Create Date", "createdate"],
            ]
        ),
        CSVPreset(
            name: "hubspot-companies", vendor: .hubspot, object: .companies, vendorObject: "companies",
            columns: [
                "id": ["Record ID", "Company ID", "hs_object_id"], "name": ["Company name", "Name", "name"], "domain": ["Company Domain Name", "Website URL", "domain"],
                "industry": ["Industry", "industry"], "employees": ["Number of Employees", "numberofemployees"],
                "annual_revenue": ["Annual Revenue", "annualrevenue"], "country": ["Country/Region", "country"], "created_at": ["Create Date", "createdate"],
            ]
        ),
        CSVPreset(
            name: "hubspot-deals", vendor: .hubspot, object: .deals, vendorObject: "deals",
            columns: [
                "id": ["Record ID", "Deal ID", "hs_object_id"], "name": ["Deal Name", "dealname"], "amount": ["Amount", "amount"],
                "stage": ["Deal Stage", "dealstage"], "pipeline": ["Pipeline", "pipeline"], "close_date": ["Close Date", "closedate"],
                "created_at": ["Create Date", "createdate"], "company_id": ["Associated Company IDs (Primary)", "Associated Company ID"],
                "person_id": ["Associated Contact IDs", "Associated Contact ID"], "lost_reason": ["Closed Lost Reason", "closed_lost_reason"],
            ]
        ),
        CSVPreset(
            name: "salesforce-leads", vendor: .salesforce, object: .people, vendorObject: "Lead",
            columns: [
                "id": ["Lead ID", "Id"], "email": ["Email"], "first_name": ["First Name", "FirstName"], "last_name": ["Last Name", "LastName"],
                "title": ["Title"], "phone": ["Phone"], "country": ["Country"], "company": ["Company / Account", "Company"], "stage": ["Lead Status", "Status"],
                "source": ["Lead Source", "LeadSource"], "created_at": ["Created Date", "CreatedDate"],
            ]
        ),
        CSVPreset(
            name: "salesforce-contacts", vendor: .salesforce, object: .people, vendorObject: "Contact",
            columns: [
                "id": ["Contact ID", "Id"], "email": ["Email"], "first_name": ["First Name", "FirstName"], "last_name": ["Last Name", "LastName"],
                "title": ["Title"], "phone": ["Phone"], "country": ["Mailing Country", "MailingCountry"], "company_id": ["Account ID", "AccountId"],
                "company": ["Account Name"], "source": ["Lead Source", "LeadSource"], "created_at": ["Created Date", "CreatedDate"],
            ]
        ),
        CSVPreset(
            name: "salesforce-accounts", vendor: .salesforce, object: .companies, vendorObject: "Account",
            columns: [
                "id": ["Account ID", "Id"], "name": ["Account Name", "Name"], "domain": ["Website"], "industry": ["Industry"],
                "employees": ["Employees", "NumberOfEmployees"], "annual_revenue": ["Annual Revenue", "AnnualRevenue"],
                "country": ["Billing Country", "BillingCountry"], "created_at": ["Created Date", "CreatedDate"],
            ]
        ),
        CSVPreset(
            name: "salesforce-opportunities", vendor: .salesforce, object: .deals, vendorObject: "Opportunity",
            columns: [
                "id": ["Opportunity ID", "Id"], "name": ["Opportunity Name", "Name"], "amount": ["Amount"], "stage": ["Stage", "StageName"],
                "won": ["Won", "IsWon"], "close_date": ["Close Date", "CloseDate"], "created_at": ["Created Date", "CreatedDate"],
                "company_id": ["Account ID", "AccountId"],
            ]
        ),
        CSVPreset(
            name: "pipedrive-persons", vendor: .pipedrive, object: .people, vendorObject: "persons",
            columns: [
                "id": ["Person - ID", "ID"], "email": ["Person - Email", "Email", "Person - Email - Work"], "first_name": ["Person - First name", "First name"],
                "last_name": ["Person - Last name", "Last name"], "title": ["Person - Job title", "Job title"],
                "phone": ["Person - Phone", "Phone", "Person - Phone - Work"], "company": ["Person - Organization", "Organization"],
                "created_at": ["Person - Person created", "Person created"],
            ]
        ),
        CSVPreset(
            name: "pipedrive-organizations", vendor: .pipedrive, object: .companies, vendorObject: "organizations",
            columns: [
                "id": ["Organization - ID", "ID"], "name": ["Organization - Name", "Name"], "domain": ["Organization - Website", "Website"],
                "industry": ["Organization - Industry", "Industry"], "employees": ["Organization - Number of employees", "Number of employees"],
                "created_at": ["Organization - Organization created", "Organization created"],
            ]
        ),
        CSVPreset(
            name: "marketo-leads", vendor: .marketo, object: .people, vendorObject: "leads",
            columns: [
                "id": ["Id", "Lead ID", "id"], "email": ["Email Address", "Email", "email"], "first_name": ["First Name", "firstName"],
                "last_name": ["Last Name", "lastName"], "title": ["Job Title", "title"], "phone": ["Phone Number", "phone"],
                "country": ["Country", "country"], "company": ["Company Name", "company"], "stage": ["Lead Status", "leadStatus"],
                "source": ["Lead Source", "leadSource"], "created_at": ["Created At", "createdAt"],
            ]
        ),
        CSVPreset(
            name: "pardot-prospects", vendor: .pardot, object: .people, vendorObject: "prospects",
            columns: [
                "id": ["Prospect Id", "Id", "id"], "email": ["Email", "email"], "first_name": ["First Name", "firstName"], "last_name": ["Last Name", "lastName"],
                "title": ["Job Title", "jobTitle"], "phone": ["Phone", "phone"], "country": ["Country", "country"], "company": ["Company", "company"],
                "source": ["Source", "source"], "created_at": ["Created Date", "Created", "createdAt"],
            ]
        ),
    ]

    public static func named(_ name: String) -> CSVPreset? { all.first { $0.name == name } }

    /// The column index of each field this header has.
    public func resolve(header: [String]) -> [String: Int] {
        var out: [String: Int] = [:]
        let lower = header.map { $0.trimmingSpaces.lowercased() }
        for (field, names) in columns {
            for n in names {
                if let i = lower.firstIndex(of: n.lowercased()) {
                    out[field] = i
                    break
                }
            }
        }
        return out
    }

    /// One row as a record (or why not, with the field that is wrong).
    public func record(_ row: [String], columns idx: [String: Int], line: Int, connection: String) -> Result<SyncItem, CSVRowProblem> {
        func v(_ f: String) -> String? {
            guard let i = idx[f], i < row.count else { return nil }
            let t = SpreadsheetSafe.unescape(row[i]).trimmingSpaces
            return t.isEmpty ? nil : t
        }
        func problem(_ f: String, _ m: String) -> CSVRowProblem { CSVRowProblem(line: line, column: (idx[f] ?? 0) + 1, field: f, message: m) }
        func time(_ f: String) -> Result<Timestamp?, CSVRowProblem> {
            guard let t = v(f) else { return .success(nil) }
            if let ts = Timestamp.parse(dateOrInstant: t) ?? Timestamp.parse(dateOrInstant: t.replacingOccurrences(of: " ", with: "T") + "Z") {
                return .success(ts)
            }
            return .failure(problem(f, "\"\(t)\" is not a date or a date and time (YYYY-MM-DD[THH:MM:SSZ])"))
        }
        func number(_ f: String) -> Result<Double?, CSVRowProblem> {
            guard let t = v(f) else { return .success(nil) }
            let cleaned = t.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: " ", with: "")
            guard let d = Double(cleaned), d.isFinite, d >= 0, d <= FieldType.moneyRange.upperBound else {
                return .failure(problem(f, "\"\(t)\" is not a number from 0 to \(Int64(FieldType.moneyRange.upperBound))"))
            }
            return .success(d)
        }
        let created: Timestamp?
        switch time("created_at") {
        case .success(let t): created = t
        case .failure(let p): return .failure(p)
        }
        switch object {
        case .people:
            let email = v("email")
            if let e = email, EmailAddress.key(e) == nil { return .failure(problem("email", "\"\(e)\" is not a valid email address")) }
            guard let id = v("id") ?? email.flatMap(EmailAddress.key).map({ "email:" + $0 }) else {
                return .failure(problem("email", "the row has neither an id nor an email"))
            }
            var p = SyncedPerson(externalID: id, object: vendorObject)
            p.email = email
            p.firstName = v("first_name")
            p.lastName = v("last_name")
            p.title = v("title")
            p.phone = v("phone")
            p.country = v("country")
            p.companyName = v("company")
            p.companyID = v("company_id")
            p.ownerID = v("owner")
            p.stage = v("stage")
            p.source = v("source")
            p.createdAt = created
            return .success(.person(p))
        case .companies:
            guard let id = v("id") ?? v("domain").flatMap(Domain.normalise).map({ "domain:" + $0 }) ?? v("name").map({ "name:" + $0 }) else {
                return .failure(problem("name", "the row has no id, domain or name"))
            }
            var c = SyncedCompany(externalID: id)
            c.name = v("name")
            c.domain = v("domain")
            if let d = c.domain, Domain.normalise(d) == nil { return .failure(problem("domain", "\"\(d)\" is not a domain")) }
            c.industry = v("industry")
            switch number("employees") {
            case .success(let n): c.employees = n
            case .failure(let p): return .failure(p)
            }
            switch number("annual_revenue") {
            case .success(let n): c.annualRevenue = n
            case .failure(let p): return .failure(p)
            }
            c.country = v("country")
            c.createdAt = created
            return .success(.company(c))
        default:
            guard let id = v("id") else { return .failure(problem("id", "a deal needs its id")) }
            var d = SyncedDeal(externalID: id)
            d.name = v("name")
            switch number("amount") {
            case .success(let n): d.amount = n
            case .failure(let p): return .failure(p)
            }
            d.stage = v("stage")
            d.pipeline = v("pipeline")
            if let w = v("won")?.lowercased() { d.won = ["true", "1", "yes", "won"].contains(w) ? true : ["false", "0", "no", "lost"].contains(w) ? false : nil }
            if let c = v("close_date") {
                guard let date = LocalDate.parse(c.prefix(10)) else { return .failure(problem("close_date", "\"\(c)\" is not a date (YYYY-MM-DD)")) }
                d.closeDate = date
            }
            d.createdAt = created
            d.companyID = v("company_id")
            d.lostReason = v("lost_reason")
            if let people = v("person_id") {
                d.contacts = people.split(whereSeparator: { $0 == ";" || $0 == "," }).map { SyncedRole(personID: String($0).trimmingSpaces, role: nil) }
            }
            return .success(.deal(d))
        }
    }
}

/// A CSV row that cannot be imported, with where.
public struct CSVRowProblem: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var field: String
    public var message: String
    public var description: String { "line \(line), column \(column) (\(field)): \(message)" }
}
