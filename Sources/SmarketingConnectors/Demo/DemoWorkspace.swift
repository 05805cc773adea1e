import Foundation
import SmarketingCore

/// Writes a realistic demo workspace as a bundle: a B2B software company's two years of
/// marketing and sales, reproducible from a seed.
///
/// Shape (documented in docs/DEMO.md): leads arrive with weekday and office-hour rhythm and a
/// seasonal curve (summer and December dips); about a third become MQL, most are accepted, and
/// roughly 10% of leads reach an opportunity; 20–30% of closed deals are won; deal sizes are
/// lognormal; cycles run weeks to months; about 10 touchpoints per lead, marketing touches from
/// the lead's campaigns and sales activities by its owner after assignment; about 1.5% of people
/// exist twice (the same email written differently), as real imports do.
public struct DemoWorkspace {
    public var leads: Int
    public var seed: UInt64
    /// First day of the history.
    public var start = LocalDate(year: 2024, month: 1, day: 1)
    /// Number of days of history.
    public var days = 731

    /// Creates a generator.
    public init(leads: Int, seed: UInt64) {
        self.leads = leads
        self.seed = seed
    }

    /// Counts of what was written.
    public struct Summary: Sendable, Codable {
        public var users = 0, accounts = 0, contacts = 0, campaigns = 0, costs = 0, touchpoints = 0
        public var opportunities = 0, opportunityContacts = 0, personas = 0, content = 0, targets = 0
    }

    static let channels = ["email", "paid_search", "paid_social", "organic_search", "webinar", "events", "content_syndication", "referral", "display"]
    static let channelWeights = [0.20, 0.16, 0.12, 0.18, 0.10, 0.06, 0.08, 0.05, 0.05]
    static let paidChannels: Set<String> = ["paid_search", "paid_social", "events", "content_syndication", "display", "webinar"]
    static let industries = [
        "Software", "Manufacturing", "Financial Services", "Healthcare", "Retail", "Logistics", "Education", "Energy", "Telecommunications", "Public Sector",
    ]
    static let countries = ["DE", "US", "GB", "FR", "NL", "AT", "CH", "SE", "ES", "IT"]
    static let countryWeights = [0.30, 0.22, 0.12, 0.08, 0.06, 0.06, 0.05, 0.04, 0.04, 0.03]
    static let firstNames = [
        "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hannah", "Ivan", "Julia", "Karl", "Lena", "Max", "Nina", "Oskar", "Paula", "Quentin",
        "Rosa", "Sven", "Tina", "Uwe", "Vera", "Willi", "Xenia", "Yusuf", "Zoe", "Liam", "Olivia", "Noah", "Emma", "Mia", "Lucas", "Sofia", "Mateo", "Aylin",
        "Jonas", "Leonie", "Tobias", "Marie", "Jan",
    ]
    static let lastNames = [
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Smith", "Johnson", "Brown", "Garcia",
        "Martin", "Bernard", "Rossi", "Jansen", "Nilsson", "López", "Kowalski", "Novak", "Yilmaz", "Dubois", "Peeters", "O'Brien", "Andersen", "Costa",
        "Keller", "Wolf",
    ]
    static let freeMail = ["gmail.com", "outlook.com", "gmx.de", "web.de", "yahoo.com"]
    static let lostReasons = ["price", "no budget", "competitor", "no decision", "timing", "missing feature"]
    static let companyWords = [
        "Nord", "Blue", "Apex", "Stern", "Vector", "Alpen", "Rhein", "Delta", "Nova", "Kraft", "Lumen", "Terra", "Quantum", "Silver", "Orbit", "Falcon",
        "Atlas", "Helix", "Pioneer", "Summit",
    ]
    static let companySuffix = ["Systems", "Logistik", "Analytics", "Werke", "Solutions", "Labs", "Group", "Technologies", "Partners", "Industries"]

    struct Persona {
        let id: String, name: String, titles: [String], seniority: String
    }
    static let personas = [
        Persona(id: "per-cmo", name: "Marketing leader", titles: ["CMO", "VP Marketing", "Head of Marketing"], seniority: "executive"),
        Persona(
            id: "per-ops",
            name: "Marketing operations",
            titles: ["Marketing Operations Manager", "Marketing Ops Lead", "CRM Manager"],
            seniority: "manager"
        ),
        Persona(id: "per-cro", name: "Revenue leader", titles: ["CRO", "VP Sales", "Head of Sales"], seniority: "executive"),
        Persona(
            id: "per-revops",
            name: "RevOps analyst",
            titles: ["Revenue Operations Analyst", "Sales Operations Manager", "BI Analyst"],
            seniority: "individual"
        ),
        Persona(id: "per-it", name: "IT decision maker", titles: ["CIO", "IT Director", "Head of IT"], seniority: "executive"),
    ]

    /// Writes the bundle into `directory` (created if missing) and returns the counts.
    public func write(to directory: String, progress: (String) -> Void = { _ in }) throws -> Summary {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func open(_ r: Resource) throws -> CSVWriter {
            let w = try CSVWriter(path: (directory as NSString).appendingPathComponent(r.fileName))
            w.write(r.schema.fields.filter { !$0.isExtension || r == .users }.map(\.name))
            return w
        }
        var rng = SeededRandom(seed: seed)
        var summary = Summary()
        let end = start.adding(days: days)

        // Users: a marketing team, SDRs, account executives, two managers and an admin.
        let usersW = try open(.users)
        var marketers: [String] = []
        var sdrs: [String] = []
        var aes: [String] = []
        func user(_ id: String, _ name: String, _ team: String, _ role: String, _ manager: String?, _ capacity: Int?, _ access: String) {
            let email =
                name.lowercased().replacingOccurrences(of: " ", with: ".").replacingOccurrences(of: "'", with: "")
                .folding(options: .diacriticInsensitive, locale: nil) + "@demo-smarketing.example"
            usersW.write([id, email, name, team, role, manager ?? "", capacity.map(String.init) ?? "", "Europe/Berlin", access])
            summary.users += 1
        }
        user("u-admin", "Ada Admin", "admin", "admin", nil, nil, "admin")
        user("u-mkt-mgr", "Marta Marketing", "marketing", "manager", nil, nil, "marketing")
        user("u-sales-mgr", "Sam Sales", "sales", "manager", nil, nil, "sales")
        let nMarketers = max(3, leads / 20_000)
        let nSDR = max(4, leads / 5_000)
        let nAE = max(4, leads / 8_000)
        for i in 0..<nMarketers {
            let id = "u-mkt-\(i + 1)"
            user(id, "\(Self.firstNames[i % 40]) Marketer\(i + 1)", "marketing", "marketer", "u-mkt-mgr", nil, "marketing")
            marketers.append(id)
        }
        for i in 0..<nSDR {
            let id = "u-sdr-\(i + 1)"
            user(id, "\(Self.firstNames[(i + 7) % 40]) Sdr\(i + 1)", "sales", "sdr", "u-sales-mgr", 40 + rng.int(0...40), "sales")
            sdrs.append(id)
        }
        for i in 0..<nAE {
            let id = "u-ae-\(i + 1)"
            user(id, "\(Self.firstNames[(i + 19) % 40]) Ae\(i + 1)", "sales", "ae", "u-sales-mgr", 20 + rng.int(0...20), "sales")
            aes.append(id)
        }
        try usersW.close()

        // Personas and content.
        let personasW = try open(.personas)
        for p in Self.personas {
            let titles = p.titles.map { "\"\($0)\"" }.joined(separator: ",")
            personasW.write([
                p.id, p.name, "Buyer persona: \(p.name.lowercased())", "{\"titles\":[\(titles)],\"seniority\":\"\(p.seniority)\",\"min_employees\":50}",
            ])
            summary.personas += 1
        }
        try personasW.close()
        let contentW = try open(.content)
        var contentByStage: [String: [String]] = [:]
        var cn = 0
        for stage in ["tofu", "mofu", "bofu"] {
            for p in Self.personas {
                for k in 0..<3 {
                    cn += 1
                    let id = "cnt-\(cn)"
                    let type =
                        stage == "tofu"
                        ? ["blog", "video", "whitepaper"][k]
                        : stage == "mofu" ? ["webinar", "whitepaper", "case_study"][k] : ["case_study", "one_pager", "video"][k]
                    contentW.write([
                        id, "\(p.name): \(type.replacingOccurrences(of: "_", with: " ")) \(k + 1)", type, stage, p.id,
                        "https://demo-smarketing.example/\(stage)/\(id)",
                    ])
                    contentByStage[stage, default: []].append(id)
                    summary.content += 1
                }
            }
        }
        try contentW.close()

        // Campaigns: quarterly campaigns per channel, always-on organic/referral.
        let campaignsW = try open(.campaigns)
        struct Campaign { let id: String, channel: String, start: Int, end: Int, dailyCost: Double }
        var campaigns: [Campaign] = []
        var byChannel: [String: [Int]] = [:]
        for (ci, channel) in Self.channels.enumerated() {
            let alwaysOn = channel == "organic_search" || channel == "referral"
            let span = alwaysOn ? days : 91
            var d = 0
            var k = 0
            while d < days {
                k += 1
                let id = "cmp-\(channel.replacingOccurrences(of: "_", with: "-"))-\(k)"
                let e = min(days, d + span)
                let daily = Self.paidChannels.contains(channel) ? (150 + rng.unit() * 600) * Double(max(1, leads / 20_000)) : (channel == "email" ? 40 : 0)
                let c = Campaign(id: id, channel: channel, start: d, end: e, dailyCost: (daily * 100).rounded() / 100)
                byChannel[channel, default: []].append(campaigns.count)
                campaigns.append(c)
                let budget = c.dailyCost * Double(e - d)
                campaignsW.write([
                    id, "\(channel.replacingOccurrences(of: "_", with: " ").capitalized) \(k)", channel,
                    ["acquisition", "nurture", "launch", "brand"][(ci + k) % 4], start.adding(days: d).text, start.adding(days: e - 1).text,
                    budget > 0 ? FieldValue.format((budget * 100).rounded() / 100) : "",
                ])
                summary.campaigns += 1
                d = e
            }
        }
        try campaignsW.close()

        // Costs: daily marketing spend per paid campaign; monthly sales cost.
        let costsW = try open(.costs)
        for c in campaigns where c.dailyCost > 0 {
            for d in c.start..<c.end {
                let amount = (c.dailyCost * (0.8 + 0.4 * rng.unit()) * (start.adding(days: d).weekday >= 5 ? 0.5 : 1) * 100).rounded() / 100
                costsW.write([start.adding(days: d).text, "marketing", FieldValue.format(amount), c.id])
                summary.costs += 1
            }
        }
        var month = start
        while month < end {
            costsW.write([month.text, "sales", FieldValue.format(Double(sdrs.count * 5_500 + aes.count * 9_000)), ""])
            summary.costs += 1
            month = month.adding(days: LocalDate.daysIn(month: month.month, year: month.year))
        }
        try costsW.close()

        // Accounts.
        let accountsW = try open(.accounts)
        let nAccounts = max(10, leads / 6)
        struct Account { let id: String, domain: String, employees: Int, owner: String? }
        var accounts: [Account] = []
        accounts.reserveCapacity(nAccounts)
        for i in 0..<nAccounts {
            let w1 = Self.companyWords[i % 20]
            let w2 = Self.companySuffix[(i / 20) % 10]
            let name = "\(w1) \(w2)" + (i >= 200 ? " \(i / 200)" : "")
            let domain = "\(w1.lowercased())-\(w2.lowercased())\(i >= 200 ? "-\(i / 200)" : "").example"
            let employees = Int(rng.lognormal(median: 180, sigma: 1.4)) + 5
            let owner = rng.chance(0.3) ? rng.element(aes) : nil
            let created = start.adding(days: rng.int(0...(days / 2))).startUTC.adding(milliseconds: Int64(rng.int(8...17)) * 3_600_000)
            accountsW.write([
                "acc-\(i + 1)", name, domain, rng.element(Self.industries), String(employees),
                FieldValue.format(Double(employees) * (80_000 + rng.unit() * 120_000).rounded()),
                rng.pick(Self.countries, weights: Self.countryWeights), owner ?? "", created.iso8601,
            ])
            accounts.append(Account(id: "acc-\(i + 1)", domain: domain, employees: employees, owner: owner))
            summary.accounts += 1
        }
        try accountsW.close()

        // Day weights: weekdays, seasonality (summer and December dips), growth over time.
        var dayWeights: [Double] = []
        for d in 0..<days {
            let date = start.adding(days: d)
            var w = date.weekday >= 5 ? 0.25 : 1.0
            w *= [1.1, 1.15, 1.2, 1.05, 1.0, 0.95, 0.75, 0.7, 1.1, 1.2, 1.15, 0.65][date.month - 1]
            w *= 0.8 + 0.4 * Double(d) / Double(days)
            dayWeights.append(w)
        }
        var cumulative: [Double] = []
        var acc = 0.0
        for w in dayWeights {
            acc += w
            cumulative.append(acc)
        }
        func randomDay() -> Int {
            let x = rng.unit() * acc
            var lo = 0
            var hi = cumulative.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cumulative[mid] < x { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        func officeTime(_ day: Int) -> Timestamp {
            // Office-hour rhythm: mostly 08:00–18:00 UTC with a lunch dip, some evening activity.
            let hour = rng.pick(Array(6...22), weights: [0.5, 1, 3, 5, 6, 5, 3, 4.5, 5, 4.5, 3.5, 2.5, 1.5, 1, 0.8, 0.6, 0.4])
            return start.adding(days: day).startUTC.adding(milliseconds: Int64(hour) * 3_600_000 + Int64(rng.int(0...3_599_999)))
        }

        // Contacts, their touchpoints and their deals, written as they are made.
        let contactsW = try open(.contacts)
        let touchW = try open(.touchpoints)
        let oppW = try open(.opportunities)
        let ocW = try open(.opportunityContacts)
        var tpID = 0
        var oppCount = 0
        var contactsOfAccount: [Int: [String]] = [:]
        let horizon = start.adding(days: days).startUTC
        let hour: Int64 = 3_600_000
        let day: Int64 = 86_400_000
        for i in 0..<leads {
            if i % 50_000 == 0, i > 0 { progress("contacts: \(i)/\(leads)") }
            let id = "ct-\(i + 1)"
            let d = randomDay()
            let created = officeTime(d)
            let first = rng.element(Self.firstNames)
            let last = rng.element(Self.lastNames)
            let business = rng.chance(0.82)
            var accountIndex: Int?
            var email: String
            let local = "\(first).\(last)".lowercased().folding(options: .diacriticInsensitive, locale: nil)
                .replacingOccurrences(of: "'", with: "")
            if business {
                let a = Int(Double(accounts.count) * pow(rng.unit(), 1.6))
                accountIndex = a
                email = "\(local).\(i + 1)@\(accounts[a].domain)"
            } else {
                email = "\(local).\(i + 1)@\(rng.element(Self.freeMail))"
            }
            let persona = rng.chance(0.85) ? rng.element(Self.personas) : nil
            let title = persona.map { rng.element($0.titles) } ?? rng.element(["Consultant", "Student", "Project Manager", "Engineer"])
            let chIndex = rng.pick(Array(0..<Self.channels.count), weights: Self.channelWeights)
            let channel = Self.channels[chIndex]
            let cands = byChannel[channel]!
            let campaign = campaigns[cands.first { campaigns[$0].start <= d && d < campaigns[$0].end } ?? cands[0]]
            let country = rng.pick(Self.countries, weights: Self.countryWeights)
            // Fit drives progression: a persona at a bigger account converts more.
            let fit = (persona != nil ? 1.0 : 0.4) * (accountIndex.map { accounts[$0].employees >= 200 ? 1.3 : 1.0 } ?? 0.5)
            let subscriber = rng.chance(0.08)
            var stage = subscriber ? "subscriber" : "lead"
            var times: [String: Timestamp] = [:]
            var owner: String?
            if !subscriber { times["lead"] = created }
            var t = created
            var reachedOpp = false
            var won: Bool? = nil
            var closeAt: Timestamp?
            if !subscriber, rng.chance(min(0.9, 0.33 * fit)) {
                t = t.adding(milliseconds: Int64(rng.exponential(mean: 12) * Double(day)) + hour)
                if t < horizon {
                    stage = "mql"
                    times["mql"] = t
                    owner = rng.element(sdrs)
                    let assigned = t.adding(milliseconds: Int64(rng.int(1...45)) * 60_000)
                    times["assigned"] = assigned
                    let response = assigned.adding(milliseconds: Int64(rng.lognormal(median: 4, sigma: 1.1) * Double(hour)))
                    if rng.chance(0.8), response < horizon {
                        stage = "sal"
                        times["sal"] = response
                        t = response
                        if rng.chance(0.62) {
                            t = t.adding(milliseconds: Int64(rng.exponential(mean: 6) * Double(day)) + hour)
                            if t < horizon {
                                stage = "sql"
                                times["sql"] = t
                                if rng.chance(0.62) {
                                    t = t.adding(milliseconds: Int64(rng.exponential(mean: 5) * Double(day)) + hour)
                                    if t < horizon {
                                        stage = "opportunity"
                                        times["opportunity"] = t
                                        reachedOpp = true
                                        let cycle = Int64(rng.lognormal(median: 55, sigma: 0.6) * Double(day))
                                        let close = t.adding(milliseconds: cycle)
                                        if close < horizon {
                                            closeAt = close
                                            won = rng.chance(0.26)
                                            if won! {
                                                stage = "customer"
                                                times["customer"] = close
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    } else if response < horizon {
                        stage = "recycled"
                        times["recycled"] = response
                    }
                }
            }
            func ts(_ k: String) -> String { times[k]?.iso8601 ?? "" }
            let accountID = accountIndex.map { accounts[$0].id } ?? ""
            contactsW.write([
                id, email, first, last, title, rng.chance(0.4) ? "+49 30 \(1_000_000 + rng.int(0...8_999_999))" : "",
                accountID, country, persona?.id ?? "", owner ?? "", channel, campaign.id, created.iso8601, stage,
                ts("lead"), ts("mql"), ts("sal"), ts("sql"), ts("opportunity"), ts("customer"), ts("recycled"),
                times["recycled"] != nil ? rng.element(["bad fit", "not reachable", "timing", "no budget"]) : "", ts("assigned"),
            ])
            summary.contacts += 1
            if let a = accountIndex { contactsOfAccount[a, default: []].append(id) }

            // Touchpoints: the first one creates the lead, then nurture until the last stage.
            let lastStage = closeAt ?? times["opportunity"] ?? times["sql"] ?? times["sal"] ?? times["mql"] ?? created
            let journeyEnd = min(horizon.milliseconds - 1, max(lastStage.milliseconds, created.milliseconds + Int64(rng.exponential(mean: 60) * Double(day))))
            let n = max(1, Int(rng.lognormal(median: 8, sigma: 0.55)))
            func touch(_ at: Timestamp, _ type: String, channel: String, campaign: String?, content: String?, actor: String?, props: String) {
                tpID += 1
                touchW.write(["tp-\(tpID)", id, at.iso8601, type, channel, campaign ?? "", content ?? "", actor ?? "", props])
                summary.touchpoints += 1
            }
            touch(
                created,
                rng.element(["form_submit", "content_download", "webinar_registered"]),
                channel: channel,
                campaign: campaign.id,
                content: rng.element(contentByStage["tofu"]!),
                actor: nil,
                props: "{\"url\":\"/lp/\(campaign.id)\"}"
            )
            for _ in 1..<n {
                let at = Timestamp(milliseconds: created.milliseconds + Int64(rng.unit() * Double(journeyEnd - created.milliseconds)))
                let ch = rng.chance(0.55) ? channel : Self.channels[rng.pick(Array(0..<Self.channels.count), weights: Self.channelWeights)]
                let cc = byChannel[ch]!
                let dd = Int((at.milliseconds - start.startUTC.milliseconds) / day)
                let cmp = campaigns[cc.first { campaigns[$0].start <= dd && dd < campaigns[$0].end } ?? cc[0]].id
                let type: String
                var props = ""
                var content: String?
                switch ch {
                case "email": type = rng.chance(0.6) ? "email_open" : "email_click"
                case "webinar":
                    type = rng.chance(0.5) ? "webinar_registered" : "webinar_attended"
                    content = rng.element(contentByStage["mofu"]!)
                case "events": type = "event_visit"
                case "paid_search", "paid_social", "display": type = "ad_click"
                default:
                    type = rng.pick(["page_view", "content_download", "chat"], weights: [0.8, 0.15, 0.05])
                    if type == "page_view" {
                        props =
                            "{\"url\":\"\(rng.pick(["/pricing", "/product", "/blog/funnel-metrics", "/case-studies", "/careers", "/docs"], weights: [0.2, 0.3, 0.25, 0.12, 0.05, 0.08]))\"}"
                    } else if type == "content_download" {
                        content = rng.element(contentByStage[reachedOpp ? "bofu" : "mofu"]!)
                    }
                }
                touch(at, type, channel: ch, campaign: cmp, content: content, actor: nil, props: props)
            }
            if rng.chance(0.01) {
                touch(Timestamp(milliseconds: journeyEnd), "unsubscribe", channel: "email", campaign: nil, content: nil, actor: nil, props: "")
            }
            // Sales activities by the owner once assigned.
            if let owner, let assigned = times["assigned"] {
                if let sal = times["sal"] { touch(sal, "sales_accept", channel: "", campaign: nil, content: nil, actor: owner, props: "") }
                if let rec = times["recycled"] {
                    touch(rec, "sales_reject", channel: "", campaign: nil, content: nil, actor: owner, props: "{\"reason\":\"not ready\"}")
                }
                let calls = rng.int(0...3)
                for _ in 0..<calls {
                    let at = assigned.adding(milliseconds: Int64(rng.exponential(mean: 3) * Double(day)))
                    if at < horizon {
                        touch(at, rng.element(["call", "email_sent", "meeting"]), channel: "", campaign: nil, content: nil, actor: owner, props: "")
                    }
                }
            }
            // A deal for contacts that reached an opportunity.
            if reachedOpp, let oppAt = times["opportunity"] {
                oppCount += 1
                let oid = "opp-\(oppCount)"
                let amount = (rng.lognormal(median: 18_000, sigma: 0.9) / 100).rounded() * 100
                let ae = accountIndex.flatMap { accounts[$0].owner } ?? rng.element(aes)
                let expected = closeAt ?? oppAt.adding(milliseconds: Int64(rng.lognormal(median: 60, sigma: 0.5) * Double(day)))
                let stageName = won == true ? "Closed Won" : won == false ? "Closed Lost" : rng.element(["Discovery", "Proposal", "Negotiation"])
                let dealAccount: String
                if let a = accountIndex {
                    dealAccount = accounts[a].id
                } else {
                    // A free-mail lead's deal still needs a company: give it one of the small accounts.
                    dealAccount = accounts[accounts.count - 1 - (i % min(50, accounts.count))].id
                }
                oppW.write([
                    oid, dealAccount, oppAt.iso8601, "\(first) \(last) — \(["Starter", "Growth", "Enterprise"][rng.int(0...2)])",
                    FieldValue.format(amount), stageName, ae, id, expected.utcDate.text, closeAt?.iso8601 ?? "",
                    won.map { $0 ? "true" : "false" } ?? "", won == false ? rng.element(Self.lostReasons) : "",
                ])
                summary.opportunities += 1
                ocW.write([oid, id, "decision_maker"])
                summary.opportunityContacts += 1
                if let a = accountIndex, let others = contactsOfAccount[a], others.count > 1, rng.chance(0.35) {
                    // In drawing order without repeats: a Set's order differs between instances
                    // (per-instance hash seeds), and the bundle must be the same for the same seed.
                    var picked: [String] = []
                    for other in (0..<rng.int(1...2)).map({ _ in rng.element(others) }) where !picked.contains(other) { picked.append(other) }
                    for other in picked where other != id {
                        ocW.write([oid, other, rng.element(["influencer", "champion", "technical_buyer"])])
                        summary.opportunityContacts += 1
                    }
                }
            }
            // About 1.5% of people come twice: the same address written differently, later.
            if rng.chance(0.015) {
                let dupCreated = created.adding(milliseconds: Int64(rng.exponential(mean: 30) * Double(day)))
                if dupCreated < horizon {
                    let dupID = "ct-\(i + 1)-dup"
                    contactsW.write([
                        dupID, " " + email.uppercased(), first, last, "", "", accountID, country, "", "", "organic_search", "",
                        dupCreated.iso8601, "lead", dupCreated.iso8601, "", "", "", "", "", "", "", "",
                    ])
                    summary.contacts += 1
                    tpID += 1
                    touchW.write(["tp-\(tpID)", dupID, dupCreated.iso8601, "form_submit", "organic_search", "", "", "", "{\"url\":\"/contact\"}"])
                    summary.touchpoints += 1
                }
            }
        }
        for w in [contactsW, touchW, oppW, ocW] { try w.close() }

        // Targets: monthly revenue, MQL and pipeline goals, growing over time, from the history's
        // first month through the quarter after the one the history ends in (so the current
        // quarter's pipeline review and next quarter's planning have targets).
        let targetsW = try open(.targets)
        let perMonth = Double(leads) / 24
        let lastIndex = end.monthIndex - (end.month - 1) % 3 + 6
        for (m, index) in (start.monthIndex..<lastIndex).enumerated() {
            let p = String(LocalDate(monthIndex: index).text.prefix(7))
            let growth = 0.8 + 0.4 * Double(m) / 24
            targetsW.write([p, "mqls", FieldValue.format((perMonth * 0.3 * growth).rounded()), ""])
            targetsW.write([p, "revenue", FieldValue.format((perMonth * 0.025 * 24_000 * growth / 100).rounded() * 100), ""])
            targetsW.write([p, "pipeline", FieldValue.format((perMonth * 0.09 * 24_000 * growth / 100).rounded() * 100), ""])
            summary.targets += 3
        }
        try targetsW.close()
        return summary
    }
}
