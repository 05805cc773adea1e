import HTTPTypes
import SmarketingCore
import SmarketingStore

/// One path or query parameter of a route: what `/openapi.json` prints for it and what the
/// server checks before the handler runs (`SchemaCheck.parameterProblem`), from one value.
struct APIParameter: Sendable {
    var name: String
    var inPath: Bool
    var schema: JSONValue
    var doc: String

    static func query(_ name: String, _ schema: JSONValue, _ doc: String) -> APIParameter {
        APIParameter(name: name, inPath: false, schema: schema, doc: doc)
    }

    /// The parameter object of the OpenAPI document.
    var document: JSONValue {
        .object([
            "name": .string(name), "in": .string(inPath ? "path" : "query"), "required": .bool(inPath), "schema": schema,
            "description": .string(doc),
        ])
    }
}

/// Small builders for the JSON Schemas the document and the checks share.
enum Schema {
    /// A text parameter or member. Every text the API takes refuses the NUL character (no
    /// database text column holds it; PostgreSQL refuses it), and the document says so.
    static func string(maxLength: Int = 1_000, minLength: Int = 0, noNUL: Bool = true) -> JSONValue {
        var s: [String: JSONValue] = ["type": .string("string"), "maxLength": .number(Double(maxLength))]
        if minLength > 0 { s["minLength"] = .number(Double(minLength)) }
        if noNUL { s["pattern"] = .string(noNULPattern) }
        return .object(s)
    }

    /// Any text but the NUL character, which no database column holds (`FieldSpec.check`).
    static let noNULPattern = "^[^\\x00]*$"

    static func pattern(_ p: String, _ doc: String) -> JSONValue {
        .object(["type": .string("string"), "pattern": .string(p), "description": .string(doc)])
    }

    static func integer(_ range: ClosedRange<Int>) -> JSONValue {
        .object(["type": .string("integer"), "minimum": .number(Double(range.lowerBound)), "maximum": .number(Double(range.upperBound))])
    }

    static func number(_ range: ClosedRange<Double>) -> JSONValue {
        .object(["type": .string("number"), "minimum": .number(range.lowerBound), "maximum": .number(range.upperBound)])
    }

    static func choice(_ values: [String]) -> JSONValue {
        .object(["type": .string("string"), "enum": .array(values.map { .string($0) })])
    }

    static let boolean: JSONValue = .object(["type": .string("boolean")])

    /// A comma-separated list of `values` (each at most once is not required).
    static func list(_ values: [String]) -> JSONValue {
        let one = "(?:" + values.joined(separator: "|") + ")"
        return pattern("^" + one + "(?:," + one + ")*$", "comma-separated: " + values.joined(separator: ", "))
    }

    /// An ISO week `2026-W49` (a week its year may not have is refused by the handler).
    static let isoWeek = pattern("^(?:19[0-9]{2}|2[01][0-9]{2})-[Ww](?:0[1-9]|[1-4][0-9]|5[0-3])$", "an ISO week such as 2026-W49")
    static let date = pattern(InputPattern.date, "a date YYYY-MM-DD in the years 1900–2199")
    static let month = pattern(InputPattern.month, "a month YYYY-MM")
    static let timestamp = pattern(InputPattern.timestamp, "an ISO 8601 instant with a UTC offset, e.g. 2026-03-01T09:15:00Z, years 1900–2199")
    static let dateOrTimestamp = pattern(InputPattern.dateOrTimestamp, "a date YYYY-MM-DD (its UTC midnight) or an ISO 8601 instant")
    /// Ids that the server numbers itself (handovers, audit entries, deliveries).
    static let serial = integer(1...9_007_199_254_740_991)
    /// A duration such as `90d` or `12w` (units w, d, h, m).
    static let duration = pattern("^[1-9][0-9]{0,4}[wdhm]$", "a duration such as 90d or 12w")
}

extension APIRoute {
    /// Every parameter the route takes, path first (built once per route).
    var parameters: [APIParameter] { APIRoute.parameterTable[method.rawValue + " " + path] ?? makeParameters() }

    static let parameterTable: [String: [APIParameter]] = Dictionary(
        all.map { ($0.method.rawValue + " " + $0.path, $0.makeParameters()) },
        uniquingKeysWith: { a, _ in a }
    )

    func makeParameters() -> [APIParameter] {
        var out: [APIParameter] = []
        if path.contains("{id}") {
            let schema: JSONValue
            switch kind {
            case .handoverGet, .handoverAccept, .handoverQualify, .handoverReject, .handoverReassign, .handoverPause, .handoverResume,
                .meetingGet, .meetingChange, .meetingFinish, .meetingMinutes, .actionItemChange:
                schema = Schema.serial
            // Any text: a subject that has no owner is 404, as a record id that names nothing.
            case .ownerChange: schema = Schema.string(maxLength: 100, minLength: 1)
            case .kpiRecords: schema = Schema.choice(KPIMetric.allCases.map(\.rawValue))
            case .connectionDelete, .connectionTest, .connectionSync, .connectionRuns: schema = Schema.string(maxLength: 64, minLength: 1)
            // Keyed records' ids join up to three fields of 1,000 characters with `|`.
            default: schema = Schema.string(maxLength: 3_002, minLength: 1)
            }
            out.append(APIParameter(name: "id", inPath: true, schema: schema, doc: "the record's id"))
        }
        let period = [
            APIParameter.query("from", Schema.date, "first day YYYY-MM-DD (default: the current quarter's); before to, at most ten years before it"),
            APIParameter.query("to", Schema.date, "the day after the last, YYYY-MM-DD"),
        ]
        let models = ["all"] + AttributionModel.allCases.map(\.rawValue)
        let cuts = KPIDimension.allCases.map(\.rawValue).filter { $0 != "all" }
        switch kind {
        case .list(let r):
            let schema = r.schema
            out.append(.query("limit", Schema.integer(1...1000), "page size (default 50)"))
            out.append(.query("cursor", Schema.string(maxLength: 2_000), "next_cursor of the previous page"))
            let sortable = ["id"] + schema.fields.map(\.name)
            out.append(.query("sort", Schema.choice(sortable + sortable.map { "-" + $0 }), "a field name; prefix - for descending"))
            if !schema.searchFields.isEmpty {
                out.append(.query("q", Schema.string(maxLength: 200), "text contained in " + schema.searchFields.joined(separator: ", ")))
            }
            if let tf = schema.timeField, let spec = schema.field(tf) {
                let s = spec.type == .date ? Schema.date : Schema.timestamp
                out.append(.query("created_from", s, "\(tf) at or after"))
                out.append(.query("created_to", s, "\(tf) before"))
            }
            for f in schema.fields where f.filterable { out.append(.query(f.name, OpenAPIDocument.filterSchema(f), "equals (empty: is null)")) }
            for (alias, field) in schema.aliases.sorted(by: { $0.key < $1.key }) where alias != field {
                if let f = schema.field(field) { out.append(.query(alias, OpenAPIDocument.filterSchema(f), "alias of \(field)")) }
            }
        case .settingsChange: out.append(.query("background", Schema.choice(["true", "false"]), "true: a change that rebuilds the KPI aggregates runs as a job (202)"))
        case .agenda: out.append(.query("week", Schema.isoWeek, "the ISO week (default: the current week in the workspace's calendar)"))
        case .meetingList:
            out.append(.query("limit", Schema.integer(1...1000), "meetings (default 50)"))
            out.append(.query("before", Schema.serial, "meetings with an id below this (next_before of the previous page)"))
        case .kpiCustom: out += period
        case .kpiConfigApply: out.append(.query("comment", Schema.string(maxLength: 2_000), "why (kept with the version)"))
        case .campaignReview:
            out += period
            out.append(.query("model", Schema.choice(AttributionModel.allCases.map(\.rawValue)), "the attribution model of the attributed revenue and ROMI (default linear)"))
        case .leadQuality:
            out += period
            out.append(.query("by", Schema.choice(LeadQualityCut.allCases.map(\.rawValue)), "campaign (default), channel, persona, content or month"))
        case .meetingMinutes: out.append(.query("format", Schema.choice(["markdown", "html"]), "markdown (default) or html"))
        case .actionItemList:
            out.append(.query("owner_id", Schema.string(maxLength: 1_000, minLength: 1), "only this owner's"))
            out.append(.query("meeting_id", Schema.serial, "only the items agreed in this meeting"))
            out.append(.query("status", Schema.choice(["open", "done"]), "open or done (default: both)"))
            out.append(.query("limit", Schema.integer(1...10_000), "items (default 200)"))
        case .ingest: out.append(.query("partial", Schema.boolean, "true: store the valid events of a batch that has rejected ones"))
        case .duplicates: out.append(.query("limit", Schema.integer(1...10_000), "at most this many pairs (default 100)"))
        case .erasures: out.append(.query("limit", Schema.integer(1...10_000), "at most this many of each (default 100)"))
        case .retention:
            out.append(.query("months", Schema.integer(WorkspaceSettingKey.retentionMonthsRange), "months without activity (default: the setting privacy.retention_months)"))
        case .consentList:
            out.append(.query("status", Schema.choice(SubscriptionStatus.allCases.map(\.rawValue)), "only this status"))
            out.append(.query("after", Schema.string(maxLength: 3_002, minLength: 1), "contact ids after this one (next_after of the previous page)"))
            out.append(.query("limit", Schema.integer(1...10_000), "at most this many (default 100)"))
        case .audit:
            out.append(.query("limit", Schema.integer(1...1000), "entries (default 100)"))
            out.append(.query("before", Schema.serial, "entries with seq below this"))
        case .attribution:
            out.append(.query("model", Schema.list(models), "all (default) or comma-separated models"))
            out.append(.query("by", Schema.choice(AttributionCut.allCases.map(\.rawValue)), "channel (default), campaign or content"))
            out += period
            out.append(.query("lookback_days", Schema.integer(AttributionReport.lookbackRange), "touches up to this many days before the close count (default: the setting attribution.lookback_days, 365)"))
            out.append(.query("half_life_days", Schema.number(AttributionReport.halfLifeRange), "half-life of the time-decay model in days (default: the setting attribution.half_life_days, 7)"))
        case .funnel:
            out += period
            out.append(.query("by", Schema.choice(KPIDimension.allCases.map(\.rawValue)), "the cut whose values are tested against the rest (default segment)"))
            let days = FunnelOptions.daysRange
            out.append(.query("stuck_days", Schema.integer(days), "stuck: no stage move for more than this many days (default 30)"))
            out.append(.query("stale_days", Schema.integer(days), "stale: an MQL, SAL or SQL without a sales action for more than this many days (default: the setting kpi.stale_days, 14)"))
            out.append(.query("confidence", Schema.number(FunnelOptions.confidenceRange), "confidence of the drop-off flags (default 0.95)"))
        case .killers:
            out += period
            let stages = FunnelStage.allCases.filter { $0.next != nil }.map(\.rawValue)
            out.append(.query("stage", Schema.choice(stages), "the step's first stage (default mql); converted = reached a later stage"))
            out.append(.query("confidence", Schema.number(FunnelOptions.confidenceRange), "confidence of the flags (default 0.95)"))
            out.append(.query("min_paths", Schema.integer(KillerOptions.minPathsRange), "test a feature only with at least this many paths with and without it (default 20)"))
        case .kpis, .stream:
            out += period
            out.append(.query("by", Schema.list(cuts + ["all"]), "cuts, comma-separated"))
            if kind == .stream { out.append(.query("once", Schema.boolean, "true: send the current KPIs and end the stream")) }
            if kind == .kpis { out.append(.query("romi", Schema.list(models), "attribution models whose ROMI to add: all or comma-separated")) }
        case .kpiRecords:
            out += period
            out.append(.query("by", Schema.choice(KPIDimension.allCases.map(\.rawValue)), "the cut (default all)"))
            out.append(.query("key", Schema.string(maxLength: 1_000), "the cut's value (required with by other than all)"))
            out.append(.query("label", Schema.string(maxLength: 1_000), "only cells with this label (a lost reason)"))
            out.append(.query("limit", Schema.integer(1...10_000), "at most this many records (default 100)"))
        case .handoverList:
            out.append(.query("owner", Schema.string(maxLength: 1_000), "only this owner's handovers"))
            out.append(.query("contact", Schema.string(maxLength: 1_000), "only this contact's handovers"))
            out.append(.query("status", Schema.choice(HandoverStatus.allCases.map(\.rawValue)), "only handovers in this status"))
            out.append(.query("open", Schema.boolean, "true: only open handovers"))
            out.append(.query("limit", Schema.integer(1...500), "at most this many (default 50)"))
            out.append(.query("before", Schema.serial, "handovers with an id below this (next_before of the previous page)"))
        case .inbox:
            out.append(.query("user", Schema.string(maxLength: 1_000), "another rep's inbox (their manager and admins)"))
            out.append(.query("limit", Schema.integer(1...200), "at most this many (default 50)"))
        case .slaReport, .acceptanceReport:
            out.append(.query("from", Schema.dateOrTimestamp, "start (default: 30 days before to); before to"))
            out.append(.query("to", Schema.dateOrTimestamp, "end, exclusive (default: now)"))
            out.append(.query("by", Schema.choice(ReportGrouping.allCases.map(\.rawValue)), "the grouping"))
        case .commitments: out.append(.query("month", Schema.month, "the month YYYY-MM (default: this month)"))
        case .webhookDeliveries:
            out.append(.query("status", Schema.choice(["pending", "delivered", "failed"]), "only deliveries in this status"))
            out.append(.query("limit", Schema.integer(1...1000), "at most this many (default 100)"))
        case .connectionSync: out.append(.query("full", Schema.boolean, "true: read everything again (default: what changed since the last sync)"))
        case .scoringApply, .handoverApply: out.append(.query("comment", Schema.string(maxLength: 2_000), "why the change was made"))
        case .scoringBacktest:
            out.append(.query("from", Schema.dateOrTimestamp, "first instant of the contacts' creation (default: a year before to)"))
            out.append(.query("to", Schema.dateOrTimestamp, "end of the window, exclusive (default: now)"))
            out.append(.query("target", Schema.choice(BacktestTarget.allCases.map(\.rawValue)), "what counts as a positive (default opportunity)"))
            out.append(.query("horizon", Schema.duration, "how long after creation a contact may reach the target (default 90d)"))
            out.append(.query("capacity", Schema.integer(1...1_000_000), "MQLs sales can take per week (default: the sales users' capacity)"))
        default: break
        }
        return out
    }
}
