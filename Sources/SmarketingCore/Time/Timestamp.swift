/// An instant, in whole milliseconds since 1970-01-01T00:00:00Z.
///
/// Stored as an integer so that comparisons, indexes and durations are exact and cheap; the
/// bundle's ISO 8601 text is parsed once at the edge (see `Timestamp.parse`).
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
    /// Milliseconds since the Unix epoch, UTC.
    public var milliseconds: Int64

    /// Creates an instant from milliseconds since the epoch.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// Creates an instant from whole seconds since the epoch.
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// This instant moved by a number of milliseconds.
    public func adding(milliseconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta) }

    /// Milliseconds from `earlier` to this instant (negative when `earlier` is later), held at
    /// the bounds of Int64 instead of trapping on instants far apart.
    public func milliseconds(since earlier: Timestamp) -> Int64 {
        let (difference, overflow) = milliseconds.subtractingReportingOverflow(earlier.milliseconds)
        guard overflow else { return difference }
        return earlier.milliseconds < 0 ? .max : .min
    }

    /// The calendar date (UTC) of this instant.
    public var utcDate: LocalDate {
        let days = Int64((Double(milliseconds) / 86_400_000).rounded(.down))
        return LocalDate(daysSinceEpoch: days)
    }

    /// Seconds into the UTC day (0..<86400).
    public var utcSecondOfDay: Int64 {
        let ms = milliseconds - Int64((Double(milliseconds) / 86_400_000).rounded(.down)) * 86_400_000
        return ms / 1000
    }
}

/// A calendar date without time zone (`YYYY-MM-DD`).
public struct LocalDate: Sendable, Hashable, Comparable, Codable {
    public var year: Int
    public var month: Int
    public var day: Int

    /// Creates a date; the caller guarantees a valid day of month.
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's `days_from_civil`).
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date that is `days` after 1970-01-01 (`civil_from_days`).
    public init(daysSinceEpoch days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: Int(yoe + era * 400 + (m <= 2 ? 1 : 0)), month: Int(m), day: Int(d))
    }

    /// The month as one number: year × 12 + (month − 1), so months add and compare as integers.
    public var monthIndex: Int { year * 12 + month - 1 }

    /// The first day of the month numbered `monthIndex` (see `monthIndex`).
    public init(monthIndex m: Int) {
        self.init(year: m >= 0 ? m / 12 : (m - 11) / 12, month: ((m % 12) + 12) % 12 + 1, day: 1)
    }

    /// Midnight UTC at the start of this date.
    public var startUTC: Timestamp { Timestamp(milliseconds: daysSinceEpoch * 86_400_000) }

    /// The date `n` days later.
    public func adding(days n: Int) -> LocalDate { LocalDate(daysSinceEpoch: daysSinceEpoch + Int64(n)) }

    /// 0 = Monday … 6 = Sunday.
    public var weekday: Int { Int(((daysSinceEpoch % 7) + 7 + 3) % 7) }

    /// Number of days in a month of a year.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `YYYY-MM-DD`.
    public var text: String { "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))" }
}

@inline(__always)
func pad(_ value: Int, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

extension Timestamp {
    /// JSON and other coders see an instant as ISO 8601 text in UTC (`2026-03-01T09:00:00Z`),
    /// the form the API uses everywhere.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(iso8601)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        switch Timestamp.parse(text) {
        case .success(let t): self = t
        case .failure(let e): throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(text) is not an ISO 8601 time: \(e)")
        }
    }
}
