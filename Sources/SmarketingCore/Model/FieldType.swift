/// The type of a field: how its text is read and checked, and how it is stored.
public enum FieldType: Sendable, Hashable {
    case text
    /// An email address; stored as given (trimmed), matched by its `EmailAddress` key.
    case email
    /// An internet domain, normalised on input (`Domain.normalise`).
    case domain
    case integer
    /// A decimal number (amounts, budgets).
    case number
    case bool
    case timestamp
    case date
    /// `YYYY-MM`.
    case month
    /// A JSON object.
    case jsonObject
    /// One of a fixed list of values.
    case oneOf([String])
    /// `;`-separated ids.
    case idList

    /// A short name for documentation and OpenAPI.
    public var summary: String {
        switch self {
        case .text: return "text"
        case .email: return "email"
        case .domain: return "domain"
        case .integer: return "integer"
        case .number: return "decimal number"
        case .bool: return "true/false"
        case .timestamp: return "ISO 8601 timestamp with offset"
        case .date: return "date YYYY-MM-DD"
        case .month: return "month YYYY-MM"
        case .jsonObject: return "JSON object"
        case .oneOf(let values): return "one of " + values.joined(separator: ", ")
        case .idList: return "ids separated by ;"
        }
    }

    /// Reads a bundle cell (or a JSON string). Empty text is null. The error is a phrase that
    /// completes "value … ".
    public func parse(_ raw: String) -> Result<FieldValue, FieldProblem> {
        if raw.isEmpty { return .success(.null) }
        switch self {
        case .text, .idList:
            return .success(.text(raw))
        case .email:
            let trimmed = EmailAddress.trim(raw)
            guard EmailAddress.key(trimmed) != nil else { return .failure(.init("is not an email address")) }
            return .success(.text(trimmed))
        case .domain:
            guard let d = Domain.normalise(raw) else { return .failure(.init("is not a domain")) }
            return .success(.text(d))
        case .integer:
            guard let v = Int64(raw.trimmingSpaces) else { return .failure(.init("is not an integer")) }
            return .success(.integer(v))
        case .number:
            let t = raw.trimmingSpaces
            guard let v = Double(t), v.isFinite, !t.contains("e"), !t.contains("E") else {
                return .failure(.init("is not a decimal number"))
            }
            return .success(.number(v))
        case .bool:
            switch raw.trimmingSpaces.lowercased() {
            case "true", "1", "yes": return .success(.bool(true))
            case "false", "0", "no": return .success(.bool(false))
            default: return .failure(.init("is not true or false"))
            }
        case .timestamp:
            switch Timestamp.parse(raw.trimmingSpaces) {
            case .success(let t): return .success(.timestamp(t))
            case .failure(let e): return .failure(.init(e.description))
            }
        case .date:
            guard let d = LocalDate.parseAnyYear(raw.trimmingSpaces) else { return .failure(.init("is not a date YYYY-MM-DD")) }
            guard LocalDate.supportedYears.contains(d.year) else { return .failure(.init(Timestamp.ParseError.outsideYears.description)) }
            return .success(.date(d))
        case .month:
            let t = raw.trimmingSpaces
            guard let d = LocalDate.parseAnyYear(t + "-01") else { return .failure(.init("is not a month YYYY-MM")) }
            guard LocalDate.supportedYears.contains(d.year) else { return .failure(.init(Timestamp.ParseError.outsideYears.description)) }
            return .success(.text(t))
        case .jsonObject:
            guard JSONObjectCheck.isObject(raw) else { return .failure(.init("is not a JSON object")) }
            return .success(.json(raw))
        case .oneOf(let allowed):
            guard allowed.contains(raw) else {
                return .failure(.init("is not one of " + allowed.joined(separator: ", ")))
            }
            return .success(.text(raw))
        }
    }
}

/// Why a value does not fit its field, as a phrase ("is not a date YYYY-MM-DD").
public struct FieldProblem: Error, Sendable, Equatable {
    /// The phrase.
    public var message: String
    /// Creates a problem.
    public init(_ message: String) { self.message = message }
}

extension StringProtocol {
    /// Whether the text has more than `limit` Unicode scalars, the measure of JSON Schema's
    /// `maxLength` (so the description and every check count alike); cheap on short texts.
    public func exceedsLength(_ limit: Int) -> Bool {
        let bytes = utf8.count
        if bytes <= limit { return false }
        if bytes > limit * 4 { return true }
        return unicodeScalars.count > limit
    }

    /// The text without leading and trailing spaces, tabs and line breaks.
    public var trimmingSpaces: String {
        func isSpaceByte(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
        let sub = Substring(self)
        if let first = sub.utf8.first, let last = sub.utf8.last, !isSpaceByte(first), !isSpaceByte(last) { return String(sub) }
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n" }
        guard let first = sub.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = sub.lastIndex(where: { !isSpace($0) })!
        return String(sub[first...last])
    }
}
