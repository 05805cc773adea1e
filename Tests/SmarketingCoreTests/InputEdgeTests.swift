import Foundation
import Testing

@testable import SmarketingCore

/// The checks every way in shares: value ranges, the year window, the documented input forms
/// and the spreadsheet-safe CSV cells. Generated inputs come from a seeded generator.
@Suite("Input edges")
struct InputEdgeTests {
    @Test("money and counts outside their ranges, NaN and infinities are refused by every field; in range they read back")
    func ranges() throws {
        let amount = Resource.costs.schema.field("amount")!
        for bad in ["1e308", "-5", "1000000000000.01", "inf", "nan", "1e13"] {
            guard case .failure = amount.parse(bad) else {
                Issue.record("amount \(bad) was accepted")
                continue
            }
        }
        #expect(amount.check(.number(.infinity)) != nil)
        #expect(amount.check(.number(.nan)) != nil)
        #expect(amount.check(.number(1e308))?.message.contains("0–1000000000000") == true)
        #expect(try amount.parse("1000000000000").get() == .number(1e12))
        let capacity = Resource.users.schema.field("capacity")!
        #expect(capacity.check(.integer(-1)) != nil)
        #expect(capacity.check(.integer(1_000_000_001)) != nil)
        #expect(capacity.check(.integer(40)) == nil)
        // Money never traps, whatever an old database holds.
        #expect(Money.cents(1e308) == Money.maxCents)
        #expect(Money.cents(-1e308) == -Money.maxCents)
        #expect(Money.cents(.nan) == 0)
        #expect(Money.weighted(Int64.max, percent: 100) == Int64.max)
        #expect(Money.weighted(12_345, percent: 250) == 1_234_500)
        // Tallies kept as sums of deltas wrap and come back exactly.
        let big = KPITally(count: 1, total: Int64.max)
        #expect(((big + big) - big).total == Int64.max)
    }

    @Test("the year window 1900–2199 holds for timestamps, dates and months")
    func years() throws {
        for t in ["1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
            #expect(Timestamp.parse(t) == .failure(.outsideYears), "\(t)")
        }
        #expect((try? Timestamp.parse("1900-01-01T00:00:00Z").get()) != nil)
        #expect((try? Timestamp.parse("2199-12-31T23:59:59Z").get()) != nil)
        #expect(LocalDate.parse("2200-01-01") == nil && LocalDate.parse("2199-12-31") != nil)
        guard case .failure(let p) = FieldType.date.parse("0005-05-05") else { return #expect(Bool(false)) }
        #expect(p.message.contains("1900"))
        guard case .failure = FieldType.month.parse("2300-01") else { return #expect(Bool(false)) }
    }

    @Test("every text of a documented form is read by its parser (5,000 seeded samples per form)")
    func documentedFormsParse() throws {
        var rng = SeededRandom(seed: 14)
        func digits(_ n: Int) -> String { (0..<n).map { _ in String(rng.int(0...9)) }.joined() }
        func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let dateRE = try NSRegularExpression(pattern: InputPattern.date)
        let stampRE = try NSRegularExpression(pattern: InputPattern.timestamp)
        func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
            re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s))?.range.length == s.utf16.count
        }
        var matched = 0
        for _ in 0..<5_000 {
            let date = "\(rng.int(1890...2210))-\(pad(rng.int(0...13)))-\(pad(rng.int(0...32)))"
            let time = "T\(pad(rng.int(0...24))):\(pad(rng.int(0...60)))" + (rng.int(0...1) == 0 ? ":\(pad(rng.int(0...60)))" : "")
                + (rng.int(0...2) == 0 ? "." + digits(rng.int(1...9)) : "")
            let zone = ["Z", "z", "+\(pad(rng.int(0...19))):\(pad(rng.int(0...59)))", "-\(pad(rng.int(0...18)))\(pad(rng.int(0...59)))"][rng.int(0...3)]
            let stamp = date + time + zone
            if matches(dateRE, date) {
                matched += 1
                #expect(LocalDate.parse(date) != nil, "\(date) fits the pattern but does not parse")
            } else {
                #expect(LocalDate.parse(date) == nil || !(1900...2199).contains(Int(date.prefix(4)) ?? 0), "\(date) parses but misses the pattern")
            }
            if matches(stampRE, stamp) { #expect((try? Timestamp.parse(stamp).get()) != nil, "\(stamp) fits the pattern but does not parse") }
        }
        #expect(matched > 1_000)
        let emailRE = try NSRegularExpression(pattern: InputPattern.email)
        let local = Array("abcXYZ019!#$%&'*+/=?^_`{|}~.-")
        for _ in 0..<5_000 {
            let name = String((0..<rng.int(1...12)).map { _ in local[rng.int(0...(local.count - 1))] })
            let host = (0..<rng.int(2...4)).map { _ in String((0..<rng.int(1...8)).map { _ in Array("abz09-Q")[rng.int(0...6)] }) }.joined(separator: ".")
            let email = name + "@" + host
            if matches(emailRE, email) {
                #expect(EmailAddress.key(email) != nil, "\(email) fits the pattern but is refused")
                #expect(Domain.normalise(host) != nil, "\(host) fits the pattern but is refused")
            }
        }
        #expect(Domain.normalise("www.com") == "www.com")
        // A "#" followed by an emoji modifier is one Character; the cut is by scalars (found by fuzzing).
        #expect(Domain.normalise("PgM.AE.n0q#\u{1F3FB}x\u{4}") == "pgm.ae.n0q")
        #expect(Domain.normalise("https://www.example.com/x") == "example.com")
    }

    @Test("durations outside one minute to 100,000 weeks, infinities and zero are not durations")
    func durations() {
        for bad in ["0d", "1e300d", "infd", "nand", "0.0001m", "100001w", "-3d", "7", ""] { #expect(ScoringModel.duration(bad) == nil, "\(bad)") }
        #expect(ScoringModel.duration("1m") == 60_000)
        let week: Int64 = 7 * 86_400_000
        #expect(ScoringModel.duration("100000w") == 100_000 * week)
    }

    @Test("MQL rules nested or chained past the limits are refused with a column, not a stack overflow")
    func ruleDepth() {
        let deep = String(repeating: "(", count: 100_000) + "engagement >= 1" + String(repeating: ")", count: 100_000)
        guard case .failure(let e) = MQLRule.parse(deep) else { return #expect(Bool(false)) }
        #expect(e.message.contains("deeper"))
        let nots = String(repeating: "not ", count: 50_000) + "engagement >= 1"
        guard case .failure = MQLRule.parse(nots) else { return #expect(Bool(false)) }
        let chain = (0..<10_000).map { _ in "engagement >= 1" }.joined(separator: " and ")
        guard case .failure(let c) = MQLRule.parse(chain) else { return #expect(Bool(false)) }
        #expect(c.message.contains("comparisons"))
        guard case .failure = MQLRule.parse("engagement >= 1e999") else { return #expect(Bool(false)) }
        #expect((try? MQLRule.parse("(engagement >= 50 and grade >= B) or not fit < 10").get()) != nil)
    }

    @Test("formula cells are neutralised for spreadsheets and read back unchanged (OWASP CSV injection)")
    func spreadsheetSafe() {
        #expect(SpreadsheetSafe.escape("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0")
        #expect(SpreadsheetSafe.escape("+49 30 1234") == "'+49 30 1234")
        #expect(SpreadsheetSafe.escape("@SUM(A1)") == "'@SUM(A1)")
        #expect(SpreadsheetSafe.escape("\t=1") == "'\t=1")
        #expect(SpreadsheetSafe.escape("-12.5") == "-12.5")
        #expect(SpreadsheetSafe.escape("Acme") == "Acme")
        var rng = SeededRandom(seed: 3)
        let alphabet = Array("'=+-@\t\rab1.")
        for _ in 0..<5_000 {
            let cell = String((0..<rng.int(0...5)).map { _ in alphabet[rng.int(0...(alphabet.count - 1))] })
            let out = SpreadsheetSafe.escape(cell)
            #expect(SpreadsheetSafe.unescape(out) == cell, "\(cell.debugDescription) → \(out.debugDescription)")
            if let first = out.utf8.first, SpreadsheetSafe.isTrigger(first) { #expect(SpreadsheetSafe.isNumber(out), "\(out.debugDescription) starts a formula") }
        }
    }
}
