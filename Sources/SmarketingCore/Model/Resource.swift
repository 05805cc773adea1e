/// The kinds of records in a workspace. Each is one bundle file, one table, one API collection.
public enum Resource: String, Sendable, CaseIterable, Hashable, Codable {
    case users, personas, accounts, campaigns, content, contacts, costs, touchpoints, opportunities
    case opportunityContacts = "opportunity_contacts"
    case targets

    /// The bundle file name.
    public var fileName: String { rawValue + ".csv" }

    /// The API collection path segment.
    public var pathSegment: String { String(rawValue.map { $0 == "_" ? "-" : $0 }) }

    /// The schema of this resource.
    public var schema: ResourceSchema { ResourceSchema.all[self]! }

    /// Import order: every resource after the ones it refers to.
    public static let importOrder: [Resource] = [
        .users, .personas, .accounts, .campaigns, .content, .contacts, .costs, .touchpoints,
        .opportunities, .opportunityContacts, .targets,
    ]
}

/// One field of a resource.
public struct FieldSpec: Sendable, Hashable {
    /// Column name (bundle header, JSON key, database column).
    public var name: String
    public var type: FieldType
    /// Must be present and non-empty.
    public var required: Bool
    /// The resource whose `id` this field holds, if any.
    public var references: Resource?
    /// Not in BUNDLE.md: a smarketing extension column, exported and imported like the others.
    public var isExtension: Bool
    /// Usable as `?name=value` filter and as a sort key in the API.
    public var filterable: Bool
    /// One-line description for docs and OpenAPI.
    public var doc: String
    /// The values an `integer` or `number` field may take (its type's default unless given).
    public var range: ClosedRange<Double>
    /// The most characters a text value may have.
    public var maxLength: Int

    init(
        _ name: String,
        _ type: FieldType = .text,
        required: Bool = false,
        references: Resource? = nil,
        isExtension: Bool = false,
        filterable: Bool = false,
        range: ClosedRange<Double>? = nil,
        maxLength: Int? = nil,
        doc: String = ""
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.references = references
        self.isExtension = isExtension
        self.filterable = filterable || references != nil
        self.doc = doc
        self.range = range ?? type.defaultRange
        self.maxLength = maxLength ?? type.defaultMaxLength
    }

    /// Reads a bundle cell or a JSON string into this field's value: the type's parse, then the
    /// field's range and length. Empty text is null.
    public func parse(_ raw: String) -> Result<FieldValue, FieldProblem> {
        if raw.exceedsLength(maxLength) {
            return .failure(FieldProblem("is longer than \(maxLength) characters"))
        }
        switch type.parse(raw) {
        case .success(let v):
            if let p = check(v) { return .failure(p) }
            return .success(v)
        case .failure(let p): return .failure(p)
        }
    }

    /// Why a value breaks this field's range or length, or nil when it fits.
    public func check(_ value: FieldValue) -> FieldProblem? {
        switch value {
        case .integer(let v):
            guard range.contains(Double(v)) else { return FieldProblem("is outside the allowed range \(FieldSpec.format(range))") }
        case .number(let v):
            guard v.isFinite, range.contains(v) else { return FieldProblem("is outside the allowed range \(FieldSpec.format(range))") }
        case .text(let s), .json(let s):
            if s.exceedsLength(maxLength) { return FieldProblem("is longer than \(maxLength) characters") }
            // No database text column holds U+0000 (PostgreSQL refuses it; SQLite would cut
            // strings at it in some tools): refused at every way in, on both backends alike.
            if s.utf8.contains(0) { return FieldProblem("contains a NUL character (U+0000)") }
        default: break
        }
        return nil
    }

    /// The range one line of a summed field may take (`ResourceSchema.summedField`): as far below
    /// zero as the field goes above it, so that a credit note can correct an earlier line.
    public static func lineRange(of spec: FieldSpec) -> ClosedRange<Double> {
        -spec.range.upperBound...spec.range.upperBound
    }

    /// `0–1000000000000` as people read it.
    public static func format(_ r: ClosedRange<Double>) -> String {
        FieldValue.format(r.lowerBound) + "–" + FieldValue.format(r.upperBound)
    }
}

extension FieldType {
    /// Money and other decimals: up to a trillion in the workspace currency, never negative. In
    /// cents that is 10^14, so ninety thousand such values still sum inside an Int64, and every
    /// sum of money is checked besides.
    public static let moneyRange: ClosedRange<Double> = 0...1e12

    /// The range a field of this type has unless it says otherwise.
    var defaultRange: ClosedRange<Double> {
        switch self {
        case .integer: return 0...1e9
        case .number: return FieldType.moneyRange
        default: return 0...0
        }
    }

    /// The length a field of this type has unless it says otherwise.
    var defaultMaxLength: Int {
        switch self {
        case .jsonObject: return 65_536
        case .idList: return 10_000
        case .email: return 254
        case .domain: return 253
        default: return 1_000
        }
    }
}

/// The shape of a resource: fields, key, time field, searchable fields.
public struct ResourceSchema: Sendable {
    public var resource: Resource
    public var fields: [FieldSpec]
    /// The fields that identify a record. A single `id` for most resources; resources without an
    /// id column in the bundle (costs, targets, opportunity contacts) are keyed by a natural key,
    /// and their record id is derived from it (`ResourceSchema.recordID`).
    public var key: [String]
    /// The field used by `created_from`/`created_to` filters and the default sort.
    public var timeField: String?
    /// Fields matched by the `q` text search.
    public var searchFields: [String]
    /// API filter aliases: `stage`, `owner`, `channel`, `campaign` → the field they mean here.
    public var aliases: [String: String]
    /// The number that rows of one bundle file repeating a key add up to (costs: `amount`; real
    /// spend exports carry several lines per day and campaign), nil where a repeated key is an
    /// error (`RepeatedKeyRows`).
    public var summedField: String?

    /// Position of each field by name.
    public let index: [String: Int]

    init(
        _ resource: Resource,
        key: [String] = ["id"],
        timeField: String? = nil,
        search: [String] = [],
        summedField: String? = nil,
        aliases: [String: String] = [:],
        fields: [FieldSpec]
    ) {
        self.resource = resource
        self.fields = fields
        self.key = key
        self.summedField = summedField
        self.timeField = timeField
        self.searchFields = search
        self.aliases = aliases
        var index: [String: Int] = [:]
        for (i, f) in fields.enumerated() { index[f.name] = i }
        self.index = index
    }

    /// Whether records carry their own `id` column.
    public var hasOwnID: Bool { key == ["id"] }

    /// The field named `name`.
    public func field(_ name: String) -> FieldSpec? { index[name].map { fields[$0] } }

    /// The record id of a row: its `id`, or its key fields joined with `|` (empty for null).
    public func recordID(_ values: [FieldValue]) -> String {
        if hasOwnID { return values[index["id"]!].csvText }
        return key.map { values[index[$0]!].csvText }.joined(separator: "|")
    }
}

extension ResourceSchema {
    /// The allowed values of a `oneOf` field (empty for any other field).
    public func choices(_ field: String) -> [String] {
        guard case .oneOf(let values)? = self.field(field)?.type else { return [] }
        return values
    }

    static let stages = ["subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified"]

    /// Every resource's schema (BUNDLE.md, plus documented extension columns).
    public static let all: [Resource: ResourceSchema] = {
        var s: [Resource: ResourceSchema] = [:]
        s[.users] = ResourceSchema(
            .users,
            search: ["name", "email"],
            aliases: ["team": "team"],
            fields: [
                FieldSpec("id", required: true), FieldSpec("email", .email, required: true, filterable: true),
                FieldSpec("name"), FieldSpec("team", .oneOf(["marketing", "sales", "admin"]), filterable: true),
                FieldSpec("role", filterable: true, doc: "job role, e.g. marketer, sdr, ae, manager"),
                FieldSpec("manager_id", references: .users), FieldSpec("capacity", .integer, doc: "open leads"),
                FieldSpec("timezone"),
                FieldSpec(
                    "access_role",
                    .oneOf(["admin", "marketing", "sales", "viewer"]),
                    isExtension: true,
                    filterable: true,
                    doc: "what the user may do in smarketing; default from team"
                ),
            ]
        )
        s[.personas] = ResourceSchema(
            .personas,
            search: ["name"],
            fields: [
                FieldSpec("id", required: true), FieldSpec("name", required: true), FieldSpec("description", maxLength: 10_000),
                FieldSpec("rules", .jsonObject),
            ]
        )
        s[.accounts] = ResourceSchema(
            .accounts,
            timeField: "created_at",
            search: ["name", "domain"],
            aliases: ["owner": "owner_id"],
            fields: [
                FieldSpec("id", required: true), FieldSpec("name", required: true),
                FieldSpec("domain", .domain, filterable: true), FieldSpec("industry", filterable: true),
                FieldSpec("employees", .integer), FieldSpec("annual_revenue", .number),
                FieldSpec("country", filterable: true), FieldSpec("owner_id", references: .users),
                FieldSpec("created_at", .timestamp),
                FieldSpec("source", isExtension: true, filterable: true, doc: "source system of external_id"),
                FieldSpec("external_id", isExtension: true, filterable: true, doc: "id in the source system"),
            ]
        )
        s[.campaigns] = ResourceSchema(
            .campaigns,
            search: ["name"],
            aliases: ["channel": "channel"],
            fields: [
                FieldSpec("id", required: true), FieldSpec("name", required: true),
                FieldSpec("channel", required: true, filterable: true), FieldSpec("type", filterable: true),
                FieldSpec("start_date", .date), FieldSpec("end_date", .date), FieldSpec("budget", .number),
            ]
        )
        s[.content] = ResourceSchema(
            .content,
            search: ["title"],
            fields: [
                FieldSpec("id", required: true), FieldSpec("title", required: true),
                FieldSpec("type", required: true, filterable: true),
                FieldSpec("funnel_stage", .oneOf(["tofu", "mofu", "bofu"]), filterable: true),
                FieldSpec("persona_ids", .idList), FieldSpec("url", maxLength: 2_048),
            ]
        )
        s[.contacts] = ResourceSchema(
            .contacts,
            timeField: "created_at",
            search: ["first_name", "last_name", "email"],
            aliases: [
                "stage": "lifecycle_stage", "owner": "owner_id", "channel": "source_channel",
                "campaign": "source_campaign_id",
            ],
            fields: [
                FieldSpec("id", required: true), FieldSpec("email", .email, required: true),
                FieldSpec("first_name"), FieldSpec("last_name"), FieldSpec("title"), FieldSpec("phone"),
                FieldSpec("account_id", references: .accounts), FieldSpec("country", filterable: true),
                FieldSpec("persona_id", references: .personas), FieldSpec("owner_id", references: .users),
                FieldSpec("source_channel", filterable: true),
                FieldSpec("source_campaign_id", references: .campaigns),
                FieldSpec("created_at", .timestamp, required: true),
                FieldSpec("lifecycle_stage", .oneOf(stages), filterable: true),
                FieldSpec("became_lead_at", .timestamp), FieldSpec("became_mql_at", .timestamp),
                FieldSpec("became_sal_at", .timestamp), FieldSpec("became_sql_at", .timestamp),
                FieldSpec("became_opportunity_at", .timestamp), FieldSpec("became_customer_at", .timestamp),
                FieldSpec("recycled_at", .timestamp), FieldSpec("recycle_reason"),
                FieldSpec("assigned_at", .timestamp),
                FieldSpec("source", isExtension: true, filterable: true, doc: "source system of external_id"),
                FieldSpec("external_id", isExtension: true, filterable: true, doc: "id in the source system"),
            ]
        )
        s[.costs] = ResourceSchema(
            .costs,
            key: ["date", "category", "campaign_id"],
            timeField: "date",
            summedField: "amount",
            aliases: ["campaign": "campaign_id"],
            fields: [
                FieldSpec("date", .date, required: true), FieldSpec("category", .oneOf(["marketing", "sales"]), required: true, filterable: true),
                FieldSpec("amount", .number, required: true), FieldSpec("campaign_id", references: .campaigns),
            ]
        )
        s[.touchpoints] = ResourceSchema(
            .touchpoints,
            timeField: "occurred_at",
            aliases: ["channel": "channel", "campaign": "campaign_id", "contact": "contact_id"],
            fields: [
                FieldSpec("id", required: true), FieldSpec("contact_id", required: true, references: .contacts),
                FieldSpec("occurred_at", .timestamp, required: true), FieldSpec("type", required: true, filterable: true),
                FieldSpec("channel", filterable: true), FieldSpec("campaign_id", references: .campaigns),
                FieldSpec("content_id", references: .content), FieldSpec("actor_id", references: .users),
                FieldSpec("properties", .jsonObject),
            ]
        )
        s[.opportunities] = ResourceSchema(
            .opportunities,
            timeField: "created_at",
            search: ["name"],
            aliases: ["owner": "owner_id", "stage": "stage"],
            fields: [
                FieldSpec("id", required: true), FieldSpec("account_id", required: true, references: .accounts),
                FieldSpec("created_at", .timestamp, required: true), FieldSpec("name"), FieldSpec("amount", .number),
                FieldSpec("stage", filterable: true), FieldSpec("owner_id", references: .users),
                FieldSpec("primary_contact_id", references: .contacts), FieldSpec("expected_close_date", .date),
                FieldSpec("closed_at", .timestamp), FieldSpec("is_won", .bool, filterable: true),
                FieldSpec("lost_reason", filterable: true),
                FieldSpec("source", isExtension: true, filterable: true, doc: "source system of external_id"),
                FieldSpec("external_id", isExtension: true, filterable: true, doc: "id in the source system"),
            ]
        )
        s[.opportunityContacts] = ResourceSchema(
            .opportunityContacts,
            key: ["opportunity_id", "contact_id"],
            fields: [
                FieldSpec("opportunity_id", required: true, references: .opportunities),
                FieldSpec("contact_id", required: true, references: .contacts), FieldSpec("role", filterable: true),
            ]
        )
        s[.targets] = ResourceSchema(
            .targets,
            key: ["period", "metric", "segment"],
            fields: [
                FieldSpec("period", .month, required: true, filterable: true),
                FieldSpec("metric", .oneOf(["revenue", "mqls", "pipeline"]), required: true, filterable: true),
                FieldSpec("value", .number, required: true), FieldSpec("segment", filterable: true),
            ]
        )
        return s
    }()
}
