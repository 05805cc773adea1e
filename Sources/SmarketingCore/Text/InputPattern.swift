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

    /// An email address as the identity rules read it (docs/IDENTITY.md).
    public static let email = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@" + hostBody + "$"

    /// An internet domain as `Domain.normalise` reads it: `example.com`, or a web address whose
    /// host is taken (`https://www.Example.com/about`).
    public static let domain = "^(?:[Hh][Tt][Tt][Pp][Ss]?://)?" + hostBody + "\\.?(?::[0-9]{1,5})?(?:[/?#][^\\s]{0,200})?$"
}
