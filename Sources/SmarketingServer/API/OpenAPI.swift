import Foundation
import HTTPTypes
import SmarketingConnectors
import SmarketingCore

/// The OpenAPI 3.1 description, generated from the same route table and resource schemas
/// that the server registers, so it cannot describe a route that does not exist.
enum OpenAPIDocument {
    /// How a record field is described: `.record` as the API returns it, `.create` for a POST
    /// body (required fields present and non-empty), `.patch` for a PATCH body (every field
    /// optional, required ones never null or empty).
    enum FieldUse { case record, create, patch }

    static func fieldSchema(_ f: FieldSpec, _ use: FieldUse = .record) -> JSONValue {
        var s: [String: JSONValue]
        let maxLength: JSONValue = .number(Double(f.maxLength))
        switch f.type {
        case .integer, .number:
            s = [
                "type": .string(f.type == .integer ? "integer" : "number"), "minimum": .number(f.range.lowerBound),
                "maximum": .number(f.range.upperBound),
            ]
        case .bool: s = ["type": .string("boolean")]
        case .jsonObject: s = ["type": .string("object")]
        case .timestamp: s = ["type": .string("string"), "pattern": .string(InputPattern.timestamp)]
        case .date: s = ["type": .string("string"), "pattern": .string(InputPattern.date)]
        case .month: s = ["type": .string("string"), "pattern": .string(InputPattern.month)]
        case .email: s = ["type": .string("string"), "pattern": .string(InputPattern.email), "maxLength": maxLength]
        case .domain: s = ["type": .string("string"), "pattern": .string(InputPattern.domain), "maxLength": maxLength]
        case .oneOf(let values): s = ["type": .string("string"), "enum": .array(values.map { .string($0) })]
        case .text, .idList:
            // Any text but the NUL character, which no database column holds (FieldSpec.check).
            s = ["type": .string("string"), "maxLength": maxLength, "pattern": .string(Schema.noNULPattern)]
            if f.required, use != .record { s["minLength"] = .number(1) }
        }
        if !f.required || use == .record && f.type == .bool {
            if let t = s["type"] { s["type"] = .array([t, .string("null")]) }
            if case .oneOf(let values) = f.type { s["enum"] = .array(values.map { .string($0) } + [.null]) }
        }
        var doc = f.doc.isEmpty ? f.type.summary : f.doc
        if let ref = f.references { doc += "; id of a \(ref.rawValue) record" }
        s["description"] = .string(doc)
        return .object(s)
    }

    /// A record as the API returns it, or a create/patch body.
    static func recordSchema(_ r: Resource, _ use: FieldUse = .record) -> JSONValue {
        var props: [String: JSONValue] = [:]
        if !r.schema.hasOwnID, use == .record {
            props["id"] = .object(["type": .string("string"), "description": .string("derived: " + r.schema.key.joined(separator: "|"))])
        }
        // The fields that identify a keyed record cannot change.
        let fields = r.schema.fields.filter { use != .patch || r.schema.hasOwnID || !r.schema.key.contains($0.name) }
        for f in fields where !(use == .patch && f.name == "id") { props[f.name] = fieldSchema(f, use) }
        let required: [JSONValue]
        switch use {
        case .record: required = r.schema.fields.map { .string($0.name) } + (r.schema.hasOwnID ? [] : [.string("id")])
        case .create: required = r.schema.fields.filter(\.required).map { .string($0.name) }
        case .patch: required = []
        }
        let s: [String: JSONValue] = [
            "type": .string("object"), "properties": .object(props), "required": .array(required), "additionalProperties": .bool(false),
        ]
        return .object(s)
    }

    /// The schema of a list filter: the field's values as text, or empty for "is null".
    static func filterSchema(_ f: FieldSpec) -> JSONValue {
        switch f.type {
        case .bool: return Schema.choice(["true", "false", ""])
        case .oneOf(let values): return Schema.choice(values + [""])
        case .email: return Schema.pattern("^(?:" + InputPattern.emailBody + ")?$", "an email address, or empty")
        case .domain: return Schema.pattern("^(?:" + InputPattern.domain.dropFirst().dropLast() + ")?$", "a domain, or empty")
        case .month: return Schema.pattern("^(?:" + InputPattern.month.dropFirst().dropLast() + ")?$", "a month YYYY-MM, or empty")
        default: return Schema.string(maxLength: f.maxLength, noNUL: true)
        }
    }

    static func ref(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(name)")]) }

    static func jsonContent(_ schema: JSONValue) -> JSONValue { .object(["application/json": .object(["schema": schema])]) }

    /// The schema of the JSON body a route takes (nil: no JSON body), built once per route.
    static func bodySchema(_ route: APIRoute) -> JSONValue? { bodySchemas[route.method.rawValue + " " + route.path] ?? nil }

    static let bodySchemas: [String: JSONValue?] = Dictionary(
        APIRoute.all.map { ($0.method.rawValue + " " + $0.path, makeBodySchema($0)) },
        uniquingKeysWith: { a, _ in a }
    )

    static func makeBodySchema(_ route: APIRoute) -> JSONValue? {
        func object(_ props: [String: JSONValue], required: [String] = []) -> JSONValue {
            .object([
                "type": .string("object"), "properties": .object(props), "required": .array(required.map { .string($0) }),
                "additionalProperties": .bool(false),
            ])
        }
        let id = Schema.string(maxLength: 1_000, minLength: 1)
        switch route.kind {
        case .create(let r): return ref(schemaName(r) + "Create")
        case .update(let r): return ref(schemaName(r) + "Patch")
        case .ingest: return .object(["oneOf": .array([ref("Event"), ref("EventBatch")])])
        case .merge: return object(["keep": id, "duplicate": id], required: ["keep", "duplicate"])
        case .createToken:
            return object(
                ["user_id": id, "role": Schema.choice(AccessRole.allCases.map(\.rawValue)), "name": Schema.string(maxLength: 200)],
                required: ["user_id", "role"]
            )
        case .setPassword: return object(["password": Schema.string(maxLength: 1_000, minLength: 10)], required: ["password"])
        case .contactErase: return object(["reason": Schema.string(maxLength: 500, minLength: 1)], required: ["reason"])
        case .contactConsentSet:
            return object(["status": Schema.choice(SubscriptionStatus.allCases.map(\.rawValue)), "source": Schema.string(maxLength: 200)], required: ["status"])
        case .handoverReject:
            return object(["reason": id, "note": Schema.string(maxLength: 2_000)], required: ["reason"])
        case .handoverReassign: return object(["owner_id": id])
        case .handoverAccept, .handoverQualify, .handoverPause, .handoverResume: return object(["note": Schema.string(maxLength: 2_000)])
        case .webhookCreate:
            return object(
                [
                    "url": Schema.pattern(
                        "^https?://[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63}){0,8}(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~!$&'()*+,;=:@/-]{0,1900})?$",
                        "an http(s) URL"
                    ),
                    "events": .object(["type": .string("array"), "items": Schema.choice(["*"] + WebhookEvents.all), "minItems": .number(1), "maxItems": .number(50)]),
                    "format": Schema.choice(["json", "slack"]),
                    "secret": Schema.string(maxLength: 200, minLength: 16),
                ],
                required: ["url", "events"]
            )
        case .connectionCreate:
            // One alternative per vendor: exactly the credentials it takes, the required ones non-empty.
            let settings = object(
                [
                    "sync_interval_minutes": Schema.pattern("^(?:[0-9]{1,4}|100[0-7][0-9]|10080)$", "0 to 10080 minutes"),
                    "rate_limit": Schema.string(maxLength: 1_000), "rate_window_seconds": Schema.string(maxLength: 1_000),
                    "search_window": Schema.string(maxLength: 1_000), "business_unit_id": Schema.string(maxLength: 1_000),
                    "pardot_base_url": Schema.string(maxLength: 1_000),
                ]
            )
            let alternatives: [JSONValue] = Vendor.allCases.map { vendor in
                let (required, optional) = Connectors.credentials(vendor)
                var credentials: [String: JSONValue] = [:]
                for k in required { credentials[k] = Schema.string(maxLength: 4_096, minLength: 1) }
                for k in optional { credentials[k] = Schema.string(maxLength: 4_096) }
                return object(
                    [
                        "vendor": Schema.choice([vendor.rawValue]),
                        "name": Schema.pattern("^[a-z][a-z0-9_-]{0,63}$", "a connection name"),
                        "base_url": Schema.pattern(ConnectionService.baseURLPattern, "an http(s) URL"),
                        "credentials": object(credentials, required: required),
                        "settings": settings,
                    ],
                    required: ["vendor", "name", "credentials"]
                )
            }
            return .object(["oneOf": .array(alternatives)])
        case .settingsChange:
            var props: [String: JSONValue] = ["if_version": Schema.integer(0...Int(Int32.max))]
            // Exactly what the core accepts, so that every value the document allows is taken.
            for key in WorkspaceSettingKey.allCases {
                var schema: JSONValue
                switch key {
                case .timeZone: schema = Schema.choice(WorkspaceSettingKey.zoneNames.sorted())
                case .currency: schema = Schema.choice(WorkspaceSettingKey.currencyCodes.sorted())
                case .fiscalYearStartMonth: schema = Schema.integer(1...12)
                case .weekStart: schema = Schema.choice(["monday", "sunday"])
                case .slaHours: schema = Schema.number(WorkspaceSettingKey.slaHoursRange)
                case .staleDays: schema = Schema.integer(WorkspaceSettingKey.staleDaysRange)
                case .lookbackDays: schema = Schema.integer(WorkspaceSettingKey.lookbackDaysRange)
                case .halfLifeDays: schema = Schema.number(WorkspaceSettingKey.halfLifeDaysRange)
                case .retentionMonths: schema = Schema.integer(WorkspaceSettingKey.retentionMonthsRange)
                }
                if case .object(var o) = schema {
                    o["description"] = .string(key.summary)
                    schema = .object(o)
                }
                props[key.rawValue] = schema
            }
            var o = object(props)
            if case .object(var d) = o {
                d["minProperties"] = .number(1)
                o = .object(d)
            }
            return o
        case .meetingCreate:
            return object([
                "week": Schema.isoWeek, "title": Schema.string(maxLength: MeetingRules.titleMax, minLength: 1),
                "attendees": attendeeList,
            ])
        case .meetingChange:
            var o = object([
                "attendees": attendeeList, "decision": Schema.string(maxLength: MeetingRules.decisionMax, minLength: 1),
                "notes": Schema.string(maxLength: MeetingRules.notesMax),
            ])
            if case .object(var d) = o {
                d["minProperties"] = .number(1)
                o = .object(d)
            }
            return o
        case .actionItemCreate:
            return object(
                [
                    "title": Schema.string(maxLength: MeetingRules.titleMax, minLength: 1), "owner_id": id, "due": Schema.date,
                    "meeting_id": Schema.serial,
                ],
                required: ["title", "owner_id", "due"]
            )
        case .actionItemChange: return object(["status": Schema.choice(["open", "done"])], required: ["status"])
        case .ownerChange:
            let people = JSONValue.object(["type": .string("array"), "items": Schema.string(maxLength: 1_000, minLength: 1), "maxItems": .number(50)])
            return object([
                "team": Schema.choice(OwnedSubjects.teams), "responsible": Schema.string(maxLength: 1_000), "accountable": Schema.string(maxLength: 1_000),
                "consulted": people, "informed": people,
            ])
        case .campaignNote:
            return object(
                ["text": Schema.string(maxLength: MeetingRules.decisionMax, minLength: 1), "decision": Schema.choice(CampaignNote.Decision.allCases.map(\.rawValue))],
                required: ["text"]
            )
        case .leadRate:
            // One alternative per rating: exactly the reasons that go with it.
            return .object([
                "oneOf": .array(
                    LeadRatingValue.allCases.map { rating in
                        object(
                            [
                                "handover_id": Schema.serial, "rating": Schema.choice([rating.rawValue]),
                                "reason": Schema.choice(LeadRatingReasons.all.filter { $0.rating == rating }.map(\.id)),
                            ],
                            required: ["handover_id", "rating"]
                        )
                    }
                )
            ])
        case .webhookReplay: return .object(["oneOf": .array([object(["delivery_id": Schema.serial], required: ["delivery_id"]), object(["from_seq": Schema.serial], required: ["from_seq"])])])
        default: return nil
        }
    }

    /// A list of user ids (attendees).
    static let attendeeList: JSONValue = .object([
        "type": .string("array"), "items": Schema.string(maxLength: 1_000, minLength: 1), "maxItems": .number(Double(MeetingRules.attendeesMax)),
    ])

    /// The JSON form of a YAML body: `{"model": "<yaml>"}` or `{"config": "<yaml>"}`.
    static let yamlJSONSchema: JSONValue = .object([
        "type": .string("object"), "additionalProperties": .bool(false),
        "properties": .object(["model": Schema.string(maxLength: 1_000_000, minLength: 1), "config": Schema.string(maxLength: 1_000_000, minLength: 1)]),
        "minProperties": .number(1), "maxProperties": .number(1),
    ])

    /// The YAML file a route takes as its body, if any.
    static func takesYAML(_ route: APIRoute) -> Bool {
        switch route.kind {
        case .scoringValidate, .scoringDiff, .scoringApply, .scoringBacktest, .handoverValidate, .handoverApply, .kpiConfigValidate, .kpiConfigDiff,
            .kpiConfigApply:
            return true
        default: return false
        }
    }

    static func operation(_ route: APIRoute) -> JSONValue {
        var responses: [String: JSONValue] = [:]
        var codes = route.responses
        if bodySchema(route) != nil || takesYAML(route) { codes += [400, 413, 415] }
        if !route.parameters.isEmpty || bodySchema(route) != nil || takesYAML(route) { codes.append(422) }
        // A page cursor or an {id} may name nothing; a change may conflict with the current state.
        if route.path.contains("{id}") { codes.append(404) }
        if case .list = route.kind { codes.append(404) }
        if route.method != .get { codes.append(409) }
        for code in Set(codes).sorted() {
            let description = code < 300 ? "success" : "problem"
            var response: [String: JSONValue] = ["description": .string(description)]
            if code >= 400 {
                response["content"] = .object(["application/problem+json": .object(["schema": ref("Problem")])])
            } else if code == 202, route.kind == .settingsChange {
                response["content"] = jsonContent(settingsJobSchema)
            } else if route.kind == .stream {
                response["content"] = .object(["text/event-stream": .object(["schema": ref("KPIStreamEvent")])])
            } else if code != 204 {
                response["content"] = jsonContent(successSchema(route))
            }
            if code == 200, route.kind == .attribution {
                response["headers"] = .object([
                    "Age": .object([
                        "description": .string("seconds since the report was computed (at most 60)"),
                        "schema": .object(["type": .string("integer"), "minimum": .number(0)]),
                    ])
                ])
            }
            responses[String(code)] = .object(response)
        }
        for code in [401, 403, 429] {
            responses[String(code)] = .object([
                "description": .string(code == 401 ? "not authenticated" : code == 403 ? "the role may not do this" : "over the rate limit of the token or the address; Retry-After says when to try again"),
                "content": .object(["application/problem+json": .object(["schema": ref("Problem")])]),
            ])
        }
        var op: [String: JSONValue] = [
            "summary": .string(route.summary), "parameters": .array(route.parameters.map(\.document)), "responses": .object(responses),
            "operationId": .string(operationID(route)),
        ]
        if let schema = bodySchema(route) {
            var content: [String: JSONValue] = ["application/json": .object(["schema": schema])]
            if route.kind == .ingest { content["application/x-ndjson"] = .object(["schema": ref("Event")]) }
            // Bodies whose fields are all optional may be left out.
            let optional: Bool
            switch route.kind {
            case .handoverReassign, .handoverAccept, .handoverQualify, .handoverPause, .handoverResume: optional = true
            default: optional = false
            }
            op["requestBody"] = .object(["required": .bool(!optional), "content": .object(content)])
        } else if takesYAML(route) {
            op["requestBody"] = .object([
                "required": .bool(true),
                "description": .string("the YAML file; or JSON {\"model\": \"<yaml>\"} ({\"config\": …} for the handover)"),
                "content": .object([
                    "application/yaml": .object([
                        "schema": .object(["type": .string("object"), "description": .string("the file: a YAML mapping (examples/*.yaml)")])
                    ]),
                    "application/json": .object(["schema": yamlJSONSchema]),
                ]),
            ])
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
        case .contactErase:
            let vendor = objectSchema(
                [
                    "connection": .object(["type": .string("string")]), "object": .object(["type": .string("string")]),
                    "external_id": .object(["type": .string("string")]), "outcome": Schema.choice(["erased", "not_found", "failed", "manual"]),
                    "message": .object(["type": .string("string")]),
                ],
                required: ["connection", "object", "external_id", "outcome", "message"]
            )
            return objectSchema(
                [
                    "contact_id": .object(["type": .string("string")]), "erased_at": .object(["type": .string("string")]),
                    "reason": .object(["type": .string("string")]),
                    "changed": .object(["type": .string("object"), "additionalProperties": .object(["type": .string("integer")])]),
                    "vendors": .object(["type": .string("array"), "items": vendor]),
                ],
                required: ["contact_id", "erased_at", "reason", "changed", "vendors"]
            )
        case .contactConsent, .contactConsentSet:
            return objectSchema(
                [
                    "contact_id": .object(["type": .string("string")]),
                    "status": .object(["type": .array([.string("string"), .string("null")]), "enum": .array([.string("subscribed"), .string("unsubscribed"), .null])]),
                    "source": nullableString, "at": nullableString,
                ],
                required: ["contact_id", "status", "source", "at"]
            )
        case .retention:
            let candidate = objectSchema(
                ["contact_id": .object(["type": .string("string")]), "last_activity": .object(["type": .string("string")])],
                required: ["contact_id", "last_activity"]
            )
            return objectSchema(
                [
                    "months": .object(["type": .string("integer")]), "cutoff": nullableString, "dry_run": .object(["type": .string("boolean")]),
                    "due": .object(["type": .string("integer")]), "anonymised": .object(["type": .string("integer")]),
                    "sample": .object(["type": .string("array"), "items": candidate]), "vendors_left": .object(["type": .string("array")]),
                ],
                required: ["months", "cutoff", "dry_run", "due", "anonymised", "sample", "vendors_left"]
            )
        case .consentList:
            let item = objectSchema(
                [
                    "contact_id": .object(["type": .string("string")]), "status": Schema.choice(SubscriptionStatus.allCases.map(\.rawValue)),
                    "source": .object(["type": .string("string")]), "at": .object(["type": .string("string")]),
                ],
                required: ["contact_id", "status", "source", "at"]
            )
            return objectSchema(["data": .object(["type": .string("array"), "items": item]), "next_after": nullableString], required: ["data", "next_after"])
        case .contactExport:
            var props: [String: JSONValue] = [
                "exported_at": .object(["type": .string("string")]), "contact": ref("Contacts"),
                "erasure": .object(["type": .string("object"), "description": .string("when, by whom and why the person was erased (erased contacts only)")]),
                "earlier_person_erased": .object([
                    "type": .string("object"), "description": .string("an earlier person with this address was erased before this record was created"),
                ]),
            ]
            for section in PersonPrivacy.sections {
                props[section] = .object(["type": .string("array"), "items": .object(["type": .string("object")])])
            }
            return objectSchema(props, required: ["exported_at", "contact"] + PersonPrivacy.sections)
        case .erasures:
            let tomb = objectSchema(
                [
                    "contact_id": .object(["type": .string("string")]), "erased_at": .object(["type": .string("string")]),
                    "actor": .object(["type": .string("string")]), "reason": .object(["type": .string("string")]),
                ],
                required: ["contact_id", "erased_at", "actor", "reason"]
            )
            let match = objectSchema(
                [
                    "contact_id": .object(["type": .string("string")]), "erased_contact_id": .object(["type": .string("string")]),
                    "erased_at": .object(["type": .string("string")]),
                ],
                required: ["contact_id", "erased_contact_id", "erased_at"]
            )
            return objectSchema(
                ["erasures": .object(["type": .string("array"), "items": tomb]), "flagged": .object(["type": .string("array"), "items": match])],
                required: ["erasures", "flagged"]
            )
        case .opportunityContacts:
            return .object([
                "type": .string("object"), "properties": .object(["data": .object(["type": .string("array"), "items": ref("OpportunityContacts")])]),
            ])
        case .ingest: return ref("IngestResult")
        case .settings, .settingsChange:
            var settings: [String: JSONValue] = [:]
            for key in WorkspaceSettingKey.allCases { settings[key.rawValue] = .object(["type": .string("string"), "description": .string(key.summary)]) }
            var props: [String: JSONValue] = [
                "version": .object(["type": .string("integer"), "minimum": .number(0)]),
                "settings": .object(["type": .string("object"), "properties": .object(settings), "required": .array(settings.keys.sorted().map { .string($0) })]),
            ]
            var required: [JSONValue] = [.string("version"), .string("settings")]
            if route.kind == .settingsChange {
                let change = JSONValue.object([
                    "type": .string("object"),
                    "properties": .object(["key": .object(["type": .string("string")]), "old": .object(["type": .string("string")]), "new": .object(["type": .string("string")])]),
                    "required": .array([.string("key"), .string("old"), .string("new")]),
                ])
                props["changes"] = .object(["type": .string("array"), "items": change])
                props["rebuilt_aggregates"] = .object(["type": .string("boolean")])
                required += [.string("changes"), .string("rebuilt_aggregates")]
            }
            return .object(["type": .string("object"), "properties": .object(props), "required": .array(required)])
        case .meetingList:
            return objectSchema(["data": .object(["type": .string("array"), "items": ref("Meeting")]), "next_before": nullableInteger], required: ["data", "next_before"])
        case .meetingCreate, .meetingGet, .meetingChange, .meetingFinish: return ref("Meeting")
        case .meetingMinutes:
            return objectSchema(
                ["meeting_id": .object(["type": .string("integer")]), "format": Schema.choice(["markdown", "html"]), "text": .object(["type": .string("string")])],
                required: ["meeting_id", "format", "text"]
            )
        case .actionItemList: return objectSchema(["data": .object(["type": .string("array"), "items": ref("ActionItem")])], required: ["data"])
        case .actionItemCreate, .actionItemChange: return ref("ActionItem")
        case .agenda: return ref("Agenda")
        case .campaignNote: return ref("CampaignNote")
        case .settingsJob: return settingsJobSchema
        case .ownerList: return objectSchema(["data": .object(["type": .string("array"), "items": ref("Ownership")])], required: ["data"])
        case .ownerChange: return ref("Ownership")
        case .campaignReview:
            return objectSchema(
                [
                    "schema": Schema.choice(["smarketing-campaign-review/1"]), "campaign_id": .object(["type": .string("string")]), "name": nullableString,
                    "period": .object(["type": .string("object")]), "figures": .object(["type": .string("object")]),
                    "lead_quality": .object(["type": .array([.string("object"), .string("null")])]),
                    "notes": .object(["type": .string("array"), "items": ref("CampaignNote")]),
                    "decision": .object(["oneOf": .array([ref("CampaignNote"), .object(["type": .string("null")])])]),
                ],
                required: ["schema", "campaign_id", "name", "period", "figures", "lead_quality", "notes", "decision"]
            )
        case .forecast:
            let n = JSONValue.object(["type": .string("number")])
            return objectSchema(
                [
                    "as_of": .object(["type": .string("string")]), "quarter_from": Schema.date, "quarter_to": Schema.date, "won_so_far": n,
                    "open_deals": .object(["type": .string("integer")]), "open_amount": n, "expected_from_open": n, "expected_from_new": n, "forecast": n,
                    "low": n, "high": n, "confidence": n, "by_segment": .object(["type": .string("array")]),
                ],
                required: [
                    "as_of", "quarter_from", "quarter_to", "won_so_far", "open_deals", "open_amount", "expected_from_open", "expected_from_new", "forecast",
                    "low", "high", "confidence", "by_segment",
                ]
            )
        case .forecastBacktest:
            return objectSchema(
                [
                    "schema": Schema.choice(["smarketing-forecast-backtest/1"]), "quarters": .object(["type": .string("integer")]),
                    "snapshots": .object(["type": .string("array")]), "by_week": .object(["type": .string("array")]), "mape": nullableNumber,
                    "bias": nullableNumber, "coverage": nullableNumber, "method": .object(["type": .string("string")]),
                ],
                required: ["schema", "quarters", "snapshots", "by_week", "mape", "bias", "coverage", "method"]
            )
        case .leadRate:
            return objectSchema(
                [
                    "handover_id": .object(["type": .string("integer")]), "contact_id": .object(["type": .string("string")]),
                    "rating": Schema.choice(["good", "bad"]), "reason": nullableString, "rated_by": .object(["type": .string("string")]),
                    "rated_at": .object(["type": .string("string")]),
                ],
                required: ["handover_id", "contact_id", "rating", "reason", "rated_by", "rated_at"]
            )
        case .leadQuality:
            return objectSchema(
                [
                    "schema": Schema.choice(["smarketing-lead-quality/1"]), "period": .object(["type": .string("object")]),
                    "by": Schema.choice(LeadQualityCut.allCases.map(\.rawValue)), "total": .object(["type": .string("object")]),
                    "groups": .object(["type": .string("array")]),
                ],
                required: ["schema", "period", "by", "total", "groups"]
            )
        default: return .object(["type": .string("object")])
        }
    }

    static let nullableInteger: JSONValue = .object(["type": .array([.string("integer"), .string("null")])])
    /// A background settings change (`?background=true`, `/api/v1/settings/jobs/{id}`).
    static let settingsJobSchema: JSONValue = .object([
        "type": .string("object"),
        "properties": .object([
            "id": .object(["type": .string("string")]), "status": Schema.choice(["running", "done", "failed"]),
            "done": .object(["type": .string("integer")]), "total": .object(["type": .string("integer")]),
            "phase": .object(["type": .array([.string("string"), .string("null")])]), "message": .object(["type": .array([.string("string"), .string("null")])]),
            "error": .object(["type": .array([.string("string"), .string("null")])]),
        ]),
        "required": .array([.string("id"), .string("status"), .string("done"), .string("total")]),
    ])

    static let nullableNumber: JSONValue = .object(["type": .array([.string("number"), .string("null")])])
    static let nullableString: JSONValue = .object(["type": .array([.string("string"), .string("null")])])

    static func objectSchema(_ props: [String: JSONValue], required: [String]) -> JSONValue {
        .object(["type": .string("object"), "properties": .object(props), "required": .array(required.map { .string($0) })])
    }

    /// The weekly sync's schemas (components).
    static let ritualSchemas: [String: JSONValue] = {
        let int = JSONValue.object(["type": .string("integer")])
        let text = JSONValue.object(["type": .string("string")])
        let texts = JSONValue.object(["type": .string("array"), "items": text])
        let item = objectSchema(
            [
                "id": int, "title": text, "owner_id": text, "owner_name": nullableString, "due": Schema.date,
                "status": Schema.choice(["open", "done"]), "meeting_id": nullableInteger, "created_at": text, "created_by": text,
                "done_at": nullableString, "done_by": nullableString,
            ],
            required: ["id", "title", "owner_id", "owner_name", "due", "status", "meeting_id", "created_at", "created_by", "done_at", "done_by"]
        )
        let agenda = objectSchema(
            [
                "schema": Schema.choice(["smarketing-agenda/1"]), "week": text, "currency": text, "period": .object(["type": .string("object")]),
                "previous_week": .object(["type": .string("object")]), "quarter_to_date": .object(["type": .string("object")]),
                "last_quarter": .object(["type": .string("object")]), "as_of": text,
                "kpis": .object(["type": .string("array")]), "commitments": .object(["type": .string("array")]),
                "sla": .object(["type": .string("object")]), "leaks": texts, "killers": .object(["type": .string("array")]),
                "rejections": .object(["type": .string("array")]), "backlog": .object(["type": .string("array")]),
                "action_items": .object(["type": .string("array"), "items": ref("ActionItem")]), "overdue_items": int,
                "changes": .object(["type": .string("array")]),
            ],
            required: [
                "schema", "week", "currency", "period", "previous_week", "quarter_to_date", "last_quarter", "as_of", "kpis", "commitments", "sla",
                "leaks", "killers", "rejections", "backlog", "action_items", "overdue_items", "changes",
            ]
        )
        let meeting = objectSchema(
            [
                "id": int, "week": text, "title": text, "status": Schema.choice(["open", "finished"]), "attendees": texts, "decisions": texts,
                "notes": text, "created_at": text, "created_by": text, "finished_at": nullableString,
                "agenda": .object(["oneOf": .array([ref("Agenda"), .object(["type": .string("null")])])]),
            ],
            required: ["id", "week", "title", "status", "attendees", "decisions", "notes", "created_at", "created_by", "finished_at", "agenda"]
        )
        let note = objectSchema(
            [
                "id": int, "campaign_id": text, "author": text, "author_name": nullableString, "team": nullableString, "text": text,
                "decision": .object(["enum": .array(CampaignNote.Decision.allCases.map { .string($0.rawValue) } + [.null])]), "created_at": text,
            ],
            required: ["id", "campaign_id", "author", "author_name", "team", "text", "decision", "created_at"]
        )
        let ownership = objectSchema(
            [
                "subject": text, "label": text, "kind": Schema.choice(["step", "kpi", "target"]), "team": Schema.choice(OwnedSubjects.teams),
                "responsible": nullableString, "responsible_name": nullableString, "accountable": nullableString, "consulted": texts, "informed": texts,
                "is_default": .object(["type": .string("boolean")]),
            ],
            required: ["subject", "label", "kind", "team", "responsible", "responsible_name", "accountable", "consulted", "informed", "is_default"]
        )
        return ["ActionItem": item, "Agenda": agenda, "Meeting": meeting, "CampaignNote": note, "Ownership": ownership]
    }()

    /// An event of `POST /api/v1/events`: the fields of a touchpoint, the contact by
    /// `contact_id` or by `email`.
    static let eventSchema: JSONValue = {
        var props: [String: JSONValue] = [:]
        for name in EventPayload.fields {
            let maxLength = JSONValue.number(Double(EventPayload.maxLength(name)))
            switch name {
            case "id", "type": props[name] = Schema.string(maxLength: EventPayload.maxLength(name), minLength: 1)
            case "occurred_at": props[name] = Schema.timestamp
            case "properties": props[name] = .object(["type": .array([.string("object"), .string("null")])])
            case "email":
                props[name] = .object([
                    "type": .array([.string("string"), .string("null")]), "pattern": .string(InputPattern.email), "maxLength": maxLength,
                ])
            case "contact_id":
                props[name] = .object([
                    "type": .array([.string("string"), .string("null")]), "minLength": .number(1), "maxLength": maxLength,
                    "pattern": .string(Schema.noNULPattern),
                ])
            default:
                props[name] = .object(["type": .array([.string("string"), .string("null")]), "maxLength": maxLength, "pattern": .string(Schema.noNULPattern)])
            }
        }
        func named(_ field: String) -> JSONValue {
            .object(["required": .array([.string(field)]), "properties": .object([field: .object(["type": .string("string")])])])
        }
        return .object([
            "type": .string("object"), "properties": .object(props), "additionalProperties": .bool(false),
            "required": .array([.string("id"), .string("type"), .string("occurred_at")]),
            "anyOf": .array([named("contact_id"), named("email")]),
            "description": .string("a touchpoint; name the contact by contact_id or by email (unknown emails create the contact)"),
        ])
    }()

    /// A schema of `#/components/schemas` by its `$ref`.
    static func component(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#/components/schemas/") else { return nil }
        return components[String(ref.dropFirst("#/components/schemas/".count))]
    }

    static let components: [String: JSONValue] = {
        guard case .object(let doc) = document, case .object(let c)? = doc["components"], case .object(let s)? = c["schemas"] else { return [:] }
        return s
    }()

    /// The document as JSON text.
    static let json: String = document.compactText

    static let document: JSONValue = {
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
        paths["/readyz"] = [
            "get": .object([
                "summary": .string("Readiness: the database answers and its schema is this version's (no authentication); 503 otherwise"),
                "security": .array([]), "operationId": .string("get_readyz"),
                "responses": .object([
                    "200": .object(["description": .string("ready"), "content": jsonContent(.object(["type": .string("object")]))]),
                    "503": .object([
                        "description": .string("not ready"),
                        "content": .object(["application/problem+json": .object(["schema": ref("Problem")])]),
                    ]),
                ]),
            ])
        ]
        var schemas: [String: JSONValue] = [:]
        for r in Resource.allCases { schemas[schemaName(r)] = recordSchema(r) }
        schemas["Problem"] = .object([
            "type": .string("object"),
            "properties": .object([
                "type": .object(["type": .string("string")]), "title": .object(["type": .string("string")]),
                "status": .object(["type": .string("integer")]), "detail": .object(["type": .string("string")]),
            ]), "required": .array([.string("title"), .string("status"), .string("detail")]),
        ])
        for r in Resource.allCases {
            schemas[schemaName(r) + "Patch"] = recordSchema(r, .patch)
            if r != .touchpoints { schemas[schemaName(r) + "Create"] = recordSchema(r, .create) }
        }
        schemas["Event"] = eventSchema
        for (name, schema) in ritualSchemas { schemas[name] = schema }
        schemas["EventBatch"] = .object([
            "type": .string("array"), "items": ref("Event"), "minItems": .number(1), "maxItems": .number(Double(EventBody.maxEvents)),
        ])
        schemas["KPIStreamEvent"] = .object([
            "type": .string("object"), "required": .array([.string("event"), .string("data")]),
            "description": .string("one server-sent event: event kpis, data the KPI set as JSON (the body of GET /api/v1/kpis)"),
            "properties": .object([
                "event": Schema.choice(["kpis"]), "data": .object(["type": .string("string"), "contentMediaType": .string("application/json")]),
                "id": .object(["type": .string("string")]), "retry": .object(["type": .string("integer")]),
            ]),
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
        return doc
    }()
}
