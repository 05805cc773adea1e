import Foundation

/// The rules of erasing a person (GDPR Art. 17): what goes, what stays, and how a later record
/// with the same address is told apart. docs/OPERATIONS.md, "Privacy", explains them to users.
///
/// What stays is what the KPIs, the funnel and attribution count: the contact's id, account,
/// owner, persona, channel, campaign, lifecycle dates and stage, its touchpoints' times, types,
/// channels and campaigns, its deals and roles, scores and handover facts. None of these names
/// the person once the fields below are gone, so no figure changes.
public enum Erasure {
    /// The contact fields that describe the person; erasure clears them (the email is replaced
    /// by `placeholderEmail`, since every contact has one).
    public static let personalContactFields = ["first_name", "last_name", "title", "phone", "country", "external_id"]

    /// The reserved domain of erased contacts' stand-in addresses (never matched by identity
    /// resolution: no event or vendor record can carry an address under `.invalid`, RFC 2606).
    public static let placeholderDomain = "erased.invalid"

    /// The stand-in address of an erased contact: unique per contact, so the one-record-per-
    /// address rule keeps holding, and it names nobody.
    /// An id too long for an address's local part (64 characters) keeps its first 40 characters
    /// and a 64-bit FNV-1a hash of the whole id in hex, so the address stays valid and unique.
    public static func placeholderEmail(contactID: String) -> String {
        let kept = String(contactID.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        guard kept.isEmpty || kept.count > 57 || kept.count != contactID.count else { return "erased-" + kept + "@" + placeholderDomain }
        let hex = String(CapLedger.key(contactID), radix: 16)  // the core's stable FNV-1a
        return "erased-" + (kept.isEmpty ? "" : String(kept.prefix(40)) + "-") + String(repeating: "0", count: 16 - hex.count) + hex + "@" + placeholderDomain
    }

    /// Whether an address is an erased contact's stand-in.
    public static func isPlaceholder(_ email: String) -> Bool { email.lowercased().hasSuffix("@" + placeholderDomain) }

    /// The texts whose occurrence anywhere in a free-text column means that text names the
    /// person: the address (as given and as its key) and each name of at least three letters
    /// (shorter ones — "Li", "Bo" — would match unrelated text everywhere; they are cleared from
    /// the person's own rows, but not searched for in others'). Lower-cased, deduplicated,
    /// longest first.
    public static func identifyingTexts(email: String, firstName: String?, lastName: String?) -> [String] {
        var out = [email.lowercased()]
        if let key = EmailAddress.key(email) { out.append(key) }
        let names = [firstName, lastName].compactMap { $0?.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { $0.count >= 3 }
        if let f = firstName?.trimmingCharacters(in: .whitespaces), let l = lastName?.trimmingCharacters(in: .whitespaces), !f.isEmpty, !l.isEmpty {
            out.append((f + " " + l).lowercased())
        }
        out += names.map { $0.lowercased() }
        var seen = Set<String>()
        return out.filter { !$0.isEmpty && seen.insert($0).inserted }.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    /// What an erasure looks for: `everywhere` in every free-text column of the workspace (the
    /// address and the full name), `own` in the person's own rows (`identifyingTexts`).
    public static func searchTexts(email: String, firstName: String?, lastName: String?) -> (everywhere: [String], own: [String]) {
        let first = firstName?.trimmingCharacters(in: .whitespaces) ?? ""
        let last = lastName?.trimmingCharacters(in: .whitespaces) ?? ""
        let fullName = !first.isEmpty && !last.isEmpty ? [(first + " " + last).lowercased()] : []
        return (identifyingTexts(email: email, firstName: nil, lastName: nil) + fullName, identifyingTexts(email: email, firstName: firstName, lastName: lastName))
    }

    /// A `LIKE` pattern (with `ESCAPE '\'`) that matches any text containing `text`.
    public static func containsPattern(_ text: String) -> String {
        var p = "%"
        for ch in text {
            if ch == "%" || ch == "_" || ch == "\\" { p.append("\\") }
            p.append(ch)
        }
        return p + "%"
    }

    /// What a reason for erasure must be: given (not only spaces), at most 500 characters; line
    /// breaks become spaces. It is kept with the tombstone and in the audit log, so it should not
    /// name the person.
    public static func reason(_ raw: String) -> Result<String, ErasureError> {
        let r = String(raw.map { $0.isNewline ? " " : $0 }).trimmingCharacters(in: .whitespacesAndNewlines)
        if r.isEmpty { return .failure(.init("give a reason (e.g. \"Art. 17 request of 2026-12-05, ticket 4711\")")) }
        if r.count > 500 { return .failure(.init("the reason is \(r.count) characters; at most 500")) }
        return .success(r)
    }

    /// The text every erased free-text value becomes.
    public static let redacted = "[erased]"
}

/// A refused erasure request.
public struct ErasureError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Erasure {
    /// The touch properties an erased person's touchpoints keep: what scoring rules and reports
    /// read about the touch itself (which page, form or asset), never what was typed into it.
    public static let keptPropertyKeys: Set<String> = [
        "url", "form", "page", "referrer", "asset", "cta", "webinar", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    ]

    /// A touchpoint's properties after erasure: only `keptPropertyKeys` with scalar values that do
    /// not contain any of `identifying` (an address in a URL's query goes); nil when nothing is
    /// left (or the text is not a JSON object).
    public static func keptProperties(_ text: String?, identifying: [String]) -> String? {
        guard let text, let data = text.data(using: .utf8), case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: data) else { return nil }
        var kept: [String: JSONValue] = [:]
        for (k, v) in o where keptPropertyKeys.contains(k) {
            switch v {
            case .string(let s) where !contains(s, any: identifying): kept[k] = v
            case .number, .bool: kept[k] = v
            default: break
            }
        }
        return kept.isEmpty ? nil : JSONValue.object(kept).compactText
    }

    /// Whether `text` contains any of `needles` (lower-cased), ignoring case.
    public static func contains(_ text: String, any needles: [String]) -> Bool {
        let lower = text.lowercased()
        return needles.contains { !$0.isEmpty && lower.contains($0) }
    }

    /// `text` with every occurrence of each of `needles` replaced by `redacted`, ignoring case;
    /// nil when none occurs.
    public static func scrubbed(_ text: String, _ needles: [String]) -> String? {
        guard contains(text, any: needles) else { return nil }
        var out = text
        for n in needles where !n.isEmpty {
            out = out.replacingOccurrences(of: n, with: redacted, options: [.caseInsensitive])
        }
        return out
    }
}

/// Retention: contacts without activity for the set number of months are anonymised (erased,
/// their figures kept) by the server once a day, or by `smarketing retention run`.
public enum Retention {
    /// The instant before which a contact's last activity makes it due: `months` calendar months
    /// before `now` (UTC days; the 31st falls back to the month's last day). nil: retention is off.
    public static func cutoff(now: Timestamp, months: Int) -> Timestamp? {
        guard months > 0 else { return nil }
        let day = now.utcDate
        let target = LocalDate(monthIndex: day.monthIndex - months)
        let date = LocalDate(year: target.year, month: target.month, day: min(day.day, LocalDate.daysIn(month: target.month, year: target.year)))
        let msOfDay = ((now.milliseconds % 86_400_000) + 86_400_000) % 86_400_000
        return Timestamp(milliseconds: date.startUTC.milliseconds + msOfDay)
    }

    /// The reason written with each retention erasure.
    public static func reason(months: Int, cutoff: Timestamp) -> String {
        "retention: no activity for \(months) months (last activity before \(cutoff.utcDate.text))"
    }
}
