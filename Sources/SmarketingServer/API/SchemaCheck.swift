import Foundation
import SmarketingCore

/// Checks a value against the JSON Schema that `/openapi.json` documents for it, so that the
/// description and what the server accepts cannot drift apart: every query parameter, path
/// parameter and JSON body is checked against the very schema the document prints.
///
/// Written by hand because no JSON Schema validator is among the packages this project can
/// use, and the document uses a small subset: `type` (one or a list), `enum`, `minimum`,
/// `maximum`, `minLength`, `maxLength`, `pattern`, `properties`, `required`,
/// `additionalProperties: false`, `items`, `minItems`, `maxItems`, `oneOf` and `$ref` to
/// `#/components/schemas`.
enum SchemaCheck {
    /// Why `value` does not fit `schema`, as a sentence naming `path` (nil when it fits).
    static func problem(_ value: JSONValue, _ schema: JSONValue, at path: String, depth: Int = 0) -> String? {
        guard depth < 32, case .object(var s) = schema else { return nil }
        if case .string(let ref)? = s["$ref"], let target = OpenAPIDocument.component(ref) { s = target.objectValue ?? [:] }
        if case .array(let options)? = s["oneOf"] {
            let fits = options.filter { problem(value, $0, at: path, depth: depth + 1) == nil }.count
            if fits == 1 { return nil }
            if fits == 0, let first = options.first { return problem(value, first, at: path, depth: depth + 1) ?? "\(path) fits none of its forms" }
            return "\(path) fits more than one of its forms"
        }
        if case .array(let options)? = s["anyOf"], !options.contains(where: { problem(value, $0, at: path, depth: depth + 1) == nil }) {
            return options.first.flatMap { problem(value, $0, at: path, depth: depth + 1) } ?? "\(path) fits none of its forms"
        }
        if let types = s["type"] {
            let names: [String]
            switch types {
            case .string(let t): names = [t]
            case .array(let a): names = a.compactMap(\.string)
            default: names = []
            }
            guard names.contains(where: { typeMatches(value, $0) }) else {
                let subject = path == "body" ? "the body" : path
                return "\(subject) must be \(names.map(article).joined(separator: " or ")), not \(describe(value))"
            }
        }
        if case .array(let allowed)? = s["enum"], !allowed.contains(value) {
            let list = allowed.map { $0 == .null ? "null" : ($0.string ?? $0.compactText) }.joined(separator: ", ")
            return "\(path) must be one of \(list)"
        }
        switch value {
        case .number(let n):
            if case .number(let lo)? = s["minimum"], n < lo { return "\(path) must be at least \(FieldValue.format(lo)), not \(FieldValue.format(n))" }
            if case .number(let hi)? = s["maximum"], n > hi { return "\(path) must be at most \(FieldValue.format(hi)), not \(FieldValue.format(n))" }
        case .string(let text):
            let length = text.unicodeScalars.count
            if case .number(let lo)? = s["minLength"], Double(length) < lo {
                return lo == 1 ? "\(path) must not be empty" : "\(path) must have at least \(Int(lo)) characters"
            }
            if case .number(let hi)? = s["maxLength"], text.exceedsLength(Int(hi)) { return "\(path) must have at most \(Int(hi)) characters, not \(length)" }
            if case .string(let pattern)? = s["pattern"], !matches(text, pattern) {
                let what = hint(text, pattern) ?? s["description"]?.string ?? "see /openapi.json"
                return "\(path) \"\(text.prefix(60))\" does not have the expected form: \(what)"
            }
        case .array(let items):
            if case .number(let lo)? = s["minItems"], Double(items.count) < lo { return "\(path) must have at least \(Int(lo)) items" }
            if case .number(let hi)? = s["maxItems"], Double(items.count) > hi { return "\(path) must have at most \(Int(hi)) items, not \(items.count)" }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() {
                    if let p = problem(item, itemSchema, at: "\(path)[\(i)]", depth: depth + 1) { return p }
                }
            }
        case .object(let members):
            if case .number(let lo)? = s["minProperties"], Double(members.count) < lo { return "\(path) must have at least \(Int(lo)) member(s)" }
            if case .number(let hi)? = s["maxProperties"], Double(members.count) > hi { return "\(path) must have at most \(Int(hi)) member(s)" }
            if case .array(let required)? = s["required"] {
                for case .string(let name) in required where members[name] == nil { return "\(member(path, name)) is required" }
            }
            let properties = s["properties"]?.objectValue ?? [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let p = properties[name] {
                    if let problem = problem(member, p, at: self.member(path, name), depth: depth + 1) { return problem }
                } else if s["additionalProperties"] == .bool(false) {
                    let known = properties.keys.sorted().joined(separator: ", ")
                    return "unknown field \"\(name)\"\(path == "body" ? "" : " in \(path)"); it takes \(known)"
                }
            }
        default: break
        }
        return nil
    }

    /// `field "name"` for a member of the body, `path.name` deeper down.
    static func member(_ path: String, _ name: String) -> String {
        path == "body" ? "field \"\(name)\"" : "\(path).\(name)"
    }

    /// What the parser of a documented form says about a text that misses it.
    static func hint(_ text: String, _ pattern: String) -> String? {
        switch pattern {
        case InputPattern.timestamp:
            if case .failure(let e) = Timestamp.parse(text) { return "it " + e.description }
            return "an ISO 8601 instant such as 2026-03-01T09:15:00Z"
        case InputPattern.date:
            guard let d = LocalDate.parseAnyYear(text) else { return "a date YYYY-MM-DD" }
            return LocalDate.supportedYears.contains(d.year) ? "a date YYYY-MM-DD" : "it " + Timestamp.ParseError.outsideYears.description
        case InputPattern.email: return "an email address"
        case Schema.noNULPattern: return "text without the NUL character (U+0000)"
        default: return nil
        }
    }

    /// Reads a query or path parameter's text as the JSON value its schema types it as
    /// (numbers, booleans), then checks it. Nil when it fits.
    static func parameterProblem(_ text: String, _ schema: JSONValue, name: String) -> String? {
        let types: [String]
        switch schema.objectValue?["type"] {
        case .string(let t)?: types = [t]
        case .array(let a)?: types = a.compactMap(\.string)
        default: types = ["string"]
        }
        var value = JSONValue.string(text)
        if types.contains("integer") || types.contains("number") {
            guard let n = strictNumber(text, integer: !types.contains("number")) else {
                return "\(name) must be \(types.contains("number") ? "a number" : "a whole number"), not \"\(text.prefix(40))\""
            }
            value = .number(n)
        } else if types.contains("boolean") {
            guard text == "true" || text == "false" else { return "\(name) must be true or false, not \"\(text.prefix(40))\"" }
            value = .bool(text == "true")
        }
        return problem(value, schema, at: name)
    }

    /// `-12`, `3.5`, `1e3` as a finite Double (integers: digits with an optional sign, within
    /// ±2^53 so the Double is exact). Nil for anything else, NaN and infinities included.
    static func strictNumber(_ text: String, integer: Bool) -> Double? {
        if integer {
            let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
            guard !digits.isEmpty, digits.count <= 16, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = Int64(text) else { return nil }
            return Double(v)
        }
        guard text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 43 || $0 == 45 || $0 == 46 || $0 == 101 || $0 == 69 }),
            let v = Double(text), v.isFinite
        else { return nil }
        return v
    }

    static func typeMatches(_ v: JSONValue, _ type: String) -> Bool {
        switch (v, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"), (.number, "number"): return true
        case (.number(let n), "integer"): return n.isFinite && n == n.rounded()
        default: return false
        }
    }

    static func article(_ type: String) -> String {
        switch type {
        case "integer": return "a whole number"
        case "object": return "a JSON object"
        case "array": return "an array"
        case "null": return "null"
        case "boolean": return "true or false"
        default: return "a " + type
        }
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "true/false"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    private static let cache = RegexCache()

    /// Whether the whole text matches the pattern (ECMA and ICU agree on the subset used:
    /// classes, groups, alternation and quantifiers; the match must span the whole text, so
    /// ICU's `$` before a final line break does not let one through).
    static func matches(_ text: String, _ pattern: String) -> Bool {
        // The forms every event carries, matched without a regular expression.
        if pattern == InputPattern.timestamp { return InputPattern.isTimestamp(text) }
        if pattern == InputPattern.email { return InputPattern.isEmail(text) }
        if pattern == Schema.noNULPattern { return !text.utf8.contains(0) }
        guard let re = cache.regex(pattern) else { return false }
        let range = NSRange(text.startIndex..., in: text)
        guard let m = re.firstMatch(in: text, options: [], range: range) else { return false }
        return m.range == range
    }
}

/// Compiled patterns, shared by every request.
private final class RegexCache: @unchecked Sendable {
    private let lock = NSLock()
    private var compiled: [String: NSRegularExpression] = [:]

    func regex(_ pattern: String) -> NSRegularExpression? {
        lock.lock()
        defer { lock.unlock() }
        if let re = compiled[pattern] { return re }
        guard let re = try? NSRegularExpression(pattern: pattern) else { return nil }
        compiled[pattern] = re
        return re
    }
}
