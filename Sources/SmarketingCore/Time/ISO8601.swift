/// Parsing and formatting of the bundle's time formats.
///
/// Written by hand because Foundation's `ISO8601DateFormatter` is about 20× slower per value and
/// the bundle import parses millions of timestamps; the grammar accepted is small and documented.
extension Timestamp {
    /// Why a text is not a timestamp, in one sentence.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed
        case missingOffset
        case outOfRange
        /// A year outside `LocalDate.supportedYears`.
        case outsideYears

        public var description: String {
            switch self {
            case .malformed: return "is not an ISO 8601 timestamp (expected e.g. 2026-03-01T09:15:00Z)"
            case .missingOffset: return "has no UTC offset (add Z or e.g. +01:00)"
            case .outOfRange: return "has a field out of range"
            case .outsideYears: return "is outside the years \(LocalDate.supportedYears.lowerBound)–\(LocalDate.supportedYears.upperBound)"
            }
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM[:SS[.fff…]](Z|±HH:MM|±HHMM)`; a space may stand for `T`.
    /// Fractions beyond milliseconds are truncated. A value without offset is an error unless
    /// `assumeUTC` is set.
    public static func parse(_ text: some StringProtocol, assumeUTC: Bool = false) -> Result<Timestamp, ParseError> {
        if let r = text.utf8.withContiguousStorageIfAvailable({ parse(bytes: $0, assumeUTC: assumeUTC) }) { return r }
        let utf8 = Array(text.utf8)
        return utf8.withUnsafeBufferPointer { parse(bytes: $0, assumeUTC: assumeUTC) }
    }

    /// Byte-level variant of `parse(_:assumeUTC:)`, used by the CSV reader without making Strings.
    public static func parse(bytes b: UnsafeBufferPointer<UInt8>, assumeUTC: Bool = false) -> Result<Timestamp, ParseError> {
        let n = b.count
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            var v = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += count
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < n, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2) else {
            return .failure(.malformed)
        }
        guard i < n, b[i] == 84 || b[i] == 116 || b[i] == 32 else { return .failure(.malformed) }
        i += 1
        guard let hour = digits(2), expect(58), let minute = digits(2) else { return .failure(.malformed) }
        var second = 0
        var millis = 0
        if i < n, b[i] == 58 {
            i += 1
            guard let s = digits(2) else { return .failure(.malformed) }
            second = s
            if i < n, b[i] == 46 || b[i] == 44 {
                i += 1
                var places = 0
                var sawDigit = false
                while i < n, b[i] >= 48, b[i] <= 57 {
                    if places < 3 {
                        millis = millis * 10 + Int(b[i] - 48)
                        places += 1
                    }
                    sawDigit = true
                    i += 1
                }
                guard sawDigit else { return .failure(.malformed) }
                while places < 3 {
                    millis *= 10
                    places += 1
                }
            }
        }
        var offsetMinutes = 0
        if i == n {
            guard assumeUTC else { return .failure(.missingOffset) }
        } else if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45 {
            let sign = b[i] == 45 ? -1 : 1
            i += 1
            guard let oh = digits(2) else { return .failure(.malformed) }
            _ = expect(58)
            guard let om = digits(2), oh <= 18, om < 60 else { return .failure(.malformed) }
            offsetMinutes = sign * (oh * 60 + om)
        } else {
            return .failure(.malformed)
        }
        guard i == n else { return .failure(.malformed) }
        guard (1...12).contains(month), day >= 1, day <= LocalDate.daysIn(month: month, year: year),
            hour <= 23 || (hour == 24 && minute == 0 && second == 0 && millis == 0), minute <= 59, second <= 60
        else { return .failure(.outOfRange) }
        guard LocalDate.supportedYears.contains(year) else { return .failure(.outsideYears) }
        let days = LocalDate(year: year, month: month, day: day).daysSinceEpoch
        let secs = days * 86400 + Int64(hour * 3600 + minute * 60 + min(second, 59) - offsetMinutes * 60)
        return .success(Timestamp(milliseconds: secs * 1000 + Int64(millis)))
    }

    /// A period bound as people write it: a date (`2026-03-01`, its UTC midnight) or an ISO 8601
    /// instant. Nil when it is neither.
    public static func parse(dateOrInstant text: String) -> Timestamp? {
        if let d = LocalDate.parse(text) { return d.startUTC }
        return try? parse(text).get()
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, with `.fff` only when the instant has milliseconds.
    public var iso8601: String {
        let date = utcDate
        let sod = utcSecondOfDay
        var s = date.text + "T" + pad(Int(sod / 3600), 2) + ":" + pad(Int(sod / 60 % 60), 2) + ":" + pad(Int(sod % 60), 2)
        let ms = Int(((milliseconds % 1000) + 1000) % 1000)
        if ms != 0 { s += "." + pad(ms, 3) }
        return s + "Z"
    }
}

extension LocalDate {
    /// The years a date or timestamp may fall in. Anything outside is a typo or a hostile value
    /// (year 0001, 9999), refused at every way in so that no day or millisecond arithmetic
    /// downstream can overflow and no report spans millennia.
    public static let supportedYears: ClosedRange<Int> = 1900...2199

    /// Parses `YYYY-MM-DD` within `supportedYears`.
    public static func parse(_ text: some StringProtocol) -> LocalDate? {
        guard let d = parseAnyYear(text), supportedYears.contains(d.year) else { return nil }
        return d
    }

    /// Parses `YYYY-MM-DD`, any four-digit year (to tell a wrong year from a wrong format).
    public static func parseAnyYear(_ text: some StringProtocol) -> LocalDate? {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == 45, u[7] == 45 else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for k in r {
                guard u[k] >= 48, u[k] <= 57 else { return nil }
                v = v * 10 + Int(u[k] - 48)
            }
            return v
        }
        guard let y = num(0..<4), let m = num(5..<7), let d = num(8..<10), (1...12).contains(m), d >= 1,
            d <= daysIn(month: m, year: y)
        else { return nil }
        return LocalDate(year: y, month: m, day: d)
    }
}
