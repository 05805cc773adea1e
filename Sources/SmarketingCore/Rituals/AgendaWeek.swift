/// A week of the weekly sync, named by its ISO week (`2026-W49`) and cut by the workspace's week
/// start: a Monday week is the ISO week; a Sunday week starts the day before the ISO Monday.
public struct AgendaWeek: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var week: Int

    public init?(year: Int, week: Int) {
        guard LocalDate.supportedYears.contains(year), (1...Self.weeks(in: year)).contains(week) else { return nil }
        self.year = year
        self.week = week
    }

    public static func < (a: Self, b: Self) -> Bool { (a.year, a.week) < (b.year, b.week) }

    /// `2026-W49`.
    public var description: String { String(year) + "-W" + (week < 10 ? "0" : "") + String(week) }

    /// Reads `2026-W49` (or `2026-w49`); nil for anything else, a week the year does not have
    /// (W53 of a 52-week year) or a year outside 1900–2199.
    public static func parse(_ text: String) -> AgendaWeek? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 3, parts[1].first == "W" || parts[1].first == "w",
            parts[0].allSatisfy(\.isASCIIDigit), parts[1].dropFirst().allSatisfy(\.isASCIIDigit),
            let y = Int(parts[0]), let w = Int(parts[1].dropFirst())
        else { return nil }
        return AgendaWeek(year: y, week: w)
    }

    /// The ISO Monday of the week.
    public var monday: LocalDate {
        // ISO week 1 holds 4 January.
        let jan4 = LocalDate(year: year, month: 1, day: 4)
        return jan4.adding(days: -jan4.weekday + (week - 1) * 7)
    }

    /// The week's days `[from, to)` under the workspace's week start.
    public func period(sundayStart: Bool) -> KPIPeriod {
        let first = monday.adding(days: sundayStart ? -1 : 0)
        return KPIPeriod(from: first, to: first.adding(days: 7))
    }

    /// The week whose days (under the week start) hold `day`.
    public static func containing(_ day: LocalDate, sundayStart: Bool) -> AgendaWeek {
        // A Sunday belongs to the next ISO week when weeks start on Sunday.
        let d = sundayStart && day.weekday == 6 ? day.adding(days: 1) : day
        let thursday = d.adding(days: 3 - d.weekday)
        let week = Int((thursday.daysSinceEpoch - LocalDate(year: thursday.year, month: 1, day: 1).daysSinceEpoch) / 7) + 1
        // The Thursday's year is within range for every supported day but the very edges.
        return AgendaWeek(year: thursday.year, week: week) ?? AgendaWeek(year: day.year, week: 1) ?? Self.fallback
    }

    /// The week `n` weeks later (earlier when negative), clamped to the supported years.
    public func adding(weeks n: Int) -> AgendaWeek {
        Self.containing(monday.adding(days: 7 * n), sundayStart: false)
    }

    /// 52 or 53: a year has 53 ISO weeks when it starts on a Thursday, or on a Wednesday in a leap year.
    public static func weeks(in year: Int) -> Int {
        let jan1 = LocalDate(year: year, month: 1, day: 1).weekday
        let leap = LocalDate.daysIn(month: 2, year: year) == 29
        return jan1 == 3 || (jan1 == 2 && leap) ? 53 : 52
    }

    private static let fallback = AgendaWeek(unchecked: 1900, 1)
    private init(unchecked year: Int, _ week: Int) {
        self.year = year
        self.week = week
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
