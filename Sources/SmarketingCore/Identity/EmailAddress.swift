/// Email normalisation (documented in docs/IDENTITY.md):
/// 1. surrounding whitespace is removed (`trim`), and a `mailto:` prefix;
/// 2. the matching key is the whole address lower-cased (`key`);
/// 3. an address is valid with exactly one `@`, a non-empty local part, no whitespace, and a
///    domain that `Domain.normalise` accepts and that contains a dot.
/// Plus tags and dots in the local part are kept: they may be different mailboxes; the duplicate
/// finder reports them as "likely" instead of merging them silently.
public enum EmailAddress {
    /// The address as given, without surrounding whitespace or a `mailto:` prefix.
    public static func trim(_ raw: String) -> String {
        var s = raw.trimmingSpaces
        if s.lowercased().hasPrefix("mailto:") { s = String(s.dropFirst(7)) }
        return s
    }

    /// The matching key: trimmed and lower-cased; nil when the address is not valid.
    public static func key(_ raw: String) -> String? {
        if let fast = asciiKey(raw) { return fast.isEmpty ? nil : fast }
        return slowKey(raw)
    }

    /// Byte-level key for plain ASCII addresses (nearly all of them): the rules of `slowKey`
    /// without Character-by-Character string work. Nil: not plain ASCII, use `slowKey`;
    /// empty: invalid.
    static func asciiKey(_ raw: String) -> String? {
        var copy = raw
        return copy.withUTF8 { b -> String? in
            guard let first = b.first, let last = b.last, first > 32, last > 32, b.count < 320 else { return nil }
            if b.count > 7, b[6] == UInt8(ascii: ":") { return nil }  // maybe mailto:, which slowKey handles
            var out = [UInt8](repeating: 0, count: b.count)
            var at = -1
            var dotAfterAt = false
            var previous: UInt8 = 0
            for (i, c0) in b.enumerated() {
                guard c0 < 0x80 else { return nil }
                let c = (c0 >= 65 && c0 <= 90) ? c0 + 32 : c0
                out[i] = c
                switch c {
                case UInt8(ascii: "@"):
                    if at >= 0 || i == 0 { return "" }
                    at = i
                case 32, 9, 10, 13, 44, 59: return ""
                case UInt8(ascii: "."):
                    if at >= 0 {
                        if previous == UInt8(ascii: ".") || previous == UInt8(ascii: "@") { return "" }
                        dotAfterAt = true
                    }
                default:
                    if at >= 0, !((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45) { return "" }
                }
                previous = c
            }
            guard at > 0, dotAfterAt, previous != UInt8(ascii: "."), out[at + 1] != UInt8(ascii: ".") else { return "" }
            return String(decoding: out, as: UTF8.self)
        }
    }

    static func slowKey(_ raw: String) -> String? {
        let s = trim(raw).lowercased()
        guard let at = s.firstIndex(of: "@"), at != s.startIndex else { return nil }
        let domainPart = s[s.index(after: at)...]
        guard !domainPart.contains("@"), !s.contains(where: { $0 == " " || $0 == "\t" || $0 == "," || $0 == ";" || $0 == "\n" || $0 == "\r" }),
            Domain.isHost(domainPart)
        else { return nil }
        return s
    }

    /// The domain of a valid email key.
    public static func domain(ofKey key: String) -> String {
        String(key[key.index(after: key.firstIndex(of: "@")!)...])
    }

    /// The key without a `+tag` in the local part (for the duplicate finder).
    public static func untaggedKey(_ key: String) -> String {
        guard let at = key.firstIndex(of: "@"), let plus = key[..<at].firstIndex(of: "+") else { return key }
        return String(key[..<plus]) + String(key[at...])
    }
}

/// Domain normalisation: lower-case; scheme, path, port, a leading `www.` and a trailing dot
/// removed; must then consist of labels of letters, digits and `-` separated by dots.
public enum Domain {
    /// The normalised domain, or nil when the text is not a domain.
    public static func normalise(_ raw: String) -> String? {
        var s = Substring(raw.trimmingSpaces.lowercased())
        for scheme in ["https://", "http://"] where s.hasPrefix(scheme) { s = s.dropFirst(scheme.count) }
        // Cut by scalars: a "#" followed by an emoji modifier is one Character, still a "#".
        if let cut = s.unicodeScalars.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" || $0 == ":" }) {
            s = Substring(s.unicodeScalars[..<cut])
        }
        if s.hasSuffix(".") { s = s.dropLast() }
        if s.hasPrefix("www."), s.dropFirst(4).contains(".") { s = s.dropFirst(4) }
        guard !s.isEmpty, s.contains("."), !s.hasPrefix("."), !s.contains("..") else { return nil }
        for ch in s.unicodeScalars {
            let ok = (ch >= "a" && ch <= "z") || (ch >= "0" && ch <= "9") || ch == "-" || ch == "." || ch.value > 127
            if !ok { return nil }
        }
        return String(s)
    }

    /// Whether the text is a host name as it may appear after `@`: labels of letters, digits
    /// and `-`, separated by single dots, at least two labels.
    public static func isHost(_ s: Substring) -> Bool {
        guard s.contains("."), !s.hasPrefix("."), !s.hasSuffix("."), !s.contains("..") else { return false }
        return s.unicodeScalars.allSatisfy { ch in
            (ch >= "a" && ch <= "z") || (ch >= "0" && ch <= "9") || ch == "-" || ch == "." || ch.value > 127
        }
    }

    /// Whether mail at this domain says nothing about the person's company.
    public static func isFreeMail(_ domain: String) -> Bool { freeMailDomains.contains(domain) }

    /// Free-mail and ISP domains: an address there never creates or joins a company account.
    public static let freeMailDomains: Set<String> = [
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.de", "yahoo.co.uk", "yahoo.fr", "ymail.com",
        "hotmail.com", "hotmail.de", "hotmail.co.uk", "hotmail.fr", "outlook.com", "outlook.de", "live.com",
        "live.de", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "gmx.de", "gmx.net", "gmx.at",
        "gmx.ch", "gmx.com", "web.de", "t-online.de", "freenet.de", "posteo.de", "mailbox.org", "proton.me",
        "protonmail.com", "pm.me", "tutanota.com", "tuta.io", "zoho.com", "yandex.ru", "yandex.com", "mail.ru",
        "qq.com", "163.com", "126.com", "orange.fr", "free.fr", "laposte.net", "libero.it", "virgilio.it",
        "btinternet.com", "comcast.net", "verizon.net", "att.net", "fastmail.com", "hey.com", "arcor.de",
    ]
}
