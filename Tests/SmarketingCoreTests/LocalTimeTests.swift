import Foundation
import Testing

@testable import SmarketingCore

@Suite("Local time for people")
struct LocalTimeTests {
    @Test("the milliseconds between two instants, held at Int64's bounds when they are too far apart")
    func millisecondsSince() {
        let t = Timestamp(milliseconds: 1_767_225_600_000)
        #expect(t.milliseconds(since: t.adding(milliseconds: -61_000)) == 61_000)
        #expect(t.milliseconds(since: t.adding(milliseconds: 5)) == -5)
        #expect(Timestamp(milliseconds: .max).milliseconds(since: Timestamp(milliseconds: .min)) == .max)
        #expect(Timestamp(milliseconds: .min).milliseconds(since: Timestamp(milliseconds: .max)) == .min)
        #expect(Timestamp(milliseconds: 0).milliseconds(since: Timestamp(milliseconds: .min)) == .max)
    }

    @Test("an instant in the viewer's zone, with the zone named; DST and dates before 1970")
    func minute() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        let utc = try #require(TimeZone(identifier: "UTC"))
        let winter = try Timestamp.parse("2026-01-15T23:30:00Z").get()
        #expect(LocalTime.minute(winter, in: berlin) == "2026-01-16 00:30 Europe/Berlin")
        #expect(LocalTime.minute(winter, in: newYork) == "2026-01-15 18:30 America/New_York")
        #expect(LocalTime.minute(winter, in: utc) == "2026-01-15 23:30 UTC")
        let summer = try Timestamp.parse("2026-07-01T08:05:00Z").get()
        #expect(LocalTime.minute(summer, in: berlin) == "2026-07-01 10:05 Europe/Berlin")
        let old = try Timestamp.parse("1969-12-31T23:59:00Z").get()
        #expect(LocalTime.minute(old, in: utc) == "1969-12-31 23:59 UTC")
        #expect(LocalTime.minute(Timestamp(milliseconds: .max), in: berlin).hasSuffix("Europe/Berlin"))
    }

    @Test("a commitment month is the workspace's local month, across a DST change")
    func commitmentWindow() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let march = LocalDate(year: 2026, month: 3, day: 17)
        let mid = try Timestamp.parse("2026-03-16T11:00:00Z").get()
        let w = Commitment.window(month: march, at: mid, in: berlin)
        let (start, end) = (try Timestamp.parse("2026-02-28T23:00:00Z").get(), try Timestamp.parse("2026-03-31T22:00:00Z").get())
        #expect(w.start == start)
        #expect(w.end == end)  // summer time from 29 March
        #expect(abs(w.elapsed - 372.0 / 743.0) < 1e-9)  // 372 of the month's 743 hours
        let utc = Commitment.window(month: march, at: mid)
        let (utcStart, utcEnd) = (try Timestamp.parse("2026-03-01T00:00:00Z").get(), try Timestamp.parse("2026-04-01T00:00:00Z").get())
        #expect(utc.start == utcStart && utc.end == utcEnd)
    }
}
