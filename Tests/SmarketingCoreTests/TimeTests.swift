import Testing

@testable import SmarketingCore

@Suite("Time: timestamps, dates, clocks")
struct TimeTests {
    @Test("ISO 8601 with Z, offsets, fractions and a space")
    func parsesVariants() throws {
        let z = try Timestamp.parse("2026-03-01T09:15:00Z").get()
        #expect(z.milliseconds == 1_772_356_500_000)
        #expect(try Timestamp.parse("2026-03-01T10:15:00+01:00").get() == z)
        #expect(try Timestamp.parse("2026-03-01T10:15:00+0100").get() == z)
        #expect(try Timestamp.parse("2026-03-01T04:15:00-05:00").get() == z)
        #expect(try Timestamp.parse("2026-03-01 09:15:00Z").get() == z)
        #expect(try Timestamp.parse("2026-03-01T09:15Z").get() == z)
        #expect(try Timestamp.parse("2026-03-01T09:15:00.5Z").get().milliseconds == z.milliseconds + 500)
        #expect(try Timestamp.parse("2026-03-01T09:15:00.123456Z").get().milliseconds == z.milliseconds + 123)
    }

    @Test(
        "rejects what is not an instant",
        arguments: [
            ("2026-03-01T09:15:00", Timestamp.ParseError.missingOffset),
            ("2026-02-30T09:15:00Z", .outOfRange),
            ("2026-13-01T09:15:00Z", .outOfRange),
            ("2026-03-01T25:00:00Z", .outOfRange),
            ("yesterday", .malformed),
            ("2026-03-01T09:15:00Zjunk", .malformed),
            ("2026-03-01", .malformed),
            ("", .malformed),
        ]
    )
    func rejects(text: String, error: Timestamp.ParseError) {
        #expect(throws: error) { try Timestamp.parse(text).get() }
    }

    @Test("a value without offset is UTC only when asked")
    func assumeUTC() throws {
        #expect(try Timestamp.parse("2026-03-01T09:15:00", assumeUTC: true).get() == Timestamp.parse("2026-03-01T09:15:00Z").get())
    }

    @Test("formatting round-trips and keeps milliseconds only when present")
    func formats() throws {
        let t = try Timestamp.parse("1999-12-31T23:59:59.007Z").get()
        #expect(t.iso8601 == "1999-12-31T23:59:59.007Z")
        #expect(Timestamp(seconds: 0).iso8601 == "1970-01-01T00:00:00Z")
        #expect(Timestamp(milliseconds: -1).iso8601 == "1969-12-31T23:59:59.999Z")
        for ms in stride(from: Int64(-86_400_000 * 800), to: 86_400_000 * 30_000, by: 86_400_000 * 37 + 12_345) {
            let x = Timestamp(milliseconds: ms)
            #expect(try Timestamp.parse(x.iso8601).get() == x)
        }
    }

    @Test("calendar arithmetic agrees with known dates")
    func dates() {
        #expect(LocalDate(year: 1970, month: 1, day: 1).daysSinceEpoch == 0)
        #expect(LocalDate(year: 2000, month: 3, day: 1).daysSinceEpoch == 11_017)
        #expect(LocalDate(daysSinceEpoch: 19_723) == LocalDate(year: 2024, month: 1, day: 1))
        #expect(LocalDate(year: 2024, month: 1, day: 1).weekday == 0)  // a Monday
        #expect(LocalDate(year: 2026, month: 11, day: 29).weekday == 6)  // a Sunday
        #expect(LocalDate.daysIn(month: 2, year: 2024) == 29)
        #expect(LocalDate.daysIn(month: 2, year: 1900) == 28)
        #expect(LocalDate.parse("2024-02-30") == nil)
        #expect(LocalDate.parse("2024-02-29")?.text == "2024-02-29")
        for d in stride(from: Int64(-1000), to: 100_000, by: 97) { #expect(LocalDate(daysSinceEpoch: d).daysSinceEpoch == d) }
    }

    @Test("a fixed clock is fixed")
    func fixedClock() {
        let clock = FixedClock(Timestamp(seconds: 42))
        #expect(clock.now() == clock.now())
        #expect(clock.now().milliseconds == 42_000)
    }
}
