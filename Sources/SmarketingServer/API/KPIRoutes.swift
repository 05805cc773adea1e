import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension APIHandlers {
    /// `/api/v1/kpis`, `/api/v1/kpis/{metric}/records` and the live `/api/v1/stream`. Every role
    /// reads the shared numbers.
    func kpi(_ route: APIRoute, _ request: Request, _ context: AppRequestContext) async throws -> Response {
        let q = request.uri.queryParameters
        if route.kind == .attribution { return try await attribution(q, request.headers) }
        if route.kind == .funnel { return try await funnel(q) }
        if route.kind == .killers { return try await killers(q) }
        let query = try await kpiQuery(from: q.get("from"), to: q.get("to"), by: q.get("by"))
        switch route.kind {
        case .kpis:
            var withROMI = query
            if let romi = q.get("romi") {
                switch AttributionModel.list(romi) {
                case .success(let m): withROMI.romiModels = m
                case .failure(let e): throw Problem(.unprocessableContent, "romi " + e.message)
                }
            }
            var report = try await store.kpis(withROMI)
            // The custom KPIs of the active kpis.yaml, computed from the same aggregates.
            let custom = try await KPIConfigReads.custom(store, period: withROMI.period)
            if !custom.isEmpty { report.custom = custom }
            return try json(.ok, report)
        case .kpiRecords:
            let name = try pathID(context)
            let metric = try KPIMetric(rawValue: name).orThrow(
                Problem(.unprocessableContent, "no KPI metric \(name); one of " + KPIMetric.allCases.map(\.rawValue).joined(separator: ", "))
            )
            let dimension = try KPIDimension(rawValue: q.get("by") ?? "all").orThrow(
                Problem(.unprocessableContent, "by must be one of " + KPIDimension.allCases.map(\.rawValue).joined(separator: ", "))
            )
            guard dimension == .all || q.get("key") != nil else {
                throw Problem(.unprocessableContent, "key is required with by (the \(dimension.rawValue) whose records to list)")
            }
            let limit = max(1, min(Int(q.get("limit") ?? "") ?? 100, 10_000))
            let page = try await store.kpiRecords(
                metric: metric,
                period: query.period,
                dimension: dimension,
                key: dimension == .all ? "all" : q.get("key")!,
                label: q.get("label"),
                limit: limit
            )
            return try json(.ok, page)
        default:
            return try stream(query, once: q.get("once") == "true")
        }
    }

    /// `/api/v1/attribution`: the report of `AttributionReport.build` for the asked models.
    ///
    /// The data-driven models read every journey (over a second at 100,000 leads), so the report
    /// is served from the cache the web pages use. After the data moves, the cached report is
    /// still answered for `attributionMaxLag` seconds, then once more while the next one is
    /// computed in the background; a report older than `attributionMaxAgeMilliseconds` is never answered
    /// (the request waits for a current one). `Age` says how old the answer is;
    /// `Cache-Control: no-cache` asks for the report of the data as it is now (and waits for it).
    func attribution(_ q: Parameters, _ headers: HTTPFields) async throws -> Response {
        let period = try await kpiQuery(from: q.get("from"), to: q.get("to"), by: nil).period
        let models: [AttributionModel]
        switch AttributionModel.list(q.get("model") ?? "all") {
        case .success(let m): models = m
        case .failure(let e): throw Problem(.unprocessableContent, "model " + e.message)
        }
        let by = try AttributionCut(rawValue: q.get("by") ?? "channel").orThrow(Problem(.unprocessableContent, "by must be channel, campaign or content"))
        // Unset parameters take the workspace's defaults (`attribution.lookback_days`, `attribution.half_life_days`).
        let workspace = try await store.workspaceSettings().settings
        let lookback = try Int(q.get("lookback_days") ?? String(workspace.lookbackDays)).flatMap { $0 > 0 ? $0 : nil }.orThrow(
            Problem(.unprocessableContent, "lookback_days must be a positive whole number of days")
        )
        let halfLife = try Double(q.get("half_life_days") ?? String(workspace.halfLifeDays)).flatMap {
            $0 > 0 && $0.isFinite ? $0 : nil
        }.orThrow(
            Problem(.unprocessableContent, "half_life_days must be a positive number of days")
        )
        let ask = AttributionAsk(period: period, by: by, models: models, lookbackDays: lookback, halfLifeDays: halfLife)
        let current = Self.asksForCurrent(headers)
        let known = try await store.kpiVersion()
        let version = current ? known : cache.slowVersion(known, seconds: Self.attributionMaxLag)
        var timed = try await cache.attribution(store, clock: clock, ask, version: version, current: current)
        if !current, clock.now().milliseconds(since: timed.computedAt) > Self.attributionMaxAgeMilliseconds {
            // Nobody asked for a while: the report kept is too old to answer with.
            timed = try await cache.attribution(store, clock: clock, ask, version: known, current: true)
        }
        var response = try json(.ok, timed.report)
        let age = max(0, clock.now().milliseconds(since: timed.computedAt)) / 1000
        response.headers[.age] = String(age)
        response.headers[.cacheControl] = "private, max-age=\(Int(Self.attributionMaxLag))"
        return response
    }

    /// How long after the data moved an attribution report on the API is still answered from
    /// the cache, in seconds (as on the web pages).
    static let attributionMaxLag = 30.0
    /// The oldest attribution report the API answers with, in seconds (the lag, plus time for
    /// the background refresh).
    static let attributionMaxAgeMilliseconds: Int64 = 60_000

    /// Whether the request's `Cache-Control` asks for an answer from the data as it is now
    /// (`no-cache`, or `max-age=0` as browsers send on reload).
    static func asksForCurrent(_ headers: HTTPFields) -> Bool {
        headers[values: .cacheControl].flatMap { $0.split(separator: ",") }.contains { part in
            let d = part.trimmingCharacters(in: .whitespaces).lowercased()
            return d == "no-cache" || d == "max-age=0"
        }
    }

    /// `/api/v1/funnel/leaks`: the funnel report of the period's leads.
    func funnel(_ q: Parameters) async throws -> Response {
        let period = try await kpiQuery(from: q.get("from"), to: q.get("to"), by: nil).period
        let by = try KPIDimension(rawValue: q.get("by") ?? "segment").orThrow(
            Problem(.unprocessableContent, "by takes segment, channel, campaign, persona, owner, team or all, not \(q.get("by") ?? "")")
        )
        let defaults = FunnelOptions()
        let staleDefault = try await store.workspaceSettings().settings.staleDays
        let range = FunnelOptions.daysRange
        func days(_ name: String, _ fallback: Int) throws -> Int {
            try Int(q.get(name) ?? String(fallback)).flatMap { range.contains($0) ? $0 : nil }.orThrow(
                Problem(.unprocessableContent, "\(name) must be a whole number of days from \(range.lowerBound) to \(range.upperBound)")
            )
        }
        let options = FunnelOptions(
            stuckDays: try days("stuck_days", defaults.stuckDays),
            staleDays: try days("stale_days", staleDefault),
            confidence: try confidence(q)
        )
        return try json(.ok, try await store.funnel(period: period, by: by, options: options, now: clock.now()))
    }

    /// `confidence` of the funnel reports (default and bounds from `FunnelOptions`).
    func confidence(_ q: Parameters) throws -> Double {
        let range = FunnelOptions.confidenceRange
        return try Double(q.get("confidence") ?? String(FunnelOptions().confidence)).flatMap { range.contains($0) ? $0 : nil }.orThrow(
            Problem(.unprocessableContent, "confidence must be a number from \(range.lowerBound) to \(range.upperBound)")
        )
    }

    /// `/api/v1/funnel/killers`: the conversion killers of one step.
    func killers(_ q: Parameters) async throws -> Response {
        let period = try await kpiQuery(from: q.get("from"), to: q.get("to"), by: nil).period
        // A step needs a next stage: every stage but the funnel's last.
        let stage = try FunnelStage(rawValue: q.get("stage") ?? "mql").flatMap { $0.next == nil ? nil : $0 }.orThrow(
            Problem(.unprocessableContent, "stage takes lead, mql, sal, sql or opportunity, not \(q.get("stage") ?? "")")
        )
        let range = KillerOptions.minPathsRange
        let minPaths = try Int(q.get("min_paths") ?? String(KillerOptions().minPaths)).flatMap { range.contains($0) ? $0 : nil }.orThrow(
            Problem(.unprocessableContent, "min_paths must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        )
        let report = try await store.conversionKillers(
            period: period,
            from: stage,
            options: KillerOptions(confidence: try confidence(q), minPaths: minPaths),
            now: clock.now()
        )
        return try json(.ok, report)
    }

    /// A period of local days from `from`/`to` (YYYY-MM-DD; default: the current quarter) and
    /// the cuts of `by`; a bad value is a 422 naming it.
    func kpiQuery(from: String?, to: String?, by: String?) async throws -> KPIQuery {
        let period: KPIPeriod
        // The default period is the workspace's fiscal quarter of today (in its zone).
        let settings = try await store.workspaceSettings().settings
        switch KPIPeriod.parse(from: from, to: to, today: settings.today(clock.now()), fiscalStartMonth: settings.fiscalYearStartMonth) {
        case .success(let p): period = p
        case .failure(.notADate(let isFrom, let text)): throw Problem(.unprocessableContent, "\(isFrom ? "from" : "to") must be a date YYYY-MM-DD, not \(text)")
        case .failure(.notBefore): throw Problem(.unprocessableContent, "from must be before to (the period is [from, to))")
        case .failure(.tooLong): throw Problem(.unprocessableContent, "a period is at most ten years")
        }
        var dims: [KPIDimension] = []
        for part in (by ?? "").split(separator: ",") where part != "all" {
            dims.append(
                try KPIDimension(rawValue: String(part)).orThrow(
                    Problem(.unprocessableContent, "by takes channel, campaign, persona, segment, owner or team, not \(part)")
                )
            )
        }
        return KPIQuery(period: period, by: dims, asOf: clock.now())
    }

    /// Server-sent events: `event: kpis` with the report now, then again whenever a committed
    /// change alters it. Each connection polls the aggregates' version (one row) every 250 ms,
    /// which works the same with several server instances on one database; a comment line every
    /// 15 s keeps proxies from closing the connection. `once` sends the first report and ends.
    func stream(_ query: KPIQuery, once: Bool) throws -> Response {
        let store = self.store
        let clock = self.clock
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let body = ResponseBody { writer in
            var lastVersion = try await store.kpiVersion()
            // Stale leads are a snapshot: every read is as of its own instant.
            func read() async throws -> String {
                var q = query
                q.asOf = clock.now()
                return String(decoding: try encoder.encode(try await store.kpis(q)), as: UTF8.self)
            }
            var lastText = try await read()
            try await writer.write(ByteBuffer(string: "retry: 1000\nid: \(lastVersion)\nevent: kpis\ndata: \(lastText)\n\n"))
            if once { return try await writer.finish(nil) }
            var quiet = 0
            // An hour per connection: EventSource reconnects by itself, and a server shutting down
            // is never held longer than that by a forgotten tab.
            for _ in 0..<(4 * 3600) {
                // A server shutting down ends its streams at once (the browser reconnects elsewhere).
                if Task.isShuttingDownGracefully { break }
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
                } catch is CancellationError {
                    break
                }
                let version = try await store.kpiVersion()
                quiet += 1
                if version != lastVersion {
                    lastVersion = version
                    let text = try await read()
                    if text != lastText {
                        lastText = text
                        quiet = 0
                        try await writer.write(ByteBuffer(string: "id: \(version)\nevent: kpis\ndata: \(text)\n\n"))
                    }
                }
                if quiet >= 60 {
                    quiet = 0
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: body
        )
    }
}
