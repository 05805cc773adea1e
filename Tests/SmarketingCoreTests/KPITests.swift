import Foundation
import Testing

@testable import SmarketingCore

@Suite("KPIs: contributions and values")
struct KPITests {
    let utc = KPICalendar()
    let hour: Int64 = 3_600_000
    let day: Int64 = 86_400_000

    func t(_ s: String) -> Timestamp { try! Timestamp.parse(s).get() }
    func d(_ s: String) -> Int64 { LocalDate.parse(s)!.daysSinceEpoch }

    func sums(_ contributions: [KPIContribution], _ dim: KPIDimension = .all, key: String = "all", from: String, to: String) -> KPICellSums {
        var s = KPICellSums()
        for c in contributions {
            for (k, v) in c.cells where k.dimension == dim && k.key == key && k.day >= d(from) && k.day < d(to) && k.metric != .openOpportunities {
                s.add(k.metric, label: k.label, value: k.value, v)
            }
        }
        return s
    }

    func open(_ contributions: [KPIContribution]) -> KPICellSums {
        var s = KPICellSums()
        for c in contributions { for (k, v) in c.cells where k.dimension == .all && k.metric == .openOpportunities { s.add(k.metric, label: "", value: 0, v) } }
        return s
    }

    @Test("a contact falls into the lead, MQL, assignment and response cells of its own days and cuts")
    func contactCells() {
        let c = ContactKPIFacts(
            createdAt: t("2026-01-05T10:00:00Z"),
            stage: "opportunity",
            mqlAt: t("2026-01-10T09:00:00Z"),
            salAt: t("2026-01-10T12:00:00Z"),
            opportunityAt: t("2026-02-01T00:00:00Z"),
            assignedAt: t("2026-01-10T09:30:00Z"),
            respondedAt: t("2026-01-11T11:30:00Z"),  // 26 h: outside a 24 h target
            responseBusinessMs: 9 * hour,
            cuts: KPICuts([.channel: "webinar", .owner: "u1"])
        )
        let cells = KPIContribution.of(c, calendar: utc, slaMs: 24 * hour).cells
        func has(_ m: KPIMetric, _ day: String, value: Int64 = 0, dim: KPIDimension = .all, key: String = "all") -> KPITally? {
            cells[KPIKey(m, dim, key, day: d(day), value: value)]
        }
        #expect(has(.leads, "2026-01-05") == KPITally(count: 1))  // no became_lead_at: created_at
        #expect(has(.leadsConverted, "2026-01-05") == KPITally(count: 1))
        #expect(has(.mqls, "2026-01-10", dim: .channel, key: "webinar") == KPITally(count: 1))
        #expect(has(.mqlsConverted, "2026-01-10", dim: .owner, key: "u1") == KPITally(count: 1))
        #expect(has(.mqlsAccepted, "2026-01-10", dim: .persona, key: "(none)") == KPITally(count: 1))
        #expect(has(.assigned, "2026-01-10") == KPITally(count: 1))
        #expect(has(.response, "2026-01-10", value: 26 * hour) == KPITally(count: 1, total: 26 * hour))
        #expect(has(.responseBusiness, "2026-01-10", value: 9 * hour) == KPITally(count: 1, total: 9 * hour))
        #expect(has(.responseInSLA, "2026-01-10") == nil)
        // every record cell is written once per cut: all + six cuts
        #expect(cells.keys.filter { $0.metric == .mqls }.count == 7)

        let subscriber = ContactKPIFacts(createdAt: t("2026-01-05T10:00:00Z"), stage: "subscriber")
        #expect(KPIContribution.of(subscriber, calendar: utc, slaMs: 24 * hour).cells.isEmpty)
        var promoted = subscriber
        promoted.becameLeadAt = t("2026-03-01T00:00:00Z")
        #expect(
            KPIContribution.of(promoted, calendar: utc, slaMs: 24 * hour).cells.keys.filter { !$0.metric.isFunnel }.allSatisfy {
                $0.metric == .leads && $0.day == d("2026-03-01")
            }
        )
    }

    @Test("days are local days of the workspace time zone")
    func localDays() {
        let berlin = KPICalendar(timeZone: TimeZone(identifier: "Europe/Berlin")!)
        #expect(berlin.day(t("2026-03-29T22:30:00Z")) == d("2026-03-30"))  // 00:30 CEST
        #expect(utc.day(t("2026-03-29T22:30:00Z")) == d("2026-03-29"))
        #expect(berlin.day(t("2026-01-01T22:59:59Z")) == d("2026-01-01"))  // 23:59:59 CET
        #expect(berlin.day(t("1969-12-31T23:30:00Z")) == d("1970-01-01"))
        #expect(utc.day(t("1969-12-31T23:30:00Z")) == d("1969-12-31"))
    }

    @Test("deals: won with velocity and cycle, lost with its reason, open in the pipeline of its expected close")
    func dealCells() {
        let won = DealKPIFacts(
            createdAt: t("2026-01-01T00:00:00Z"),
            closedAt: t("2026-01-31T00:00:00Z"),
            isWon: true,
            amountCents: 1_000_000,
            firstMarketingTouchAt: t("2025-12-22T00:00:00Z")
        )
        let c = KPIContribution.of(won, calendar: utc).cells
        #expect(c[KPIKey(.won, .all, "all", day: d("2026-01-31"))] == KPITally(count: 1, total: 1_000_000))
        #expect(c[KPIKey(.wonCycle, .all, "all", day: d("2026-01-31"))] == KPITally(count: 1, total: 30 * day))
        #expect(c[KPIKey(.velocity, .all, "all", day: d("2026-01-31"), value: 40 * day)] == KPITally(count: 1, total: 40 * day))
        #expect(c[KPIKey(.oppsCreatedWon, .all, "all", day: d("2026-01-01"))] == KPITally(count: 1))
        var late = won
        late.firstMarketingTouchAt = nil
        #expect(KPIContribution.of(late, calendar: utc).cells[KPIKey(.wonWithoutTouch, .all, "all", day: d("2026-01-31"))] == KPITally(count: 1))

        let lost = DealKPIFacts(createdAt: t("2026-01-01T00:00:00Z"), closedAt: t("2026-02-01T00:00:00Z"), isWon: false, lostReason: "price")
        #expect(KPIContribution.of(lost, calendar: utc).cells[KPIKey(.lostReason, .all, "all", day: d("2026-02-01"), label: "price")] == KPITally(count: 1))

        let open = DealKPIFacts(createdAt: t("2026-01-01T00:00:00Z"), amountCents: 50_000, expectedCloseDay: d("2026-03-15"), probabilityPercent: 50)
        let o = KPIContribution.of(open, calendar: utc).cells
        #expect(o[KPIKey(.openOpportunities, .all, "all", day: 0)] == KPITally(count: 1, total: 50_000))
        #expect(o[KPIKey(.openPipelineWeighted, .all, "all", day: d("2026-03-15"))] == KPITally(count: 1, total: 2_500_000))
        // decided but without a close time: in no period
        let odd = DealKPIFacts(createdAt: t("2026-01-01T00:00:00Z"), isWon: true)
        #expect(KPIContribution.of(odd, calendar: utc).cells.keys.allSatisfy { $0.metric == .oppsCreated })
    }

    @Test("a change is the new contribution minus the old one; no change is no delta")
    func deltas() {
        var c = ContactKPIFacts(createdAt: t("2026-01-05T10:00:00Z"), mqlAt: t("2026-01-10T09:00:00Z"), cuts: KPICuts([.channel: "email"]))
        let before = KPIContribution.of(c, calendar: utc, slaMs: 0)
        #expect(KPIContribution.delta(from: before, to: before).isEmpty)
        c.cuts = KPICuts([.channel: "webinar"])
        let d = KPIContribution.delta(from: before, to: KPIContribution.of(c, calendar: utc, slaMs: 0))
        #expect(d[KPIKey(.mqls, .channel, "email", day: self.d("2026-01-10"))] == KPITally(count: -1))
        #expect(d[KPIKey(.mqls, .channel, "webinar", day: self.d("2026-01-10"))] == KPITally(count: 1))
        #expect(d[KPIKey(.mqls, .all, "all", day: self.d("2026-01-10"))] == nil)
        #expect(d.filter { !$0.key.metric.isFunnel }.count == 4)  // leads and MQLs, each out of email and into webinar
        // funnel: the cohort's furthest stage, entering lead and MQL, time as a lead — each moved too
        #expect(d.count == 12)
    }

    @Test("the KPI set of a hand-computed quarter")
    func handComputedQuarter() {
        // Four MQLs in January: responses of 1, 2, 3 and 4 hours; one unanswered; two reach an opportunity.
        var contacts: [KPIContribution] = []
        for i in 0..<5 {
            let assigned = t("2026-01-1\(i)T09:00:00Z")
            let c = ContactKPIFacts(
                createdAt: t("2026-01-0\(i + 1)T09:00:00Z"),
                mqlAt: assigned,
                salAt: i < 3 ? assigned : nil,
                opportunityAt: i < 2 ? t("2026-02-01T00:00:00Z") : nil,
                assignedAt: assigned,
                respondedAt: i < 4 ? assigned.adding(milliseconds: Int64(i + 1) * hour) : nil
            )
            contacts.append(KPIContribution.of(c, calendar: utc, slaMs: 2 * hour))
        }
        // Two won (10,000 and 30,000; 20 and 40 days from first touch; 10 and 30 days of cycle), one lost, one open.
        let deals = [
            DealKPIFacts(
                createdAt: t("2026-01-20T00:00:00Z"),
                closedAt: t("2026-01-30T00:00:00Z"),
                isWon: true,
                amountCents: 1_000_000,
                firstMarketingTouchAt: t("2026-01-10T00:00:00Z")
            ),
            DealKPIFacts(
                createdAt: t("2026-01-01T00:00:00Z"),
                closedAt: t("2026-01-31T00:00:00Z"),
                isWon: true,
                amountCents: 3_000_000,
                firstMarketingTouchAt: t("2025-12-22T00:00:00Z")
            ),
            DealKPIFacts(createdAt: t("2026-01-05T00:00:00Z"), closedAt: t("2026-02-10T00:00:00Z"), isWon: false, lostReason: "price"),
            DealKPIFacts(createdAt: t("2026-02-01T00:00:00Z"), amountCents: 2_000_000, expectedCloseDay: d("2026-03-20"), probabilityPercent: 50),
        ].map { KPIContribution.of($0, calendar: utc) }
        let costs = [
            CostKPIFacts(day: d("2026-01-15"), category: "marketing", amountCents: 800_000, campaign: "c1", channel: "email"),
            CostKPIFacts(day: d("2026-02-15"), category: "sales", amountCents: 200_000, campaign: nil, channel: nil),
            CostKPIFacts(day: d("2026-04-01"), category: "marketing", amountCents: 999_900, campaign: nil, channel: nil),  // next quarter
        ].map(KPIContribution.of)
        let accounts = [KPIContribution.account(firstWonAt: t("2026-01-30T00:00:00Z"), calendar: utc)]
        let all = contacts + deals + costs + accounts
        let p = sums(all, from: "2026-01-01", to: "2026-04-01")
        let targets = [
            KPITarget(year: 2026, month: 1, metric: "revenue", value: 30_000, segment: nil),
            KPITarget(year: 2026, month: 2, metric: "revenue", value: 30_000, segment: nil),
            KPITarget(year: 2026, month: 3, metric: "revenue", value: 30_000, segment: nil),
            KPITarget(year: 2026, month: 1, metric: "mqls", value: 4, segment: "smb"),
            KPITarget(year: 2026, month: 1, metric: "mqls", value: 6, segment: "enterprise"),
        ]
        let period = KPIPeriod(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 4, day: 1))
        let v = KPIValues.compute(
            period: p,
            open: open(all),
            revenueTarget: KPITarget.total(targets, metric: "revenue", period: period),
            mqlTarget: KPITarget.total(targets, metric: "mqls", period: period),
            slaHours: 2,
            customersKnown: true
        )
        #expect(v.leadToOpportunity.mqlCohort == .init(population: 5, converted: 2, rate: 0.4))
        #expect(v.leadToOpportunity.leadCohort == .init(population: 5, converted: 2, rate: 0.4))
        #expect(v.winRate.won == 2 && v.winRate.lost == 1 && v.winRate.rate == 2.0 / 3)
        #expect(v.winRate.cohort == .init(population: 4, converted: 2, rate: 0.5))
        let r = v.leadResponseTime
        #expect(r.assignedMqls == 5 && r.answered == 4 && r.unanswered == 1)
        #expect(r.medianHours == 2.5)
        #expect(abs(r.p90Hours! - 3.7) < 1e-12)  // 3 + 0.7 × (4 − 3)
        #expect(r.meanHours == 2.5)
        #expect(r.slaCompliance == 2.0 / 5)  // 1 h and 2 h within 2 h; the unanswered one is a breach
        #expect(v.dealVelocity.medianDays == 30 && v.dealVelocity.meanDays == 30)
        #expect(v.dealVelocity.wonRevenue == 40_000 && v.dealVelocity.avgCycleDays == 20)
        // sales velocity = 1 open × 2/3 × 20,000 ÷ 20 days
        #expect(abs(v.salesVelocity.valuePerDay! - 1 * (2.0 / 3) * 20_000 / 20) < 1e-9)
        #expect(v.cac == .init(marketingSpend: 8_000, salesCost: 2_000, newCustomers: 1, cac: 10_000, otherCategoryRows: 0))
        // coverage: 20,000 open ÷ (90,000 target − 40,000 won); weighted at 50%
        #expect(v.pipelineCoverage.coverage == 0.4 && v.pipelineCoverage.weightedCoverage == 0.2)
        #expect(v.mqlVolume == .init(mqls: 5, target: 10, ratio: 0.5, costPerMql: 1_600))
        #expect(v.mqlAcceptance == .init(population: 5, converted: 3, rate: 0.6))
        #expect(v.lostReasons == [.init(reason: "price", count: 1)])

        // Nothing in the period: every ratio is nil, nothing divides by zero.
        let empty = KPIValues.compute(period: KPICellSums(), open: KPICellSums(), revenueTarget: 0, mqlTarget: nil, slaHours: 24, customersKnown: true)
        #expect(empty.winRate.rate == nil && empty.leadResponseTime.medianHours == nil && empty.cac.cac == nil)
        #expect(empty.pipelineCoverage.coverage == nil && empty.salesVelocity.valuePerDay == nil && empty.mqlVolume.ratio == nil)
    }

    @Test("targets: the row without a segment, else the sum of the segments; months pro rata by days")
    func targets() {
        let rows = [
            KPITarget(year: 2026, month: 4, metric: "mqls", value: 300, segment: nil),
            KPITarget(year: 2026, month: 4, metric: "mqls", value: 999, segment: "smb"),  // ignored: a total row exists
            KPITarget(year: 2026, month: 5, metric: "mqls", value: 100, segment: "smb"),
            KPITarget(year: 2026, month: 5, metric: "mqls", value: 210, segment: "enterprise"),
        ]
        // 16–30 April (15 of 30 days) + 1–10 May (10 of 31 days)
        let p = KPIPeriod(from: LocalDate(year: 2026, month: 4, day: 16), to: LocalDate(year: 2026, month: 5, day: 11))
        #expect(abs(KPITarget.total(rows, metric: "mqls", period: p)! - (150 + 310 * 10 / 31.0)) < 1e-9)
        #expect(abs(KPITarget.total(rows, metric: "mqls", period: p, segment: "smb")! - (999 * 0.5 + 100 * 10 / 31.0)) < 1e-9)
        #expect(KPITarget.total(rows, metric: "revenue", period: p) == nil)
        #expect(KPITarget.total(rows, metric: "mqls", period: p, segment: "mid") == nil)
        #expect(p.previous == KPIPeriod(from: LocalDate(year: 2026, month: 3, day: 22), to: LocalDate(year: 2026, month: 4, day: 16)))
        // whole months: the same number of months before (Q1 → Q4 of the year before, not 90 days)
        let q1 = KPIPeriod(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 4, day: 1))
        #expect(q1.previous == KPIPeriod(from: LocalDate(year: 2025, month: 10, day: 1), to: LocalDate(year: 2026, month: 1, day: 1)))
    }

    @Test("percentiles of counted samples equal those of the expanded list")
    func countedPercentiles() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<200 {
            var s = KPICellSums()
            var expanded: [Double] = []
            for _ in 0..<rng.int(1...30) {
                let v = Int64(rng.int(0...20))
                let n = Int64(rng.int(1...3))
                s.add(.response, label: "", value: v, KPITally(count: n, total: v * n))
                expanded += Array(repeating: Double(v), count: Int(n))
            }
            expanded.sort()
            for q in [0.0, 0.1, 0.5, 0.9, 1.0] {
                #expect(abs(s.percentile(.response, q, unit: 1)! - Percentile.of(sorted: expanded, q)!) < 1e-9)
            }
        }
    }

    @Test("sorted runs: encode/decode round trip, count changes, merges; percentiles over runs equal those over cells")
    func sortedRuns() {
        var random = SeededRandom(seed: 9)
        for _ in 0..<50 {
            let values = (0..<random.int(0...300)).map { _ in Int64(random.int(0...5_000_000)) - (random.chance(0.1) ? 1_000_000 : 0) }.sorted()
            #expect(SortedRuns.decode(SortedRuns.encode(values)) == values)
            var changes: [Int64: Int64] = [:]
            for v in values.prefix(5) { changes[v, default: 0] -= 1 }
            changes[42, default: 0] += 2
            var expected = values
            for v in values.prefix(5) { expected.remove(at: expected.firstIndex(of: v)!) }
            expected += [42, 42]
            #expect(SortedRuns.apply(values, changes) == expected.sorted())
            let split = random.int(0...values.count)
            #expect(SortedRuns.merge([Array(values[..<split]), [], Array(values[split...])].map { $0.sorted() }) == values)
            // a percentile from a run plus day cells equals the one from cells alone
            var cells = KPICellSums()
            var mixed = KPICellSums()
            for v in values { cells.add(.response, label: "", value: v, KPITally(count: 1, total: v)) }
            mixed.add(.response, run: Array(values[..<split]), KPITally(count: Int64(split), total: values[..<split].reduce(0, +)))
            for v in values[split...] { mixed.add(.response, label: "", value: v, KPITally(count: 1, total: v)) }
            #expect(cells.percentile(.response, 0.5, unit: 1) == mixed.percentile(.response, 0.5, unit: 1))
            #expect(cells.percentile(.response, 0.9, unit: 1) == mixed.percentile(.response, 0.9, unit: 1))
            #expect(cells.tallies == mixed.tallies)
        }
    }

    @Test("the JSON keeps every key: unknown figures are null, not missing")
    func explicitNulls() throws {
        let empty = KPIValues.compute(period: KPICellSums(), open: KPICellSums(), revenueTarget: nil, mqlTarget: nil, slaHours: 24, customersKnown: false)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let object = try JSONSerialization.jsonObject(with: encoder.encode(empty)) as! [String: Any]
        let response = object["lead_response_time"] as! [String: Any]
        #expect(response["median_hours"] is NSNull && response["sla_compliance"] is NSNull)
        #expect((object["pipeline_coverage"] as! [String: Any])["revenue_target"] is NSNull)
        #expect(Set(object.keys).count == 13)
        #expect(object["stale_leads"] is NSNull)
        // and it reads back
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(KPIValues.self, from: encoder.encode(empty)) == empty)
    }
}
