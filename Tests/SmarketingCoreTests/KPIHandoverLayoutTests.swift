import Foundation
import Testing

@testable import SmarketingCore

@Suite("The handover configuration's KPI layout")
struct KPIHandoverLayoutTests {
    func calendar(_ id: String, hours: Range<Int>) -> BusinessCalendar {
        BusinessCalendar(id: id, timeZone: TimeZone(identifier: "UTC") ?? .current, weekly: Array(repeating: [hours], count: 7))
    }

    func config(teams: [SalesTeam], calendars: [BusinessCalendar], fallback: String?) -> HandoverConfig {
        HandoverConfig(
            calendars: Dictionary(uniqueKeysWithValues: calendars.map { ($0.id, $0) }),
            teams: Dictionary(uniqueKeysWithValues: teams.map { ($0.id, $0) }),
            reasons: [],
            segments: [],
            router: Router(rules: [], fallbackQueue: "q", fallbackOwner: "boss", fallbackCalendar: fallback),
            policies: [],
            reps: [:]
        )
    }

    @Test("moved reps and changed calendars are found; renamed calendars and other settings are not changes")
    func changes() {
        let day = calendar("day", hours: 480..<1080)
        let a = config(teams: [SalesTeam(id: "sdr", calendar: "day", manager: nil, members: ["r1", "r2"])], calendars: [day], fallback: "day")
        // The same hours under another calendar id: nothing changes.
        let renamed = config(teams: [SalesTeam(id: "sdr", calendar: "office", manager: "boss", members: ["r2", "r1"])], calendars: [calendar("office", hours: 480..<1080)], fallback: "office")
        #expect(KPIHandoverLayout(a) == KPIHandoverLayout(renamed))
        #expect(KPIHandoverLayout(a).key == KPIHandoverLayout(renamed).key)
        #expect(KPIHandoverLayout.changes(from: KPIHandoverLayout(a), to: KPIHandoverLayout(renamed)) == ([], false))
        // r2 to another team, r3 added: those two.
        let moved = config(
            teams: [SalesTeam(id: "sdr", calendar: "day", manager: nil, members: ["r1"]), SalesTeam(id: "ae", calendar: "day", manager: nil, members: ["r2", "r3"])],
            calendars: [day],
            fallback: "day"
        )
        #expect(KPIHandoverLayout.changes(from: KPIHandoverLayout(a), to: KPIHandoverLayout(moved)) == (["r2", "r3"], false))
        #expect(KPIHandoverLayout(a).key != KPIHandoverLayout(moved).key)
        // Other hours for the team's calendar: its reps; for the fallback: a rebuild.
        let later = config(teams: [SalesTeam(id: "sdr", calendar: "late", manager: nil, members: ["r1", "r2"])], calendars: [day, calendar("late", hours: 600..<1200)], fallback: "day")
        #expect(KPIHandoverLayout.changes(from: KPIHandoverLayout(a), to: KPIHandoverLayout(later)) == (["r1", "r2"], false))
        let otherFallback = config(teams: [SalesTeam(id: "sdr", calendar: "day", manager: nil, members: ["r1", "r2"])], calendars: [day, calendar("late", hours: 600..<1200)], fallback: "late")
        #expect(KPIHandoverLayout.changes(from: KPIHandoverLayout(a), to: KPIHandoverLayout(otherFallback)).fallbackChanged)
        // No configuration: no teams, no fallback.
        #expect(KPIHandoverLayout.changes(from: KPIHandoverLayout(nil), to: KPIHandoverLayout(a)) == (["r1", "r2"], true))
    }
}
