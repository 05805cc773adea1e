/// One cell of a record: what a bundle CSV cell, a JSON API field and a database column hold.
public enum FieldValue: Sendable, Hashable {
    case null
    case text(String)
    case integer(Int64)
    case number(Double)
    case bool(Bool)
    case timestamp(Timestamp)
    case date(LocalDate)
    /// JSON object text, kept as given after validation.
    case json(String)

    /// Whether this is `.null`.
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The text if this is `.text`.
    public var text: String? { if case .text(let s) = self { return s } else { return nil } }

    /// The ids of an `idList` field (`a;b;c`).
    public var ids: [String] {
        guard case .text(let s) = self else { return [] }
        return s.split(separator: ";").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
    }

    /// The instant if this is `.timestamp`.
    public var timestamp: Timestamp? { if case .timestamp(let t) = self { return t } else { return nil } }

    /// The number, for `.integer` and `.number`.
    public var double: Double? {
        switch self {
        case .integer(let v): return Double(v)
        case .number(let v): return v
        default: return nil
        }
    }

    /// The bundle's text form of this value (empty cell for null).
    public var csvText: String {
        switch self {
        case .null: return ""
        case .text(let s): return s
        case .integer(let v): return String(v)
        case .number(let v): return FieldValue.format(v)
        case .bool(let v): return v ? "true" : "false"
        case .timestamp(let t): return t.iso8601
        case .date(let d): return d.text
        case .json(let s): return s
        }
    }

    /// Shortest text that reads back as the same Double, without a trailing `.0`.
    public static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
