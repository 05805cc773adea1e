import Foundation

/// Working time of a team: a time zone, weekly hours and holidays.
///
/// Business time is counted in the calendar's own time zone, so a due time that crosses a DST
/// change, a weekend or a holiday lands where a person in that office expects it. Times are
/// converted with the system's time zone database (`TimeZone`); everything else is integer
/// arithmetic on local days, so the answers do not depend on the machine's own zone.
public struct BusinessCalendar: Sendable, Hashable {
    public var id: String
    public var timeZone: TimeZone
    /// Open intervals per weekday (0 = Monday … 6 = Sunday), minutes after local midnight.
    public var weekly: [[Range<Int>]]
    /// Closed local dates.
    public var holidays: Set<LocalDate>

    /// Creates a calendar; `weekly` needs seven entries.
    public init(id: String, timeZone: TimeZone, weekly: [[Range<Int>]], holidays: Set<LocalDate> = []) {
        precondition(weekly.count == 7, "a week has seven days")
        self.id = id
        self.timeZone = timeZone
        self.weekly = weekly.map { $0.sorted { $0.lowerBound < $1.lowerBound } }
        self.holidays = holidays
    }

    /// Round the clock, every day (wall-clock time as business time).
    public static func always(_ id: String = "always") -> BusinessCalendar {
        BusinessCalendar(id: id, timeZone: TimeZone(identifier: "UTC")!, weekly: Array(repeating: [0..<1440], count: 7))
    }

    /// Whether any hour of a week is open.
    public var hasOpenHours: Bool { weekly.contains { !$0.isEmpty } }

    static let day: Int64 = 86_400_000
    /// Days searched before a due time is declared unreachable (ten years of holidays).
    static let horizonDays: Int64 = 3700

    /// The local date of an instant.
    public func localDate(of t: Timestamp) -> LocalDate {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t.milliseconds) / 1000))) * 1000
        return LocalDate(daysSinceEpoch: floorDiv(t.milliseconds + offset, Self.day))
    }

    /// The instant of a local wall time. In a DST gap the time after the gap; in a repeated hour
    /// the first occurrence.
    public func instant(of date: LocalDate, minute: Int) -> Timestamp {
        let local = date.daysSinceEpoch * Self.day + Int64(minute) * 60_000
        func offset(_ ms: Int64) -> Int64 {
            Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))) * 1000
        }
        // Try the offsets in force a day before and a day after; keep one that maps back.
        let early = offset(local - Self.day)
        let late = offset(local + Self.day)
        for o in [early, late] where offset(local - o) == o { return Timestamp(milliseconds: local - o) }
        // In a gap neither maps back: the wall time does not exist. Read with the offset before
        // the gap it lands as far after the gap as it was into it (02:30 → 03:30 on a spring-forward).
        return Timestamp(milliseconds: local - early)
    }

    /// The open intervals of a local date as instants (empty on holidays and closed days).
    public func openIntervals(on date: LocalDate) -> [Range<Timestamp>] {
        if holidays.contains(date) { return [] }
        return weekly[date.weekday].compactMap { r in
            let a = instant(of: date, minute: r.lowerBound)
            let b = instant(of: date, minute: r.upperBound)
            return a < b ? a..<b : nil
        }
    }

    /// Whether the calendar is open at `t`.
    public func isOpen(at t: Timestamp) -> Bool {
        let d = localDate(of: t)
        for date in [d.adding(days: -1), d] where openIntervals(on: date).contains(where: { $0.contains(t) }) { return true }
        return false
    }

    /// The instant at which `business` milliseconds of open time have passed after `start`
    /// (nil when the calendar has no open time in the next ten years).
    public func adding(business: Int64, to start: Timestamp) -> Timestamp? {
        var remaining = max(0, business)
        if remaining == 0 { return start }
        var date = localDate(of: start).adding(days: -1)
        for _ in 0..<Self.horizonDays {
            for r in openIntervals(on: date) where r.upperBound > start {
                let from = max(r.lowerBound, start)
                let available = r.upperBound.milliseconds - from.milliseconds
                if remaining <= available { return from.adding(milliseconds: remaining) }
                remaining -= available
            }
            date = date.adding(days: 1)
        }
        return nil
    }

    /// Open time in `[from, to)`, in milliseconds (negative when `to` is before `from`).
    public func businessTime(from: Timestamp, to: Timestamp) -> Int64 {
        if to < from { return -businessTime(from: to, to: from) }
        var total: Int64 = 0
        var date = localDate(of: from).adding(days: -1)
        let last = localDate(of: to).adding(days: 1)
        while date <= last {
            for r in openIntervals(on: date) {
                let a = max(r.lowerBound, from)
                let b = min(r.upperBound, to)
                if a < b { total += b.milliseconds - a.milliseconds }
            }
            date = date.adding(days: 1)
        }
        return total
    }

    /// The next instant at or after `t` at which the calendar is open (nil: never).
    public func nextOpen(atOrAfter t: Timestamp) -> Timestamp? {
        var date = localDate(of: t).adding(days: -1)
        for _ in 0..<Self.horizonDays {
            for r in openIntervals(on: date) where r.upperBound > t { return max(r.lowerBound, t) }
            date = date.adding(days: 1)
        }
        return nil
    }
}

/// Integer division rounding towards minus infinity.
@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

extension BusinessCalendar {
    /// Parses weekly hours such as `09:00-12:30, 13:30-17:00` (`closed` or empty: no hours).
    public static func parseHours(_ text: String) -> [Range<Int>]? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t.lowercased() == "closed" { return [] }
        var out: [Range<Int>] = []
        for part in t.split(separator: ",") {
            let ends = part.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
            guard ends.count == 2, let a = minute(ends[0]), let b = minute(ends[1]), a < b else { return nil }
            if out.contains(where: { $0.overlaps(a..<b) }) { return nil }
            out.append(a..<b)
        }
        return out
    }

    /// `HH:MM` → minutes after midnight (`24:00` allowed).
    static func minute(_ s: String) -> Int? {
        let p = s.split(separator: ":")
        guard p.count == 2, p[0].count <= 2, p[1].count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0..<60).contains(m)
        else { return nil }
        let v = h * 60 + m
        return v <= 1440 ? v : nil
    }

    /// Weekday names as used in the config file, Monday first.
    public static let weekdayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
}
