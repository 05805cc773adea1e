import Foundation
import HTTPTypes
import SmarketingCore

/// The OpenAPI 3.1 description, generated from the same route table and resource schemas
/// that the server registers, so it cannot describe a route that does not exist.
enum OpenAPIDocument {
    static func fieldSchema(_ f: FieldSpec) -> JSONValue {
        var s: [String: JSONValue]
        switch f.type {
        case .integer: s = ["type": .string("integer")]
        case .number: s = ["type": .string("number")]
        case .bool: s = ["type": .string("boolean")]
        case .jsonObject: s = ["type": .string("object")]
        case .timestamp: s = ["type": .string("string"), "format": .string("date-time")]
        case .date: s = ["type": .string("string"), "format": .string("date")]
        case .email: s = ["type": .string("string"), "format": .string("email")]
        case .oneOf(let values): s = ["type": .string("string"), "enum": .array(values.map { .string($0) })]
        default: s = ["type": .string("string")]
        }
        if !f.required { s["type"] = .array([s["type"]!, .string("null")]) }
        if case .oneOf(let values) = f.type, !f.required { s["enum"] = .array(values.map { .string($0) } + [.null]) }
        var doc = f.doc
        if let ref = f.references { doc += (doc.isEmpty ? "" : "; ") + "id of a \(ref.rawValue) record" }
        if !doc.isEmpty { s["description"] = .string(doc) }
        return .object(s)
    }

    static func recordSchema(_ r: Resource) -> JSONValue {
        var props: [String: JSONValue] = [:]
        if !r.schema.hasOwnID {
            props["id"] = .object([
                "type": .string("string"), "readOnly": .bool(true), "description": .string("derived: " + r.schema.key.joined(separator: "|")),
            ])
        }
        for f in r.schema.fields { props[f.name] = fieldSchema(f) }
        return .object([
            "type": .string("object"), "properties": .object(props),
            "required": .array(r.schema.fields.filter(\.required).map { .string($0.name) }),
            "additionalProperties": .bool(false),
        ])
    }

    static func ref(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(name)")]) }

    static func jsonContent(_ schema: JSONValue) -> JSONValue { .object(["application/json": .object(["schema": schema])]) }

    static func parameters(_ route: APIRoute) -> [JSONValue] {
        var params: [JSONValue] = []
        if route.path.contains("{id}") {
            params.append(.object(["name": .string("id"), "in": .string("path"), "required": .bool(true), "schema": .object(["type": .string("string")])]))
        }
        func query(_ name: String, _ doc: String) {
            params.append(
                .object([
                    "name": .string(name), "in": .string("query"), "required": .bool(false), "schema": .object(["type": .string("string")]),
                    "description": .string(doc),
                ])
            )
        }
        switch route.kind {
        case .list(let r):
            query("limit", "page size, 1–1000 (default 50)")
            query("cursor", "next_cursor of the previous page")
            query("sort", "a field name; prefix - for descending")
            if !r.schema.searchFields.isEmpty { query("q", "text contained in " + r.schema.searchFields.joined(separator: ", ")) }
            if let tf = r.schema.timeField {
                query("created_from", "\(tf) at or after")
                query("created_to", "\(tf) before")
            }
            for f in r.schema.fields where f.filterable { query(f.name, "equals (empty: is null)") }
            for (alias, field) in r.schema.aliases.sorted(by: { $0.key < $1.key }) where alias != field { query(alias, "alias of \(field)") }
        case .ingest: query("partial", "true: store the valid events of a batch that has rejected ones")
        case .duplicates: query("limit", "at most this many pairs (default 100)")
        case .audit:
            query("limit", "entries (default 100)")
            query("before", "entries with seq below this")
        case .attribution:
            query("model", "all (default) or comma-separated: " + AttributionModel.allCases.map(\.rawValue).joined(separator: ", "))
            query("by", "channel (default), campaign or content")
            query("from", "first day YYYY-MM-DD (default: the current quarter's)")
            query("to", "the day after the last, YYYY-MM-DD")
            query("lookback_days", "touches up to this many days before the close count (default 365)")
            query("half_life_days", "half-life of the time-decay model (default 7)")
        case .funnel:
            query("from", "first day of the lead cohort YYYY-MM-DD (default: the current quarter's)")
            query("to", "the day after the last, YYYY-MM-DD")
            query("by", "the cut whose values are tested against the rest: segment (default), channel, campaign, persona, owner, team or all")
            query("stuck_days", "stuck: no stage move for more than this many days (default 30)")
            query("stale_days", "stale: an MQL, SAL or SQL without a sales action for more than this many days (default 14)")
            query("confidence", "confidence of the drop-off flags, 0.5–0.999 (default 0.95)")
        case .killers:
            query("from", "first day YYYY-MM-DD of reaching the stage (default: the current quarter's)")
            query("to", "the day after the last, YYYY-MM-DD")
            query("stage", "the step's first stage: lead, mql (default), sal, sql or opportunity; converted = reached a later stage")
            query("confidence", "confidence of the flags, 0.5–0.999 (default 0.95)")
            query("min_paths", "test a feature only with at least this many paths with and without it (default 20)")
        case .kpis, .stream, .kpiRecords:
            query("from", "first day YYYY-MM-DD (default: the current quarter's)")
            query("to", "the day after the last, YYYY-MM-DD")
            if route.kind == .kpiRecords {
                query("by", "the cut: all, channel, campaign, persona, segment, owner or team")
                query("key", "the cut's value (required with by)")
                query("label", "only cells with this label (a lost reason)")
                query("limit", "at most this many records (default 100)")
            } else {
                query("by", "cuts, comma-separated: channel, campaign, persona, segment, owner, team")
            }
            if route.kind == .stream { query("once", "true: send the current KPIs and end the stream") }
            if route.kind == .kpis { query("romi", "attribution models whose ROMI to add: all or comma-separated (runs the period's attribution)") }
        default: break
        }
        return params
    }

    static func operation(_ route: APIRoute) -> JSONValue {
        var responses: [String: JSONValue] = [:]
        for code in route.responses {
            let description = code < 300 ? "success" : "problem"
            var response: [String: JSONValue] = ["description": .string(description)]
            if code >= 400 {
                response["content"] = .object(["application/problem+json": .object(["schema": ref("Problem")])])
            } else if route.kind == .stream {
                response["content"] = .object(["text/event-stream": .object(["schema": .object(["type": .string("string")])])])
            } else if code != 204 {
                response["content"] = jsonContent(successSchema(route))
            }
            responses[String(code)] = .object(response)
        }
        for code in [401, 403] {
            responses[String(code)] = .object([
                "description": .string(code == 401 ? "not authenticated" : "the role may not do this"),
                "content": .object(["application/problem+json": .object(["schema": ref("Problem")])]),
            ])
        }
        var op: [String: JSONValue] = [
            "summary": .string(route.summary), "parameters": .array(parameters(route)), "responses": .object(responses),
            "operationId": .string(operationID(route)),
        ]
        switch route.kind {
        case .create(let r): op["requestBody"] = .object(["required": .bool(true), "content": jsonContent(ref(schemaName(r)))])
        case .update(let r): op["requestBody"] = .object(["required": .bool(true), "content": jsonContent(ref(schemaName(r)))])
        case .ingest:
            op["requestBody"] = .object([
                "required": .bool(true),
                "content": .object([
                    "application/json": .object([
                        "schema": .object(["oneOf": .array([ref("Event"), .object(["type": .string("array"), "items": ref("Event")])])])
                    ]),
                    "application/x-ndjson": .object(["schema": ref("Event")]),
                ]),
            ])
        case .merge:
            op["requestBody"] = .object([
                "required": .bool(true),
                "content": jsonContent(
                    .object([
                        "type": .string("object"), "required": .array([.string("keep"), .string("duplicate")]),
                        "properties": .object(["keep": .object(["type": .string("string")]), "duplicate": .object(["type": .string("string")])]),
                    ])
                ),
            ])
        case .createToken:
            op["requestBody"] = .object([
                "required": .bool(true),
                "content": jsonContent(
                    .object([
                        "type": .string("object"), "required": .array([.string("user_id"), .string("role")]),
                        "properties": .object([
                            "user_id": .object(["type": .string("string")]),
                            "role": .object(["type": .string("string"), "enum": .array(AccessRole.allCases.map { .string($0.rawValue) })]),
                            "name": .object(["type": .string("string")]),
                        ]),
                    ])
                ),
            ])
        case .setPassword:
            op["requestBody"] = .object([
                "required": .bool(true),
                "content": jsonContent(
                    .object([
                        "type": .string("object"), "required": .array([.string("password")]),
                        "properties": .object(["password": .object(["type": .string("string"), "minLength": .number(10)])]),
                    ])
                ),
            ])
        default: break
        }
        return .object(op)
    }

    static func schemaName(_ r: Resource) -> String {
        r.rawValue.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static func operationID(_ route: APIRoute) -> String {
        route.method.rawValue.lowercased()
            + route.path.replacingOccurrences(of: "/api/v1", with: "")
            .split(separator: "/").map {
                $0.replacingOccurrences(of: "{", with: "by_").replacingOccurrences(of: "}", with: "").replacingOccurrences(of: "-", with: "_")
            }
            .joined(separator: "_")
    }

    static func successSchema(_ route: APIRoute) -> JSONValue {
        switch route.kind {
        case .list(let r):
            return .object([
                "type": .string("object"),
                "properties": .object([
                    "data": .object(["type": .string("array"), "items": ref(schemaName(r))]),
                    "next_cursor": .object(["type": .array([.string("string"), .string("null")])]),
                ]),
            ])
        case .get(let r), .create(let r), .update(let r), .delete(let r): return ref(schemaName(r))
        case .merge: return ref("Contacts")
        case .opportunityContacts:
            return .object([
                "type": .string("object"), "properties": .object(["data": .object(["type": .string("array"), "items": ref("OpportunityContacts")])]),
            ])
        case .ingest: return ref("IngestResult")
        default: return .object(["type": .string("object")])
        }
    }

    /// The document as JSON text.
    static let json: String = {
        var paths: [String: [String: JSONValue]] = [:]
        for route in APIRoute.all {
            paths[route.path, default: [:]][route.method.rawValue.lowercased()] = operation(route)
        }
        for (path, summary) in [("/openapi.json", "This description (no authentication)"), ("/healthz", "Liveness (no authentication)")] {
            paths[path] = [
                "get": .object([
                    "summary": .string(summary), "security": .array([]),
                    "operationId": .string("get" + path.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ".", with: "_")),
                    "responses": .object(["200": .object(["description": .string("success"), "content": jsonContent(.object(["type": .string("object")]))])]),
                ])
            ]
        }
        var schemas: [String: JSONValue] = [:]
        for r in Resource.allCases { schemas[schemaName(r)] = recordSchema(r) }
        schemas["Problem"] = .object([
            "type": .string("object"),
            "properties": .object([
                "type": .object(["type": .string("string")]), "title": .object(["type": .string("string")]),
                "status": .object(["type": .string("integer")]), "detail": .object(["type": .string("string")]),
            ]), "required": .array([.string("title"), .string("status"), .string("detail")]),
        ])
        var eventProps: [String: JSONValue] = [:]
        for name in EventPayload.fields { eventProps[name] = .object(["type": .string(name == "properties" ? "object" : "string")]) }
        schemas["Event"] = .object([
            "type": .string("object"), "properties": .object(eventProps), "additionalProperties": .bool(false),
            "required": .array([.string("id"), .string("type"), .string("occurred_at")]),
            "description": .string("a touchpoint; name the contact by contact_id or by email (unknown emails create the contact)"),
        ])
        schemas["IngestResult"] = .object([
            "type": .string("object"),
            "properties": .object([
                "accepted": .object(["type": .string("integer")]), "duplicates": .object(["type": .string("integer")]),
                "rejected": .object(["type": .string("integer")]),
                "results": .object([
                    "type": .string("array"),
                    "items": .object([
                        "type": .string("object"),
                        "properties": .object([
                            "index": .object(["type": .string("integer")]), "id": .object(["type": .array([.string("string"), .string("null")])]),
                            "status": .object(["type": .string("string"), "enum": .array([.string("accepted"), .string("duplicate"), .string("rejected")])]),
                            "contact_id": .object(["type": .string("string")]), "reason": .object(["type": .string("string")]),
                        ]),
                    ]),
                ]),
            ]),
        ])
        let doc: JSONValue = .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string("smarketing API"), "version": .string("1"),
                "description": .string(
                    "One shared funnel for marketing and sales. Every route needs an API token (Authorization: Bearer …). Errors are application/problem+json."
                ),
            ]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object([
                "schemas": .object(schemas),
                "securitySchemes": .object([
                    "bearer": .object(["type": .string("http"), "scheme": .string("bearer")]),
                    "basic": .object(["type": .string("http"), "scheme": .string("basic")]),
                ]),
            ]),
            "security": .array([.object(["bearer": .array([])]), .object(["basic": .array([])])]),
        ])
        return doc.compactText
    }()
}
