import Foundation
import Testing

@testable import SmarketingCore

@Suite("Workspace settings")
struct WorkspaceSettingsTests {
    @Test("defaults fill every key, and stored values are parsed")
    func defaults() {
        let empty = WorkspaceSettings()
        // Foundation on Linux names UTC "GMT"; the stored text stays UTC.
        #expect(empty[.timeZone] == "UTC" && empty.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: 1_780_000_000)) == 0)
        #expect(empty.currency == "USD")
        #expect(empty.fiscalYearStartMonth == 1)
        #expect(!empty.weekStartsOnSunday)
        #expect(empty.slaHours == 24)
        #expect(empty.staleDays == 14)
        #expect(empty.lookbackDays == 365)
        #expect(empty.halfLifeDays == 7)
        for key in WorkspaceSettingKey.allCases { #expect(empty[key] == key.defaultValue) }

        let stored = WorkspaceSettings(stored: [
            "workspace.timezone": "Europe/Berlin", "workspace.currency": "eur", "workspace.fiscal_year_start_month": "4",
            "workspace.week_start": "Sunday", "kpi.sla_hours": "8", "kpi.stale_days": "21",
            "attribution.lookback_days": "90", "attribution.half_life_days": "3.5", "unrelated.key": "x",
        ])
        #expect(stored.timeZone.identifier == "Europe/Berlin")
        #expect(stored.currency == "EUR")
        #expect(stored.fiscalYearStartMonth == 4)
        #expect(stored.weekStartsOnSunday)
        #expect(stored.slaHours == 8)
        #expect(stored.staleDays == 21)
        #expect(stored.lookbackDays == 90)
        #expect(stored.halfLifeDays == 3.5)
    }

    @Test("a stored value that no longer parses reads as the default")
    func brokenStoredValue() {
        let s = WorkspaceSettings(stored: ["workspace.timezone": "Mars/Olympus", "kpi.sla_hours": "nan", "kpi.stale_days": "-3"])
        #expect(s[.timeZone] == "UTC" && s.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: 1_780_000_000)) == 0)
        #expect(s.slaHours == 24)
        #expect(s.staleDays == 14)
    }

    @Test("every value is checked at the edge, with one sentence naming the key", arguments: [
        ("workspace.timezone", "Europe/Berln", "not an IANA time zone"),
        ("workspace.timezone", "", "1 to 64 characters"),
        ("workspace.currency", "EURO", "not an ISO 4217"),
        ("workspace.currency", "QQQ", "not an ISO 4217"),
        ("workspace.fiscal_year_start_month", "13", "1 to 12"),
        ("workspace.fiscal_year_start_month", "99999999999999999999", "1 to 12"),
        ("workspace.week_start", "friday", "neither monday nor sunday"),
        ("kpi.sla_hours", "0", "0.25 to 2160"),
        ("kpi.sla_hours", "inf", "0.25 to 2160"),
        ("kpi.sla_hours", "1e400", "0.25 to 2160"),
        ("kpi.stale_days", "2.5", "whole number"),
        ("attribution.lookback_days", "0", "whole number"),
        ("attribution.half_life_days", "-1", "0.01 to 3650"),
    ])
    func refused(key: String, value: String, says: String) throws {
        let k = try #require(WorkspaceSettingKey(rawValue: key))
        guard case .failure(let p) = k.normalize(value) else {
            Issue.record("\(key)=\(value) was accepted")
            return
        }
        #expect(p.description.hasPrefix(key + ": "))
        #expect(p.description.contains(says))
    }

    @Test("values are stored in one form")
    func normalized() {
        #expect(WorkspaceSettingKey.currency.normalize(" chf ") == .success("CHF"))
        #expect(WorkspaceSettingKey.slaHours.normalize("24.0") == .success("24"))
        #expect(WorkspaceSettingKey.slaHours.normalize("1.5") == .success("1.5"))
        #expect(WorkspaceSettingKey.weekStart.normalize("SUNDAY") == .success("sunday"))
        #expect(WorkspaceSettingKey.fiscalYearStartMonth.normalize("04") == .success("4"))
        #expect(WorkspaceSettingKey.timeZone.normalize("America/New_York") == .success("America/New_York"))
    }

    @Test("a batch is refused whole with every problem, unknown keys by name; unchanged values are not changes")
    func batches() throws {
        let s = WorkspaceSettings(stored: ["workspace.timezone": "Europe/Berlin"])
        let refused = s.changes([(key: "workspace.timezone", value: "Nowhere/City"), (key: "kpi.sla_hours", value: "12"), (key: "color", value: "red")])
        guard case .failure(let r) = refused else {
            Issue.record("a batch with bad values was accepted")
            return
        }
        #expect(r.problems.count == 2)
        #expect(r.description.contains("\"color\" is not a setting"))
        #expect(r.description.contains("workspace.timezone"))

        let ok = try s.changes([(key: "workspace.timezone", value: "Europe/Berlin"), (key: "kpi.sla_hours", value: "12"), (key: "workspace.currency", value: "eur")]).get()
        #expect(ok == [
            WorkspaceSettingChange(key: .slaHours, old: "24", new: "12"),
            WorkspaceSettingChange(key: .currency, old: "USD", new: "EUR"),
        ].sorted { $0.key < $1.key })
        let applied = s.applying(ok)
        #expect(applied.slaHours == 12)
        #expect(applied.currency == "EUR")
        #expect(applied.timeZone.identifier == "Europe/Berlin")
        #expect(ok.contains { $0.key.rebuildsAggregates })
    }

    @Test("fiscal quarters and years follow the start month")
    func fiscalCalendar() {
        let april = WorkspaceSettings(stored: ["workspace.fiscal_year_start_month": "4"])
        #expect(april.fiscalQuarterStartMonth(containing: 4) == 4)
        #expect(april.fiscalQuarterStartMonth(containing: 6) == 4)
        #expect(april.fiscalQuarterStartMonth(containing: 7) == 7)
        #expect(april.fiscalQuarterStartMonth(containing: 12) == 10)
        #expect(april.fiscalQuarterStartMonth(containing: 2) == 1)
        #expect(april.fiscalYear(year: 2026, month: 4) == 2027)
        #expect(april.fiscalYear(year: 2027, month: 3) == 2027)
        let calendarYear = WorkspaceSettings()
        for m in 1...12 { #expect(calendarYear.fiscalQuarterStartMonth(containing: m) == (m - 1) / 3 * 3 + 1) }
        #expect(calendarYear.fiscalYear(year: 2026, month: 12) == 2026)
        let february = WorkspaceSettings(stored: ["workspace.fiscal_year_start_month": "2"])
        #expect(february.fiscalQuarterStartMonth(containing: 1) == 11)
        #expect(february.fiscalQuarterStartMonth(containing: 2) == 2)
    }
}
