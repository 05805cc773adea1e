import Foundation
import SmarketingCore

/// The rules of record writes and list pages that do not depend on the backend: every store
/// applies them the same way (so the two backends cannot drift).
enum RecordRules {
    /// The last guard of every way in (API, web forms, connectors): each value within its
    /// field's range and length (`FieldSpec.check`), so nothing out of range reaches a sum.
    static func checkRanges(_ record: Record) throws {
        for (spec, value) in zip(record.resource.schema.fields, record.values) {
            if let p = spec.check(value) { throw StoreError.invalid("\"\(spec.name)\" \(p.message)") }
        }
    }

    /// The stored email key of a contact or user (the identity rules' key, or the lowercased
    /// text when it is not an address).
    static func emailKey(_ record: Record) -> String {
        let email = record["email"].text ?? ""
        return EmailAddress.key(email) ?? email.lowercased()
    }

    /// Whether a resource has the store-only `email_key` column.
    static func hasEmailKey(_ r: Resource) -> Bool { r == .contacts || r == .users }

    /// The audit text of a whole record.
    static func auditJSON(_ record: Record) -> String {
        var obj: [String: JSONValue] = [:]
        for (f, v) in zip(record.resource.schema.fields, record.values) where !v.isNull { obj[f.name] = .string(v.csvText) }
        return JSONValue.object(obj).compactText
    }

    /// Applies an update's fields to a record: each checked (known, not a key, required,
    /// in range); returns the changed record and what changed (empty: nothing).
    static func apply(_ fields: [String: FieldValue], to record: Record) throws -> (Record, [String: JSONValue]) {
        var record = record
        let resource = record.resource
        let schema = resource.schema
        var changed: [String: JSONValue] = [:]
        for (name, value) in fields {
            guard let spec = schema.field(name) else { throw StoreError.invalid("\(resource.rawValue) has no field \"\(name)\"") }
            if schema.key.contains(name), value != record[name] {
                throw StoreError.invalid("\"\(name)\" identifies the record and cannot change; delete it and create a new one")
            }
            if spec.required, value.isNull { throw StoreError.invalid("\"\(name)\" is required") }
            if let p = spec.check(value) { throw StoreError.invalid("\"\(name)\" \(p.message)") }
            if record[name] != value {
                changed[name] = .array([.string(record[name].csvText), .string(value.csvText)])
                record[name] = value
            }
        }
        return (record, changed)
    }

    /// The message when other records still name a record.
    static func stillReferenced(_ r: Resource, _ id: String, by other: Resource, field: String) -> StoreError {
        .reference(
            "\(r.rawValue) \"\(id)\" is still named by \(other.rawValue).\(field); change or delete those records first"
                + (r == .contacts ? " (or merge the contact)" : "")
        )
    }

    /// The fields of other resources that name records of `r`.
    static func referencing(_ r: Resource) -> [(Resource, String)] {
        Resource.allCases.flatMap { other in other.schema.fields.filter { $0.references == r }.map { (other, $0.name) } }
    }

    /// The lead search's text: lower-cased, without `%` and `_` (they are not searched for).
    static func leadSearchText(_ text: String) -> String {
        text.lowercased().replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "")
    }

    /// Whether a search text has a trigram for a trigram index (FTS5, pg_trgm) to look up; a
    /// shorter one is searched without the index.
    static func hasTrigram(_ text: String) -> Bool { text.unicodeScalars.count >= 3 }

    /// From how many candidates a text search walks the list's sort order (testing each row)
    /// rather than reading every candidate and sorting them: √(page × contacts), where the two
    /// costs meet when a row costs about the same either way; at least 1, at most `cap`.
    static func walkBound(page: Int, contacts: Double, cap: Int = Int.max) -> Int {
        max(1, min(cap, Int((Double(max(1, page)) * max(0, min(contacts, 1e12))).squareRoot())))
    }

    /// The LIKE pattern of a search text (with `\` as the escape).
    static func likePattern(_ q: String) -> String {
        "%" + q.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            + "%"
    }

    /// A list cursor's sort key as it was given out.
    enum CursorKey: Equatable {
        case text(String)
        case int(Int64)
        case double(Double)
        case null
    }

    /// Reads a cursor this store gave out; `missing` when it is not one.
    static func decodeCursor(_ cursor: String) throws -> (CursorKey, String) {
        guard let data = Data(base64Encoded: cursor), let parts = try? JSONDecoder().decode([JSONValue].self, from: data),
            parts.count == 2, let lastID = parts[1].string
        else { throw StoreError.missing("no page at this cursor: it is not one this server gave out") }
        switch parts[0] {
        case .string(let s): return (.text(s), lastID)
        // a cursor is client input: no trapping conversion
        case .number(let n): return (Int64(exactly: n).map { .int($0) } ?? .double(n), lastID)
        default: return (.null, lastID)
        }
    }

    /// The cursor of the page after a record with this sort key and id.
    static func encodeCursor(_ key: CursorKey, _ id: String) -> String {
        let keyJSON: JSONValue
        switch key {
        case .int(let i): keyJSON = .number(Double(i))
        case .double(let d): keyJSON = .number(d)
        case .text(let s): keyJSON = .string(s)
        case .null: keyJSON = .null
        }
        return Data(JSONValue.array([keyJSON, .string(id)]).compactText.utf8).base64EncodedString()
    }
}

/// How a field value comes back from a stored column. Both backends store the same
/// representations (integers, doubles, text; times as epoch milliseconds, booleans as 0/1,
/// dates as ISO text), so one reading serves both.
enum StoredValue {
    static func field(int i: Int64, _ type: FieldType) -> FieldValue {
        switch type {
        case .bool: return .bool(i != 0)
        case .timestamp: return .timestamp(Timestamp(milliseconds: i))
        case .number: return .number(Double(i))
        default: return .integer(i)
        }
    }

    static func field(text s: String, _ type: FieldType) -> FieldValue {
        switch type {
        case .date: return LocalDate.parse(s).map { .date($0) } ?? .text(s)
        case .jsonObject: return .json(s)
        default: return .text(s)
        }
    }
}
