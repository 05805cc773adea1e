import Foundation
import Testing

@testable import SmarketingCore

@Suite("Local time for people")
struct LocalTimeTests {
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
}
