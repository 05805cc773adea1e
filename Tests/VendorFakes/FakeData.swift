import Foundation
import SmarketingCore

/// One generated person, as the vendors would hold them.
public struct FakePerson: Sendable {
    public var n: Int
    /// nil: a person without an email.
    public var email: String?
    public var first: String
    public var last: String
    public var title: String
    public var company: Int
    public var createdAt: Timestamp
}

/// Generated vendor data: people with companies, some without email, and the same people
/// spelled differently in two vendors (case and surrounding spaces).
public enum FakeData {
    public static let start = Timestamp(seconds: 1_767_225_600)  // 2026-01-01T00:00:00Z
    static let firsts = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Klara", "Lukas"]
    static let lasts = ["Berg", "Klein", "Wolf", "Neumann", "Schulz", "Meyer", "Koch", "Braun", "Fischer", "Weber"]
    static let titles = ["CMO", "Head of Marketing", "Sales Director", "VP Sales", "Marketing Manager", "CEO", "CFO"]

    public static func domain(_ company: Int) -> String { "company\(company).example" }

    public static func people(_ count: Int, companies: Int, withoutEmail: Double, seed: UInt64) -> [FakePerson] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { n in
            let first = firsts[rng.int(0...(firsts.count - 1))]
            let last = lasts[rng.int(0...(lasts.count - 1))]
            let company = rng.int(0...(max(1, companies) - 1))
            let email = rng.chance(withoutEmail) ? nil : "\(first.lowercased()).\(last.lowercased()).\(n)@\(domain(company))"
            return FakePerson(
                n: n,
                email: email,
                first: first,
                last: last,
                title: titles[rng.int(0...(titles.count - 1))],
                company: company,
                createdAt: start.adding(milliseconds: Int64(n) * 60_000)
            )
        }
    }

    /// The same address as another tool might hold it: case changed, spaces around.
    public static func variant(_ email: String, _ n: Int) -> String {
        switch n % 3 {
        case 0: return email.uppercased()
        case 1: return "  " + email + " "
        default: return email.prefix(1).uppercased() + email.dropFirst()
        }
    }

    // MARK: HubSpot

    public static func fillHubSpot(_ fake: FakeHubSpot, people: [FakePerson], companies: Int, deals: Int, emailsPerPerson: Int, vary: Bool, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for (i, o) in ["hs-owner-1", "hs-owner-2", "hs-owner-3"].enumerated() {
            fake.addOwner(.init(id: String(101 + i), email: "\(o)@us.example", firstName: "Rep", lastName: String(i + 1)))
        }
        for c in 0..<companies {
            var o = FakeHubSpot.Object(id: String(5000 + c), properties: [:], createdAt: start, updatedAt: start)
            o.properties = [
                "name": "Company \(c)", "domain": domain(c), "industry": ["SOFTWARE", "RETAIL", "FINANCE"][c % 3],
                "numberofemployees": String(10 + c * 7 % 900), "hubspot_owner_id": String(101 + c % 3), "createdate": start.iso8601,
                "hs_lastmodifieddate": start.iso8601,
            ]
            fake.upsert("companies", o)
        }
        let stages = ["subscriber", "lead", "lead", "lead", "marketingqualifiedlead"]
        for p in people {
            var o = FakeHubSpot.Object(id: String(10_000 + p.n), properties: [:], createdAt: p.createdAt, updatedAt: p.createdAt)
            o.properties = [
                "firstname": p.first, "lastname": p.last, "jobtitle": p.title, "lifecyclestage": stages[p.n % stages.count],
                "hubspot_owner_id": String(101 + p.n % 3), "createdate": p.createdAt.iso8601, "lastmodifieddate": p.createdAt.iso8601,
                "country": ["DE", "AT", "CH", "US"][p.n % 4], "hs_analytics_source": ["ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING"][p.n % 3],
            ]
            if let e = p.email { o.properties["email"] = vary ? variant(e, p.n) : e }
            o.associations["companies"] = [String(5000 + p.company)]
            fake.upsert("contacts", o)
            for k in 0..<emailsPerPerson {
                let at = p.createdAt.adding(milliseconds: Int64(k + 1) * 3_600_000)
                var e = FakeHubSpot.Object(id: String(1_000_000 + p.n * max(1, emailsPerPerson) + k), properties: [:], createdAt: at, updatedAt: at)
                e.properties = ["hs_timestamp": at.iso8601, "hs_email_subject": "Hello \(k)", "hs_lastmodifieddate": at.iso8601]
                e.associations["contacts"] = [o.id]
                fake.upsert("emails", e)
            }
        }
        let dealStages = ["appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon", "closedlost"]
        for d in 0..<deals where !people.isEmpty {
            let p = people[rng.int(0...(people.count - 1))]
            let stage = dealStages[d % dealStages.count]
            let created = p.createdAt.adding(milliseconds: 86_400_000 * 3)
            var o = FakeHubSpot.Object(id: String(70_000 + d), properties: [:], createdAt: created, updatedAt: created)
            o.properties = [
                "dealname": "Deal \(d)", "amount": String(1000 + d * 137 % 50_000), "dealstage": stage, "pipeline": "default",
                "hubspot_owner_id": String(101 + d % 3), "createdate": created.iso8601, "hs_lastmodifieddate": created.iso8601,
                "closedate": created.adding(milliseconds: 86_400_000 * 20).iso8601, "hs_is_closed": String(stage.hasPrefix("closed")),
                "hs_is_closed_won": String(stage == "closedwon"),
            ]
            o.associations["contacts"] = [String(10_000 + p.n)]
            o.associations["companies"] = [String(5000 + p.company)]
            fake.upsert("deals", o)
        }
    }

    /// For the benchmark: `people` contacts over `people / 20` companies, `activities` emails.
    public static func fillHubSpot(_ fake: FakeHubSpot, people: Int, activities: Int, seed: UInt64) {
        let persons = Self.people(people, companies: max(1, people / 20), withoutEmail: 0.02, seed: seed)
        fillHubSpot(fake, people: persons, companies: max(1, people / 20), deals: people / 50, emailsPerPerson: people == 0 ? 0 : activities / max(1, people), vary: false, seed: seed)
    }

    // MARK: Salesforce

    /// Users, accounts, leads (the first `leads` people), contacts (the rest), opportunities with
    /// contact roles, a campaign with members, tasks.
    public static func fillSalesforce(_ fake: FakeSalesforce, people: [FakePerson], leads: Int, companies: Set<Int>, vary: Bool) {
        func t(_ x: Timestamp) -> JSONValue { .string(FakeSalesforce.sfTime(x)) }
        for i in 0..<3 {
            fake.insert("User", ["Id": .string("005FAKE0000000\(i)"), "Email": .string("sf-rep-\(i + 1)@us.example"), "Name": .string("SF Rep \(i + 1)"), "IsActive": .bool(true), "SystemModstamp": t(start)])
        }
        for c in companies.sorted() {
            fake.insert(
                "Account",
                [
                    "Id": .string(sfID("001", c)), "Name": .string("Company \(c)"), "Website": .string("https://www.\(domain(c))/"),
                    "Industry": .string("Technology"), "NumberOfEmployees": .number(Double(20 + c)), "BillingCountry": .string("Germany"),
                    "OwnerId": .string("005FAKE0000000\(c % 3)"), "CreatedDate": t(start), "SystemModstamp": t(start),
                ]
            )
        }
        fake.insert(
            "Campaign",
            ["Id": .string(sfID("701", 1)), "Name": .string("Spring Webinar"), "Type": .string("Webinar"), "StartDate": .string("2026-03-01"), "BudgetedCost": .number(5000), "SystemModstamp": t(start)]
        )
        for (i, p) in people.enumerated() {
            let isLead = i < leads
            let id = sfID(isLead ? "00Q" : "003", p.n)
            var r: [String: JSONValue] = [
                "Id": .string(id), "FirstName": .string(p.first), "LastName": .string(p.last), "Title": .string(p.title),
                "OwnerId": .string("005FAKE0000000\(p.n % 3)"), "LeadSource": .string("Web"), "CreatedDate": t(p.createdAt.adding(milliseconds: 1000)),
                "SystemModstamp": t(p.createdAt.adding(milliseconds: 1000)),
            ]
            r["Email"] = p.email.map { .string(vary ? variant($0, p.n + 1) : $0) } ?? .null
            if isLead {
                r["Company"] = .string("Company \(p.company)")
                r["Status"] = .string(p.n % 5 == 0 ? "Working - Contacted" : "Open - Not Contacted")
                r["IsConverted"] = .bool(false)
                r["Country"] = .string("Germany")
            } else {
                r["AccountId"] = companies.contains(p.company) ? .string(sfID("001", p.company)) : .null
                r["MailingCountry"] = .string("Germany")
            }
            fake.insert(isLead ? "Lead" : "Contact", r)
            if i % 4 == 0 {
                fake.insert(
                    "CampaignMember",
                    [
                        "Id": .string(sfID("00v", p.n)), "CampaignId": .string(sfID("701", 1)), isLead ? "LeadId" : "ContactId": .string(id),
                        "Status": .string(i % 8 == 0 ? "Responded" : "Sent"), "HasResponded": .bool(i % 8 == 0),
                        "CreatedDate": t(p.createdAt.adding(milliseconds: 7_200_000)), "SystemModstamp": t(p.createdAt),
                    ]
                )
            }
            if i % 3 == 0 {
                fake.insert(
                    "Task",
                    [
                        "Id": .string(sfID("00T", p.n)), "WhoId": .string(id), "Subject": .string("Call"), "TaskSubtype": .string("Call"),
                        "ActivityDate": .string(p.createdAt.adding(milliseconds: 86_400_000).utcDate.text), "OwnerId": .string("005FAKE0000000\(p.n % 3)"),
                        "CreatedDate": t(p.createdAt), "SystemModstamp": t(p.createdAt),
                    ]
                )
            }
        }
        // Opportunities on some contacts' accounts, with contact roles.
        let contacts = people.dropFirst(leads).filter { companies.contains($0.company) }
        for (k, p) in contacts.enumerated() where k % 10 == 0 {
            let oid = sfID("006", p.n)
            let won = k % 20 == 0
            fake.insert(
                "Opportunity",
                [
                    "Id": .string(oid), "Name": .string("Opportunity \(p.n)"), "Amount": .number(Double(5000 + p.n * 31 % 90_000)),
                    "StageName": .string(won ? "Closed Won" : "Qualification"), "IsClosed": .bool(won), "IsWon": .bool(won),
                    "CloseDate": .string(p.createdAt.adding(milliseconds: 86_400_000 * 30).utcDate.text), "OwnerId": .string("005FAKE0000000\(p.n % 3)"),
                    "AccountId": .string(sfID("001", p.company)), "CreatedDate": t(p.createdAt.adding(milliseconds: 86_400_000)),
                    "SystemModstamp": t(p.createdAt.adding(milliseconds: 86_400_000)),
                ]
            )
            fake.insert(
                "OpportunityContactRole",
                ["Id": .string(sfID("00K", p.n)), "OpportunityId": .string(oid), "ContactId": .string(sfID("003", p.n)), "Role": .string("Decision Maker"), "IsPrimary": .bool(true)]
            )
        }
    }

    /// An 18-character Salesforce-style id.
    public static func sfID(_ prefix: String, _ n: Int) -> String {
        let digits = String(n)
        return prefix + String(repeating: "0", count: max(0, 15 - prefix.count - digits.count)) + digits + "AAA"
    }
}
