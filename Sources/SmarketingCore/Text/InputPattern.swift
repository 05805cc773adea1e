/// The forms of the values every way in reads, as regular expressions (the ECMA subset that
/// JSON Schema's `pattern` uses). The API description prints them and the server checks API
/// input against them, so that what is documented and what is accepted are the same set; the
/// parsers (`Timestamp.parse`, `LocalDate.parse`, `EmailAddress.key`, `Domain.normalise`)
/// accept every text that matches (the core tests check that on generated samples).
public enum InputPattern {
    /// A valid calendar date in `LocalDate.supportedYears` (1900–2199), leap days included.
    static let dateBody =
        "(?:(?:19|20|21)[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
        + "|(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26])|21(?:0[48]|[2468][048]|[13579][26]))-02-29)"

    /// `YYYY-MM-DD`.
    public static let date = "^" + dateBody + "$"

    /// `YYYY-MM`.
    public static let month = "^(?:19|20|21)[0-9]{2}-(?:0[1-9]|1[0-2])$"

    /// An ISO 8601 / RFC 3339 instant with a UTC offset: `2026-03-01T09:15:00Z`,
    /// `2026-03-01T10:15+01:00`; seconds and a fraction are optional. (The parser also takes a
    /// space for `T`, as CSV files write it; a query string would turn that space into `+`.)
    public static let timestamp = "^" + timestampBody + "$"

    static let timestampBody =
        dateBody + "[Tt](?:(?:[01][0-9]|2[0-3]):[0-5][0-9](?::(?:[0-5][0-9]|60)(?:[.,][0-9]{1,9})?)?)"
        + "(?:[Zz]|[+-](?:0[0-9]|1[0-8]):?[0-5][0-9])"

    /// A date (its UTC midnight) or an instant, as period bounds are written.
    public static let dateOrTimestamp = "^(?:" + dateBody + "|" + timestampBody + ")$"

    /// A host name: labels of letters, digits and `-` separated by single dots, two labels at least.
    static let hostBody = "[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63}){1,8}"

    /// An email address as the identity rules read it (docs/IDENTITY.md): surrounding spaces,
    /// tabs and line breaks and a `mailto:` prefix are allowed and dropped.
    public static let email = "^[ \\t\\r\\n]*" + emailBody + "[ \\t\\r\\n]*$"

    /// The address itself, with an optional `mailto:` prefix (no surrounding space: the form of
    /// a query parameter, where a space would travel as `+`).
    public static let emailBody = "(?:[Mm][Aa][Ii][Ll][Tt][Oo]:)?[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@" + hostBody

    /// An internet domain as `Domain.normalise` reads it: `example.com`, or a web address whose
    /// host is taken (`https://www.Example.com/about`; what follows the host is dropped, so it
    /// may be anything: `[\s\S]` means the same in ECMA and ICU, `\s` and `.` do not).
    public static let domain = "^(?:[Hh][Tt][Tt][Pp][Ss]?://)?" + hostBody + "\\.?(?::[0-9]{1,5})?(?:[/?#][\\s\\S]*)?$"
}

extension InputPattern {
    /// Whether the text matches `timestamp`, without a regular expression (ingest checks every
    /// event; a core test holds this equal to the pattern on generated texts).
    public static func isTimestamp(_ text: String) -> Bool {
        let u = Array(text.utf8)
        // YYYY-MM-DD + T + HH:MM is 16 bytes at the least.
        guard u.count >= 17, u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: "t"), u[11] != UInt8(ascii: "2") || u[12] != UInt8(ascii: "4")
        else { return false }
        // The fraction, if any, has 1 to 9 digits.
        if let dot = u.firstIndex(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ",") }) {
            var digits = 0
            var k = dot + 1
            while k < u.count, u[k] >= 48, u[k] <= 57 {
                digits += 1
                k += 1
            }
            guard (1...9).contains(digits) else { return false }
        }
        // The parser reads exactly this grammar otherwise (calendar days, the year window,
        // offsets up to ±18:59), so a text it accepts and that passed the checks above fits.
        guard case .success = Timestamp.parse(text) else { return false }
        return true
    }

    /// Whether the text matches `email`, without a regular expression.
    public static func isEmail(_ text: String) -> Bool {
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }
        var u = ArraySlice(Array(text.utf8))
        while let f = u.first, isSpace(f) { u = u.dropFirst() }
        while let l = u.last, isSpace(l) { u = u.dropLast() }
        if u.count > 7, String(decoding: u.prefix(7), as: UTF8.self).lowercased() == "mailto:" { u = u.dropFirst(7) }
        u = ArraySlice(Array(u))
        guard let at = u.firstIndex(of: UInt8(ascii: "@")), (1...64).contains(at) else { return false }
        guard u[..<at].allSatisfy({ localByte[Int($0)] }) else { return false }
        return isHost(u[(at + 1)...])
    }

    /// The bytes an email's local part may have (`email`'s first class), as a lookup table.
    static let localByte: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~.-".utf8 { table[Int(c)] = true }
        return table
    }()

    /// Two to nine labels of 1–63 letters, digits or `-`, separated by single dots.
    static func isHost(_ u: ArraySlice<UInt8>) -> Bool {
        var labels = 0
        var length = 0
        for c in u {
            if c == UInt8(ascii: ".") {
                guard length > 0 else { return false }
                labels += 1
                length = 0
            } else if (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 45 {
                length += 1
                guard length <= 63 else { return false }
            } else {
                return false
            }
        }
        guard length > 0 else { return false }
        labels += 1
        return (2...9).contains(labels)
    }
}
