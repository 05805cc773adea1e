import Foundation
import Hummingbird
import SmarketingCore
import SmarketingStore

/// Records as JSON: text as strings, numbers as numbers, timestamps as ISO 8601 `Z` strings,
/// JSON-object fields as objects, null as null. Every field is always present.
enum RecordJSON {
    static func write(_ record: Record, into out: inout String) {
        let schema = record.resource.schema
        out += "{"
        if !schema.hasOwnID {
            out += "\"id\":"
            JSONValue.quote(record.id, into: &out)
            out += ","
        }
        for (i, f) in schema.fields.enumerated() {
            if i > 0 { out += "," }
            JSONValue.quote(f.name, into: &out)
            out += ":"
            switch record.values[i] {
            case .null: out += "null"
            case .integer(let v): out += String(v)
            case .number(let v): out += FieldValue.format(v)
            case .bool(let v): out += v ? "true" : "false"
            case .json(let s): out += s
            case let v: JSONValue.quote(v.csvText, into: &out)
            }
        }
        out += "}"
    }

    static func encode(_ record: Record) -> String {
        var out = ""
        write(record, into: &out)
        return out
    }

    /// Reads the fields of a create or update body. Unknown fields and wrong types are errors.
    static func fields(_ body: ByteBuffer, for resource: Resource) throws -> [String: FieldValue] {
        let object: [String: JSONValue]
        do {
            guard case .object(let o) = try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView)) else {
                throw Problem(.badRequest, "the body must be a JSON object")
            }
            object = o
        } catch let p as Problem {
            throw p
        } catch {
            throw Problem(.badRequest, "the body is not valid JSON: \(describe(error))")
        }
        let schema = resource.schema
        var out: [String: FieldValue] = [:]
        for (name, value) in object {
            if name == "id", !schema.hasOwnID { continue }
            guard let spec = schema.field(name) else {
                throw Problem(
                    .unprocessableContent,
                    "unknown field \"\(name)\"; \(resource.rawValue) has: \(schema.fields.map(\.name).joined(separator: ", "))"
                )
            }
            out[name] = try fieldValue(value, spec)
        }
        return out
    }

    static func fieldValue(_ value: JSONValue, _ spec: FieldSpec) throws -> FieldValue {
        let fail = { (what: String) in Problem(.unprocessableContent, "field \"\(spec.name)\" \(what) (expected \(spec.type.summary))") }
        let parsed: FieldValue
        switch (value, spec.type) {
        case (.null, _): return .null
        case (.number(let n), .integer):
            // Checked before the conversion: Int64(n) traps on values it cannot hold.
            guard n.isFinite, n == n.rounded(), spec.range.contains(n) else {
                throw fail(n == n.rounded() ? "is outside the allowed range \(FieldSpec.format(spec.range))" : "is not an integer")
            }
            parsed = .integer(Int64(n))
        case (.number(let n), .number): parsed = .number(n)
        case (.bool(let b), .bool): parsed = .bool(b)
        case (.object, .jsonObject): parsed = .json(value.compactText)
        case (.string, .integer), (.string, .number), (.string, .bool):
            throw fail("must be a JSON \(spec.type == .bool ? "boolean" : "number"), not a string")
        case (.string(let s), _):
            if case .jsonObject = spec.type { throw fail("must be a JSON object, not a string") }
            switch spec.parse(s) {
            case .success(let v):
                if v.isNull, spec.required { throw fail("must not be empty") }
                return v
            case .failure(let p): throw fail("value \"\(s.prefix(60))\" " + p.message)
            }
        default:
            throw fail("has the wrong JSON type")
        }
        if let p = spec.check(parsed) { throw fail(p.message) }
        return parsed
    }

    /// A query filter's text as the field's value (empty: null).
    static func filterValue(_ text: String, _ spec: FieldSpec, name: String) throws -> FieldValue {
        switch spec.parse(text) {
        case .success(let v): return v
        case .failure(let p): throw Problem(.unprocessableContent, "\(name) \"\(text.prefix(60))\" \(p.message) (expected \(spec.type.summary))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .dataCorrupted(let c):
                let underlying = (c.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
                return [c.debugDescription, underlying].compactMap { $0 }.joined(separator: " ")
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c): return c.debugDescription
            @unknown default: return "\(e)"
            }
        }
        return "\(error)"
    }

    static func response(_ status: HTTPResponse.Status = .ok, _ json: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
