import Foundation
import Testing

@testable import SmarketingCore

/// Instants written as text, so the expectations read as the hand computation.
func at(_ text: String) -> Timestamp { try! Timestamp.parse(text).get() }

let hour: Int64 = 3_600_000
let minute: Int64 = 60_000

func calendar(_ id: String, _ zone: String, _ hours: String, weekend: Bool = false, holidays: [String] = []) -> BusinessCalendar {
    let h = BusinessCalendar.parseHours(hours)!
    return BusinessCalendar(
        id: id,
        timeZone: TimeZone(identifier: zone)!,
        weekly: (0..<7).map { $0 < 5 || weekend ? h : [] },
        holidays: Set(holidays.map { LocalDate.parse($0)! })
    )
}

@Suite("Business-hours calendars")
struct BusinessCalendarTests {
    let berlin = calendar("berlin", "Europe/Berlin", "09:00-17:00", holidays: ["2026-12-24", "2026-12-25"])
    let newYork = calendar("ny", "America/New_York", "09:00-17:30")

    @Test("a due time crosses a weekend and the spring DST change (Fri 16:00 CET + 2h → Mon 10:00 CEST)")
    func weekendAndDST() {
        let start = at("2026-03-27T15:00:00Z")  // Friday 16:00 in Berlin (UTC+1)
        #expect(berlin.adding(business: 2 * hour, to: start) == at("2026-03-30T08:00:00Z"))  // Monday 10:00 (UTC+2)
        #expect(berlin.businessTime(from: start, to: at("2026-03-30T08:00:00Z")) == 2 * hour)
    }

    @Test("holidays are skipped (Wed 16:30 + 1h → the Monday after Christmas, 09:30)")
    func holidays() {
        let start = at("2026-12-23T15:30:00Z")
        #expect(berlin.adding(business: hour, to: start) == at("2026-12-28T08:30:00Z"))
        #expect(!berlin.isOpen(at: at("2026-12-24T10:00:00Z")))
        #expect(berlin.isOpen(at: at("2026-12-23T10:00:00Z")))
    }

    @Test("the autumn DST change: a business day is still eight hours, in local time")
    func autumnDST() {
        // Friday 2026-10-23 16:00 CEST (14:00Z) + 2h → Monday 2026-10-26 10:00 CET (09:00Z).
        #expect(berlin.adding(business: 2 * hour, to: at("2026-10-23T14:00:00Z")) == at("2026-10-26T09:00:00Z"))
        #expect(berlin.businessTime(from: at("2026-10-26T00:00:00Z"), to: at("2026-10-27T00:00:00Z")) == 8 * hour)
    }

    @Test("time zones of different offices open at different instants")
    func zones() {
        // Monday 2026-03-09: New York is on EDT already (since Mar 8), Berlin still on CET.
        #expect(berlin.isOpen(at: at("2026-03-09T14:00:00Z")) && newYork.isOpen(at: at("2026-03-09T14:00:00Z")))
        #expect(!berlin.isOpen(at: at("2026-03-09T17:00:00Z")) && newYork.isOpen(at: at("2026-03-09T17:00:00Z")))
        #expect(newYork.nextOpen(atOrAfter: at("2026-03-09T22:00:00Z")) == at("2026-03-10T13:00:00Z"))
    }

    @Test("a start outside hours counts from the next opening; zero budget is now")
    func outside() {
        let saturday = at("2026-11-28T12:00:00Z")
        #expect(berlin.adding(business: 0, to: saturday) == saturday)
        #expect(berlin.adding(business: 30 * minute, to: saturday) == at("2026-11-30T08:30:00Z"))
    }

    @Test("wall times in a DST gap land after it; repeated hours take the first")
    func gaps() {
        #expect(berlin.instant(of: LocalDate.parse("2026-03-29")!, minute: 150) == at("2026-03-29T01:30:00Z"))  // 03:30 CEST
        #expect(berlin.instant(of: LocalDate.parse("2026-10-25")!, minute: 150) == at("2026-10-25T00:30:00Z"))  // first 02:30
    }

    @Test("adding business time and measuring it agree, on random starts and budgets")
    func roundTrip() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<300 {
            let start = Timestamp(milliseconds: at("2026-01-01T00:00:00Z").milliseconds + Int64(rng.int(0...(365 * 24 * 60))) * minute)
            let budget = Int64(rng.int(0...(60 * 24 * 5))) * minute
            let due = berlin.adding(business: budget, to: start)!
            #expect(berlin.businessTime(from: start, to: due) == budget)
        }
    }

    @Test("hours text: ranges, closed, and refusals")
    func hoursText() {
        #expect(BusinessCalendar.parseHours("09:00-12:30, 13:30-17:00") == [540..<750, 810..<1020])
        #expect(BusinessCalendar.parseHours("closed") == [])
        #expect(BusinessCalendar.parseHours("9-5") == nil)
        #expect(BusinessCalendar.parseHours("17:00-09:00") == nil)
        #expect(BusinessCalendar.parseHours("09:00-12:00, 11:00-13:00") == nil)
    }
}

@Suite("SLA clocks")
struct SLAClockTests {
    let berlin = calendar("berlin", "Europe/Berlin", "09:00-17:00")

    @Test("warning, then breach, each once; an answer after the breach is late")
    func warnBreach() throws {
        var c = try #require(SLAClock.start(.accept, at: at("2026-03-27T15:00:00Z"), budget: 2 * hour, calendar: berlin, warnBefore: 30 * minute))
        #expect(c.dueAt == at("2026-03-30T08:00:00Z"))
        #expect(c.warnAt == at("2026-03-30T07:30:00Z"))
        #expect(c.nextAction == c.warnAt)
        #expect(c.tick(now: at("2026-03-30T07:00:00Z")).isEmpty)
        #expect(c.tick(now: at("2026-03-30T07:45:00Z")) == [.warning(at: at("2026-03-30T07:30:00Z"))])
        #expect(c.tick(now: at("2026-03-30T07:50:00Z")).isEmpty)
        #expect(c.nextAction == c.dueAt)
        #expect(c.tick(now: at("2026-03-30T08:00:00Z")) == [.breached(at: at("2026-03-30T08:00:00Z"))])
        #expect(c.tick(now: at("2026-03-30T09:00:00Z")).isEmpty)
        #expect(c.nextAction == nil)
        #expect(c.complete(at: at("2026-03-30T09:00:00Z")) == [.metLate(at: at("2026-03-30T09:00:00Z"))])
        #expect(c.status == .breached)
    }

    @Test("a breach the service has not seen yet is reported with the late answer, and a skipped warning stays skipped")
    func lateWithoutTick() throws {
        var c = try #require(SLAClock.start(.firstTouch, at: at("2026-03-02T10:00:00Z"), budget: hour, calendar: nil, warnBefore: 10 * minute))
        #expect(c.complete(at: at("2026-03-02T12:00:00Z")) == [.breached(at: at("2026-03-02T11:00:00Z")), .metLate(at: at("2026-03-02T12:00:00Z"))])
        #expect(c.tick(now: at("2026-03-02T13:00:00Z")).isEmpty)
    }

    @Test("met in time; the follow-up cadence needs its number of touches")
    func met() throws {
        var c = try #require(SLAClock.start(.accept, at: at("2026-03-02T10:00:00Z"), budget: hour, calendar: nil))
        #expect(c.complete(at: at("2026-03-02T10:30:00Z")) == [.met(at: at("2026-03-02T10:30:00Z"))])
        #expect(c.tick(now: at("2026-03-03T00:00:00Z")).isEmpty)
        var f = try #require(SLAClock.start(.followUp, at: at("2026-03-02T10:00:00Z"), budget: 5 * 24 * hour, calendar: nil, goal: 3))
        #expect(f.record(at: at("2026-03-02T11:00:00Z")).isEmpty)
        #expect(f.record(at: at("2026-03-03T11:00:00Z")).isEmpty)
        #expect(f.record(at: at("2026-03-04T11:00:00Z")) == [.met(at: at("2026-03-04T11:00:00Z"))])
        #expect(f.record(at: at("2026-03-05T11:00:00Z")).isEmpty)
        #expect(f.progress == 3)
    }

    @Test("pausing stops the budget; resuming moves the due time, on the wall clock and in business hours")
    func pause() throws {
        var w = try #require(SLAClock.start(.accept, at: at("2026-03-02T10:00:00Z"), budget: 4 * hour, calendar: nil))
        w.pause(at: at("2026-03-02T11:00:00Z"), calendar: nil)
        #expect(w.status == .paused && w.nextAction == nil)
        #expect(w.tick(now: at("2026-03-02T20:00:00Z")).isEmpty)
        w.resume(at: at("2026-03-02T15:00:00Z"), calendar: nil)
        #expect(w.dueAt == at("2026-03-02T18:00:00Z"))
        // Monday 09:00 CET + 8h business; paused at 13:00 (4h used); resumed Tuesday 09:00 → due 13:00.
        var b = try #require(SLAClock.start(.accept, at: at("2026-03-02T08:00:00Z"), budget: 8 * hour, calendar: berlin))
        #expect(b.dueAt == at("2026-03-02T16:00:00Z"))
        b.pause(at: at("2026-03-02T12:00:00Z"), calendar: berlin)
        b.resume(at: at("2026-03-03T08:00:00Z"), calendar: berlin)
        #expect(b.dueAt == at("2026-03-03T12:00:00Z"))
        #expect(b.remaining(at: at("2026-03-03T10:00:00Z"), calendar: berlin) == 2 * hour)
    }

    @Test("a cancelled clock gives no verdict and fires nothing")
    func cancel() throws {
        var c = try #require(SLAClock.start(.accept, at: at("2026-03-02T10:00:00Z"), budget: hour, calendar: nil, warnBefore: 10 * minute))
        c.cancel(at: at("2026-03-02T10:05:00Z"))
        #expect(c.status == .cancelled && c.nextAction == nil)
        #expect(c.tick(now: at("2026-03-02T12:00:00Z")).isEmpty)
        #expect(c.complete(at: at("2026-03-02T12:00:00Z")).isEmpty)
    }

    @Test("a warning span as long as the budget gives no warning; a calendar that never opens gives no clock")
    func edges() throws {
        let c = try #require(SLAClock.start(.assign, at: at("2026-03-02T10:00:00Z"), budget: hour, calendar: nil, warnBefore: hour))
        #expect(c.warnAt == nil)
        let closed = BusinessCalendar(id: "x", timeZone: TimeZone(identifier: "UTC")!, weekly: Array(repeating: [], count: 7))
        #expect(SLAClock.start(.accept, at: at("2026-03-02T10:00:00Z"), budget: hour, calendar: closed) == nil)
    }
}

@Suite("Routing")
struct RoutingTests {
    let berlin = calendar("berlin", "Europe/Berlin", "09:00-17:00")
    let newYork = calendar("ny", "America/New_York", "09:00-17:30")

    func config(reps: [String: RepSettings] = [:]) -> HandoverConfig {
        HandoverConfig(
            calendars: ["berlin": berlin, "ny": newYork],
            teams: [
                "dach": SalesTeam(id: "dach", calendar: "berlin", manager: "boss", members: ["a", "b", "c"]),
                "world": SalesTeam(id: "world", calendar: "berlin", manager: "boss", members: ["n"]),
            ],
            reasons: [RejectReason(id: "bad_fit", label: "Bad fit", action: .disqualify), RejectReason(id: "timing", label: "Timing", action: .recycle)],
            segments: [Segment(id: "enterprise", when: Conditions([("account.employees", .atLeast(1000))]))],
            router: Router(
                rules: [
                    .accountOwner(id: "owner"),
                    .pool(id: "dach", when: Conditions([("contact.country", .oneOf(["DE", "AT", "CH"]))]), team: "dach"),
                    .pool(id: "rest", when: Conditions(), team: "world"),
                ],
                fallbackQueue: "triage",
                fallbackOwner: "boss"
            ),
            policies: [SLAPolicy(id: "std", acceptWithin: Budget(milliseconds: 4 * hour, business: true))],
            reps: reps.merging(["n": RepSettings(calendar: "ny")]) { a, _ in a }
        )
    }

    func loads(_ open: [String: Int] = [:], assigned: [String: Int] = [:]) -> [String: RepLoad] {
        let caps: [String: Int?] = ["a": 10, "b": 20, "c": 2, "n": nil, "boss": nil, "owner-1": nil]
        var out: [String: RepLoad] = [:]
        for (id, cap) in caps { out[id] = RepLoad(userID: id, capacity: cap, open: open[id] ?? 0, assigned: ["dach": assigned[id] ?? 0]) }
        return out
    }

    let monday = at("2026-03-09T10:00:00Z")  // 11:00 in Berlin, 06:00 in New York

    @Test("the account's owner first; an absent owner falls through with the reason recorded")
    func accountOwner() {
        let d = config().router.route(attributes: ["contact.country": "DE"], accountOwner: "owner-1", config: config(), loads: loads(), at: monday)
        #expect(d.owner == "owner-1" && d.rule == "owner" && d.queue == nil)
        let away = config(reps: ["owner-1": RepSettings(outOfOffice: [at("2026-03-01T00:00:00Z")..<at("2026-03-15T00:00:00Z")])])
        let d2 = away.router.route(attributes: ["contact.country": "DE"], accountOwner: "owner-1", config: away, loads: loads(), at: monday)
        #expect(d2.rule == "dach")
        #expect(d2.trail.first == "owner: the account owner owner-1 is out of office")
    }

    @Test("weighted round-robin gives leads in proportion to capacity, skipping a rep at their cap")
    func weighted() {
        let c = config()
        var open: [String: Int] = [:]
        var assigned: [String: Int] = [:]
        var counts: [String: Int] = [:]
        for _ in 0..<32 {
            let d = c.router.route(attributes: ["contact.country": "AT"], accountOwner: nil, config: c, loads: loads(open, assigned: assigned), at: monday)
            counts[d.owner, default: 0] += 1
            open[d.owner, default: 0] += 1
            assigned[d.owner, default: 0] += 1
        }
        // c (capacity 2) takes two and is then at its cap; a and b share the rest 1:2.
        #expect(counts == ["c": 2, "a": 10, "b": 20])
        let d = c.router.route(attributes: ["contact.country": "AT"], accountOwner: nil, config: c, loads: loads(open, assigned: assigned), at: monday)
        #expect(d.candidates.contains(RoutingCandidate(userID: "c", outcome: "at_capacity")))
    }

    @Test("territories: DACH to its pool, others to the rest; nobody in working hours → the fallback queue with its owner")
    func territories() {
        let c = config()
        // 10:00Z Monday: the New York rep is not at work yet (06:00).
        let us = c.router.route(attributes: ["contact.country": "US"], accountOwner: nil, config: c, loads: loads(), at: monday)
        #expect(us.queue == "triage" && us.owner == "boss" && us.rule == "fallback")
        #expect(us.candidates == [RoutingCandidate(userID: "n", outcome: "outside_working_hours")])
        let later = c.router.route(attributes: ["contact.country": "US"], accountOwner: nil, config: c, loads: loads(), at: at("2026-03-09T17:00:00Z"))
        #expect(later.owner == "n" && later.rule == "rest")
        let saturday = c.router.route(attributes: ["contact.country": "DE"], accountOwner: nil, config: c, loads: loads(), at: at("2026-03-14T10:00:00Z"))
        #expect(saturday.queue == "triage")
        #expect(saturday.trail.contains("dach: contact.country in [DE, AT, CH] → team dach, nobody available"))
    }

    @Test("the same lead, loads and instant give the same decision; excluded reps are skipped")
    func deterministic() {
        let c = config()
        let a = c.router.route(attributes: ["contact.country": "DE"], accountOwner: nil, config: c, loads: loads(), at: monday)
        let b = c.router.route(attributes: ["contact.country": "DE"], accountOwner: nil, config: c, loads: loads(), at: monday)
        #expect(a == b)
        let x = c.router.route(attributes: ["contact.country": "DE"], accountOwner: nil, config: c, loads: loads(), exclude: [a.owner], at: monday)
        #expect(x.owner != a.owner && x.candidates.contains(RoutingCandidate(userID: a.owner, outcome: "excluded")))
    }

    @Test("opening a handover: segment, policy and the owner's clocks on the team calendar; a queued lead runs the assign clock")
    func opening() {
        var c = config()
        c.policies = [
            SLAPolicy(id: "big", when: Conditions([("segment", .oneOf(["enterprise"]))]), acceptWithin: Budget(milliseconds: hour, business: false)),
            SLAPolicy(
                id: "std",
                assignWithin: Budget(milliseconds: 15 * minute, business: false),
                acceptWithin: Budget(milliseconds: 4 * hour, business: true),
                followUp: (3, Budget(milliseconds: 5 * 24 * hour, business: false))
            ),
        ]
        let o = HandoverRules.open(
            config: c,
            attributes: ["contact.country": "DE", "account.employees": "5000"],
            accountOwner: nil,
            loads: loads(),
            at: monday
        )
        #expect(o.segment == "enterprise" && o.policy?.id == "big" && o.clocks.map(\.kind) == [.accept])
        let s = HandoverRules.open(config: c, attributes: ["contact.country": "DE"], accountOwner: nil, loads: loads(), at: at("2026-03-13T15:00:00Z"))
        #expect(s.policy?.id == "std" && s.clocks.map(\.kind) == [.accept, .followUp])
        #expect(s.clocks[0].dueAt == at("2026-03-16T11:00:00Z"))  // Fri 16:00 CET + 4h business: 1h Friday, 3h Monday → 12:00 CET
        #expect(s.clocks[1].goal == 3)
        let q = HandoverRules.open(config: c, attributes: ["contact.country": "DE"], accountOwner: nil, loads: loads(), at: at("2026-03-14T10:00:00Z"))
        #expect(q.decision.queue == "triage" && q.clocks.map(\.kind) == [.assign])
    }

    @Test("sales answers: accept, qualify, reject with a known reason; refusals say why")
    func answers() throws {
        let reasons = config().reasons
        #expect(try HandoverRules.apply(.accept, to: .assigned, reasons: reasons).get() == .accepted)
        #expect(try HandoverRules.apply(.qualify, to: .accepted, reasons: reasons).get() == .qualified)
        #expect(try HandoverRules.apply(.reject(reason: "timing"), to: .assigned, reasons: reasons).get() == .rejected)
        #expect(HandoverRules.stage(after: .reject(reason: "timing"), reasons: reasons) == .recycled)
        #expect(HandoverRules.stage(after: .reject(reason: "bad_fit"), reasons: reasons) == .disqualified)
        #expect(HandoverRules.stage(after: .accept, reasons: reasons) == .sal)
        guard case .failure(let r) = HandoverRules.apply(.reject(reason: "meh"), to: .assigned, reasons: reasons) else {
            Issue.record("an unknown reason was accepted")
            return
        }
        #expect(r.description == "\"meh\" is not a rejection reason (known: bad_fit, timing)")
        if case .success = HandoverRules.apply(.accept, to: .queued, reasons: reasons) { Issue.record("a queued lead was accepted") }
        if case .success = HandoverRules.apply(.accept, to: .accepted, reasons: reasons) { Issue.record("accepted twice") }
        if case .success = HandoverRules.apply(.qualify, to: .rejected, reasons: reasons) { Issue.record("a rejected lead was qualified") }
    }

    @Test("percentiles interpolate linearly")
    func percentiles() {
        #expect(Percentile.of(sorted: [1, 2, 3, 4], 0.5) == 2.5)
        #expect(Percentile.of(sorted: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9.1)
        #expect(Percentile.of(sorted: [], 0.5) == nil)
    }
}

@Suite("Delivery retries")
struct DeliveryRetryTests {
    @Test("backoff doubles from one second to one hour; the tenth failure gives up; huge attempt counts do not trap")
    func policy() {
        let now = Timestamp(milliseconds: 1_000_000)
        #expect((1...13).map { DeliveryRetry.backoff(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600].map { Int64($0) * 1000 })
        #expect(DeliveryRetry.backoff(afterAttempt: 0) == 1000 && DeliveryRetry.backoff(afterAttempt: Int.max) == 3_600_000)
        #expect(DeliveryRetry.afterFailure(attempt: 1, now: now) == .retry(at: now.adding(milliseconds: 1000)))
        #expect(DeliveryRetry.afterFailure(attempt: 9, now: now) == .retry(at: now.adding(milliseconds: 256_000)))
        #expect(DeliveryRetry.afterFailure(attempt: 10, now: now) == .failed)
    }
}

@Suite("The inbox's order and reasons")
struct InboxRulesTests {
    @Test("earliest due first, then handovers without a running clock, ties by id")
    func order() {
        let t = { (s: Int64) in Timestamp(seconds: s) }
        var items: [(nextDue: Timestamp?, id: Int64)] = [(nil, 1), (t(50), 7), (t(10), 9), (t(10), 3), (nil, 0)]
        items.sort { InboxRules.moreUrgent($0, than: $1) }
        #expect(items.map(\.id) == [3, 9, 7, 0, 1])
    }

    @Test("why it is hot: grade with fit, engagement, persona, last touch; non-finite scores do not trap")
    func why() {
        let at = Timestamp(seconds: 1_767_225_600)
        #expect(
            InboxRules.why(grade: "A", fit: 87.6, engagement: 41.4, persona: "cro", lastTouch: ("demo_request", at)) == [
                "grade A (fit 88)", "engagement 41", "persona cro", "last touch: demo_request at 2026-01-01T00:00:00Z",
            ]
        )
        #expect(InboxRules.why(grade: nil, fit: 10, engagement: nil, persona: nil, lastTouch: nil).isEmpty)
        #expect(InboxRules.why(grade: "B", fit: .nan, engagement: .infinity, persona: nil, lastTouch: nil) == ["grade B (fit 0)", "engagement 0"])
        #expect(InboxRules.topContribution(rule: "pricing-page", points: 12.5) == "top: pricing-page +12.5")
        #expect(InboxRules.topContribution(rule: "student", points: -20) == "top: student -20.0")
        #expect(InboxRules.topContributionIndex(in: ["a"]) == 1 && InboxRules.topContributionIndex(in: ["a", "b", "c"]) == 2)
    }
}
