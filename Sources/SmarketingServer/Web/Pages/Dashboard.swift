import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// The dashboard's choices, read from the query string; a bad value is reported beside its field.
struct DashboardQuery: Sendable {
    var period: KPIPeriod
    var by: KPIDimension?
    var model: AttributionModel
    var errors: [String: String] = [:]

    /// The same choices as a query string (for the live stream and links).
    var query: String {
        var parts = ["from=\(period.from.text)", "to=\(period.to.text)", "model=\(model.rawValue)"]
        if let by { parts.append("by=\(by.rawValue)") }
        return parts.joined(separator: "&")
    }
}

extension WebApp {
    static let dashboardModels: [AttributionModel] = [
        .linear, .firstTouch, .lastTouch, .uShaped, .wShaped, .fullPath, .timeDecay, .leadCreation, .markov, .shapley,
    ]

    /// The page's period (default: the workspace's fiscal quarter of today, in its zone), cut and model.
    func dashboardQuery(_ q: Parameters, _ settings: WorkspaceSettings) -> DashboardQuery {
        var errors: [String: String] = [:]
        let today = settings.today(clock.now())
        var period = settings.fiscalQuarter(containing: today)
        let from = q.get("from").flatMap { $0.isEmpty ? nil : $0 }
        let to = q.get("to").flatMap { $0.isEmpty ? nil : $0 }
        switch KPIPeriod.parse(from: from, to: to, today: today, fiscalStartMonth: settings.fiscalYearStartMonth) {
        case .success(let p): period = p
        case .failure(.notADate(let isFrom, let text)): errors[isFrom ? "from" : "to"] = "“\(text)” is not a date (YYYY-MM-DD)."
        case .failure(.notBefore): errors["to"] = "The end must be after the start."
        case .failure(.tooLong): errors["to"] = "A period is at most ten years."
        }
        var by: KPIDimension?
        if let b = q.get("by"), !b.isEmpty, b != "all" {
            if let d = KPIDimension(rawValue: b) { by = d } else { errors["by"] = "Choose one of the listed cuts." }
        }
        var model = AttributionModel.linear
        if let m = q.get("model"), !m.isEmpty {
            if let a = AttributionModel(rawValue: m) { model = a } else { errors["model"] = "Choose one of the listed models." }
        }
        return DashboardQuery(period: period, by: by, model: model, errors: errors)
    }

    @Sendable func dashboard(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let dq = dashboardQuery(request.uri.queryParameters, try await cache.workspaceSettings(store))
        let live = try await dashboardLive(dq)
        let cuts = [("", "Nothing")] + KPIDimension.allCases.filter { $0 != .all }.map { ($0.rawValue, $0.rawValue.capitalized) }
        // Overdue action items of the weekly sync, for everyone to see until they are done.
        let now = clock.now()
        let today = try await store.workspaceSettings().settings.today(now)
        let overdue = try await store.actionItems(ActionItemQuery(status: .open, dueBefore: today, limit: 20))
        let data: [String: Any] = [
            "overdueItems": itemRows(overdue, user, today: today).map { var r = $0; r["back"] = "/"; return r }, "hasOverdue": !overdue.isEmpty,
            "from": dq.period.from.text, "to": dq.period.to.text, "query": dq.query, "live": live,
            "cuts": cuts.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == (dq.by?.rawValue ?? "")] },
            "models": Self.dashboardModels.map {
                ["value": $0.rawValue, "label": $0.rawValue.replacingOccurrences(of: "_", with: " "), "selected": $0 == dq.model]
            },
            "errFrom": dq.errors["from"] as Any, "errTo": dq.errors["to"] as Any, "errBy": dq.errors["by"] as Any, "errModel": dq.errors["model"] as Any,
        ]
        return .html(view("dashboard", data), status: dq.errors.isEmpty ? .ok : .unprocessableContent)
    }

    /// The live region: tiles and charts. The page renders it once; the stream sends it again
    /// after every committed change.
    func dashboardLive(_ dq: DashboardQuery) async throws -> String {
        let now = clock.now()
        let version = try await store.kpiVersion()
        let period = dq.period
        // SLA compliance per team (a handful of keys; the owner cut reads every rep's response
        // samples and is there when asked for by the cut picker).
        let cuts = Array(Set([KPIDimension.team] + (dq.by.map { [$0] } ?? []))).sorted { $0.rawValue < $1.rawValue }
        let report = try await store.kpis(KPIQuery(period: period, by: cuts, asOf: now))
        // What costs more than a KPI read is kept for at least 30 s (the sparklines' closed months,
        // attribution, commitments); the tiles and the funnel are read fresh on every change.
        let slow = cache.slowVersion(version, seconds: 30)
        // Months that have ended change only when late data lands in them: ten minutes.
        let history = cache.slowVersion(version, seconds: 600, lane: "history")
        let thisMonth = LocalDate(monthIndex: now.utcDate.monthIndex)
        let months = (0..<6).reversed().map { back -> KPIPeriod in
            let m = LocalDate(monthIndex: period.to.adding(days: -1).monthIndex - back)
            return KPIPeriod(from: m, to: LocalDate(monthIndex: m.monthIndex + 1))
        }
        var monthly: [KPIValues] = []
        for m in months {
            let v = m.to <= thisMonth ? history : slow
            monthly.append(try await cache.value("kpi:\(m.from.text)", version: v) { try await store.kpis(KPIQuery(period: m)).total.current })
        }
        let romi = try await romiReport(period, model: dq.model, byCampaign: true, version: slow)
        // Say so when the ROMI shown is the one from before the latest changes (being refreshed).
        let romiCurrent = cache.isCurrent(Self.romiKey(period, dq.model, true), version: slow)
        let romiPrevious = try await romiReport(period.previous, model: dq.model, byCampaign: false, version: period.previous.to <= thisMonth ? history : slow)
        var romiHistory: [Double?] = []
        for m in months {
            romiHistory.append(try await romiReport(m, model: dq.model, byCampaign: false, version: m.to <= thisMonth ? history : slow)?.romi)
        }
        let cur = report.total.current
        let prev = report.total.previous
        let labels = months.map { String($0.from.text.prefix(7)) }
        // Every applied scoring model, handover file, settings and target change of the months
        // shown: a marker on each sparkline at its month and a line under the tiles.
        let zone = try await cache.workspaceZone(store)
        let calendar = KPICalendar(timeZone: zone)
        let notes = try await store.changeNotes(
            from: calendar.start(ofDay: months[0].from.daysSinceEpoch),
            to: calendar.start(ofDay: max(period.to, months[months.count - 1].to).daysSinceEpoch),
            limit: 200
        )
        let owners = Dictionary(try await store.owners().map { ($0.subject, $0) }, uniquingKeysWith: { a, _ in a })
        var markers: [Int: [String]] = [:]
        for n in notes {
            let day = LocalDate(daysSinceEpoch: calendar.day(n.at))
            if let i = months.firstIndex(where: { $0.from <= day && day < $0.to }) { markers[i, default: []].append(day.text + ": " + n.text) }
        }
        // kpis.yaml: thresholds colour the tiles they name; custom KPIs get tiles of their own.
        let kpiConfig = try await KPIConfigReads.active(store)?.config
        let thresholds = Dictionary((kpiConfig?.builtins ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let currency = try await store.workspaceSettings().settings.currency
        let custom = try await kpiConfig.asyncMap { try await KPIConfigReads.custom(store, $0, period: period) } ?? []
        func tile(
            _ id: String,
            _ title: String,
            _ value: Double?,
            _ previous: Double?,
            _ fmt: (Double?) -> String,
            higherIsBetter: Bool,
            target: String,
            spark: [Double?],
            note: String? = nil
        )
            -> [String: Any]
        {
            var t: [String: Any] = [
                "id": id, "title": title, "value": fmt(value), "previous": fmt(previous), "target": target,
                "spark": SVGChart.sparkline(spark, labels: labels, title: title, markers: markers),
            ]
            if let note { t["note"] = note }
            if let owner = owners["kpi." + id] { t["owner"] = owner.shortText }
            if let b = thresholds[id], let st = KPIConfig.status(value, good: b.good, bad: b.bad, higherIsBetter: higherIsBetter) { t["status"] = st }
            let period = "from=\(dq.period.from.text)&to=\(dq.period.to.text)"
            t["records"] = (Self.tileRecords[id] ?? []).map { ["href": "/kpis/\($0.0.rawValue)?\(period)", "label": $0.1] }
            if let v = value, let p = previous, p != 0 {
                let change = (v - p) / abs(p)
                let better = higherIsBetter ? change >= 0 : change <= 0
                t["delta"] = (change >= 0 ? "▲ " : "▼ ") + String(format: "%.0f%%", abs(change) * 100)
                t["dir"] = better ? "up" : "down"
            }
            return t
        }
        let coverageTarget = cur.pipelineCoverage.revenueTarget.map { "revenue target " + Fmt.money($0) } ?? "no revenue target"
        let tiles: [[String: Any]] = [
            tile(
                "lead_to_opportunity",
                "Lead → opportunity (MQLs)",
                cur.leadToOpportunity.mqlCohort.rate,
                prev.leadToOpportunity.mqlCohort.rate,
                Fmt.percent,
                higherIsBetter: true,
                target: "of \(Fmt.int(cur.leadToOpportunity.mqlCohort.population)) MQLs",
                spark: monthly.map(\.leadToOpportunity.mqlCohort.rate)
            ),
            tile(
                "win_rate",
                "Win rate",
                cur.winRate.rate,
                prev.winRate.rate,
                Fmt.percent,
                higherIsBetter: true,
                target: "\(Fmt.int(cur.winRate.won)) won · \(Fmt.int(cur.winRate.lost)) lost",
                spark: monthly.map(\.winRate.rate)
            ),
            tile(
                "lead_response_time",
                "Lead response (median)",
                cur.leadResponseTime.medianHours,
                prev.leadResponseTime.medianHours,
                Fmt.hours,
                higherIsBetter: false,
                target: "SLA \(Fmt.hours(cur.leadResponseTime.slaHours)) · \(Fmt.percent(cur.leadResponseTime.slaCompliance)) in time",
                spark: monthly.map(\.leadResponseTime.medianHours)
            ),
            tile(
                "deal_velocity",
                "Deal velocity (median)",
                cur.dealVelocity.medianDays,
                prev.dealVelocity.medianDays,
                Fmt.days,
                higherIsBetter: false,
                target: "\(Fmt.int(cur.dealVelocity.won)) deals won",
                spark: monthly.map(\.dealVelocity.medianDays)
            ),
            tile(
                "cac",
                "CAC",
                cur.cac.cac,
                prev.cac.cac,
                Fmt.money,
                higherIsBetter: false,
                target: "\(Fmt.int(cur.cac.newCustomers)) new customers",
                spark: monthly.map(\.cac.cac)
            ),
            tile(
                "romi",
                "ROMI (\(dq.model.rawValue.replacingOccurrences(of: "_", with: " ")))",
                romi?.romi,
                romiPrevious?.romi,
                Fmt.percent,
                higherIsBetter: true,
                target: "spend " + Fmt.money(cur.cac.marketingSpend) + (romiCurrent ? "" : " · updating"),
                spark: romiHistory
            ),
            tile(
                "pipeline_coverage",
                "Pipeline coverage",
                cur.pipelineCoverage.coverage,
                prev.pipelineCoverage.coverage,
                Fmt.ratio,
                higherIsBetter: true,
                target: coverageTarget,
                spark: monthly.map(\.pipelineCoverage.coverage)
            ),
        ]
        // The funnel and where leads get lost, from the funnel report of the same aggregates.
        let funnel = try await store.funnel(period: period, by: .segment, options: FunnelOptions(), now: now)
        let stages = funnel.total.cohort
        let funnelSVG = SVGChart.funnel(
            stages.map {
                .init(label: Self.stageLabel($0.stage), value: Double($0.reached), text: Fmt.int($0.reached))
            },
            steps: [""]
                + zip(stages, stages.dropFirst()).map { before, stage in
                    "\(Fmt.percent(stage.fromPrevious)) · \(Fmt.int(before.reached - stage.reached)) dropped"
                },
            title: "Leads created \(period.from.text) to \(period.to.text) by furthest stage"
        )
        // MQLs against marketing's commitment for the month of the period's end.
        let month = LocalDate(monthIndex: min(now.utcDate, period.to.adding(days: -1)).monthIndex)
        let commitments = try await cache.value("commitments:\(month.text)", version: slow) { try await store.commitments(month: month, at: now) }
        // Each commitment as a share of its own target (MQLs and pipeline dollars do not share a scale).
        let commitmentSVG = SVGChart.bars(
            commitments.map {
                .init(
                    label: "\($0.metric) \($0.segment ?? "all")",
                    value: $0.target > 0 ? $0.actual / $0.target * 100 : 0,
                    text: "\(Fmt.compact($0.actual)) of \(Fmt.compact($0.target))\($0.shortfall ? " · short" : "")",
                    reference: 100,
                    referenceText: "projected \(Fmt.compact($0.projected)) by the month's end"
                )
            },
            title: "Commitments for \(String(month.text.prefix(7))): actual as a share of the target (line = target)"
        )
        let users = try await cache.users(store)
        func userName(_ id: String) -> String { users.first { $0.id == id }?["name"].text ?? id }
        let teams = (report.by["team"] ?? []).filter { $0.current.leadResponseTime.assignedMqls > 0 }
        let slaSVG = SVGChart.bars(
            teams.sorted { ($0.current.leadResponseTime.slaCompliance ?? 0) < ($1.current.leadResponseTime.slaCompliance ?? 0) }.map {
                .init(
                    label: $0.key,
                    value: ($0.current.leadResponseTime.slaCompliance ?? 0) * 100,
                    text: "\(Fmt.percent($0.current.leadResponseTime.slaCompliance)) of \($0.current.leadResponseTime.assignedMqls)"
                )
            },
            title: "SLA compliance by team, lowest first"
        )
        let campaignRows = (romi?.byCampaign ?? []).sorted { $0.revenue > $1.revenue }.prefix(10)
        let names = try await campaignNames(version: version)
        let attributionSVG = SVGChart.bars(
            campaignRows.map { .init(label: names[$0.label] ?? $0.label, value: $0.revenue, text: "\(Fmt.money($0.revenue)) · ROMI \(Fmt.percent($0.romi))") },
            title: "Attributed revenue by campaign (\(dq.model.rawValue)), top 10"
        )
        var data: [String: Any] = [
            "changes": notes.suffix(12).reversed().map { ["when": LocalTime.minute($0.at, in: zone), "text": $0.text, "by": $0.by, "kind": $0.kind] },
            "hasChanges": !notes.isEmpty,
            "custom": custom.map { c -> [String: Any] in
                [
                    "id": c.id, "label": c.label, "value": AgendaText.value(c.current, c.unit, currency), "previous": AgendaText.value(c.previous, c.unit, currency),
                    "status": c.status as Any, "filter": c.filter as Any, "owner": c.owner as Any,
                ]
            },
            "hasCustom": !custom.isEmpty,
            "tiles": tiles, "funnel": funnelSVG, "findings": Array(funnel.findings.prefix(5)), "hasFindings": !funnel.findings.isEmpty,
            "commitments": commitmentSVG, "sla": slaSVG,
            "attribution": attributionSVG, "model": dq.model.rawValue.replacingOccurrences(of: "_", with: " "),
            "coverage": Fmt.ratio(cur.pipelineCoverage.coverage), "weighted": Fmt.ratio(cur.pipelineCoverage.weightedCoverage),
            "openPipeline": Fmt.money(cur.pipelineCoverage.openPipeline), "wonRevenue": Fmt.money(cur.pipelineCoverage.wonRevenue),
            "revenueTarget": Fmt.money(cur.pipelineCoverage.revenueTarget), "version": version, "query": dq.query,
            "slaCompliance": Fmt.percent(cur.leadResponseTime.slaCompliance), "romiCurrent": romiCurrent,
        ]
        if let by = dq.by {
            data["cut"] = [
                "by": by.rawValue,
                "rows": (report.by[by.rawValue] ?? []).prefix(50).map { g -> [String: Any] in
                    let c = g.current
                    return [
                        "key": by == .owner ? userName(g.key) : g.key, "mqls": Fmt.int(c.mqlVolume.mqls),
                        "l2o": Fmt.percent(c.leadToOpportunity.mqlCohort.rate),
                        "win": Fmt.percent(c.winRate.rate), "response": Fmt.hours(c.leadResponseTime.medianHours),
                        "sla": Fmt.percent(c.leadResponseTime.slaCompliance),
                        "velocity": Fmt.days(c.dealVelocity.medianDays), "revenue": Fmt.money(c.dealVelocity.wonRevenue),
                        "cpm": Fmt.money(c.mqlVolume.costPerMql),
                    ]
                },
            ]
        }
        return view("dashboardLive", data)
    }

    /// Campaign names by id (charts show names; the API keeps ids).
    func campaignNames(version: Int64? = nil) async throws -> [String: String] {
        let known: Int64
        if let version { known = version } else { known = try await store.kpiVersion() }
        let version = cache.slowVersion(known, seconds: 30)
        return try await cache.value("campaign-names", version: version) {
            Dictionary(try await store.list(.campaigns, Self.all).records.map { ($0.id, $0["name"].text ?? $0.id) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// A stage as people write it: MQL, SAL and SQL in capitals.
    static func stageLabel(_ stage: String) -> String { ["mql", "sal", "sql"].contains(stage) ? stage.uppercased() : stage.capitalized }

    /// ROMI of one model for a period, from the KPI set's attribution. Attribution reads every
    /// won deal's path (seconds at a million leads), so the caller passes a slow version, and an
    /// older value is shown while the new one is computed in the background.
    func romiReport(_ period: KPIPeriod, model: AttributionModel, byCampaign: Bool, version: Int64) async throws -> KPIReport.ModelROMI? {
        let store = self.store
        return try await cache.latest(Self.romiKey(period, model, byCampaign), version: version) {
            try await store.kpis(KPIQuery(period: period, by: byCampaign ? [.campaign] : [], romiModels: [model])).romi?.first
        }
    }

    /// What a live render carries while some of its figures are being refreshed.
    static let updatingMark = "data-updating"

    static func romiKey(_ period: KPIPeriod, _ model: AttributionModel, _ byCampaign: Bool) -> String {
        "romi:\(period.from.text):\(period.to.text):\(model.rawValue):\(byCampaign)"
    }

    /// `/live/dashboard`: the live region as server-sent events, sent again when the aggregates'
    /// version moves (polled every 250 ms, like `/api/v1/stream`; it works across instances).
    func liveDashboard(_ request: Request, _ user: WebUser) async throws -> Response {
        let dq = dashboardQuery(request.uri.queryParameters, try await cache.workspaceSettings(store))
        let body = ResponseBody { writer in
            var last = try await store.kpiVersion()
            var quiet = 0
            var sinceSent = 0
            // While the page shows figures that are being refreshed, render again until they are in.
            var refreshing = !cache.isCurrent(Self.romiKey(dq.period, dq.model, true), version: cache.slowVersion(last, seconds: 30))
            var sentVersion = last
            func send(_ version: Int64) async throws {
                // Viewers of the same dashboard share one render per version (not while it is refreshing).
                let html =
                    refreshing
                    ? try await dashboardLive(dq) : try await cache.value("live:" + dq.query, version: version) { try await dashboardLive(dq) }
                let stillRefreshing = html.contains(Self.updatingMark)
                defer { refreshing = stillRefreshing }
                if version == sentVersion && stillRefreshing { return }  // nothing new yet
                sentVersion = version
                let data = html.split(separator: "\n", omittingEmptySubsequences: false).map { "data: " + $0 }.joined(separator: "\n")
                try await writer.write(ByteBuffer(string: "id: \(version)\nevent: update\n\(data)\n\n"))
            }
            try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
            for _ in 0..<(4 * 3600) {
                if Task.isShuttingDownGracefully { break }
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
                } catch is CancellationError { break }
                let version = try await store.kpiVersion()
                quiet += 1
                sinceSent += 1
                // Under a steady stream of writes, at most one update per 750 ms per viewer: the
                // page still changes within a second of a commit.
                if (version != last || refreshing) && sinceSent >= 3 {
                    last = version
                    quiet = 0
                    sinceSent = 0
                    try await send(version)
                } else if quiet >= 60 {
                    quiet = 0
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    static let dashboardTemplate = """
        <h1>Dashboard</h1>
        {{#hasOverdue}}<section class="card overdue-items" aria-labelledby="overdue-h"><h2 id="overdue-h">Overdue action items</h2><ul class="action-items">{{#overdueItems}}{{> action-item}}{{/overdueItems}}</ul><p><a href="/meetings">Weekly sync</a></p></section>{{/hasOverdue}}
        <form class="period" method="get" action="/" aria-label="Period and cut">
          <label>From <input type="date" name="from" value="{{from}}"{{#errFrom}} aria-invalid="true" aria-describedby="err-from"{{/errFrom}}>{{#errFrom}}<span class="field-error" id="err-from">{{errFrom}}</span>{{/errFrom}}</label>
          <label>To (exclusive) <input type="date" name="to" value="{{to}}"{{#errTo}} aria-invalid="true" aria-describedby="err-to"{{/errTo}}>{{#errTo}}<span class="field-error" id="err-to">{{errTo}}</span>{{/errTo}}</label>
          <label>Cut by <select name="by">{{#cuts}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/cuts}}</select>{{#errBy}}<span class="field-error">{{errBy}}</span>{{/errBy}}</label>
          <label>Attribution model <select name="model" data-autosubmit>{{#models}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/models}}</select>{{#errModel}}<span class="field-error">{{errModel}}</span>{{/errModel}}</label>
          <button type="submit">Show</button>
        </form>
        <p class="live-status" id="live-status" aria-live="polite">Live updates start when the page has loaded.</p>
        <div id="live" data-live="/live/dashboard?{{query}}" data-live-status="live-status">{{{live}}}</div>
        """

    static let dashboardLiveTemplate = """
        <section class="tiles" aria-label="The shared KPIs" data-version="{{version}}">
        {{#tiles}}<div class="tile{{#status}} status-{{status}}{{/status}}" data-kpi="{{id}}"><h2>{{title}}{{#status}} <span class="pill {{status}}" title="kpis.yaml thresholds">{{status}}</span>{{/status}}</h2><div class="v">{{value}}</div>
        <div class="sub">previous {{previous}} {{#delta}}<span class="{{dir}}">{{delta}}</span>{{/delta}}</div><div class="sub">{{target}}</div>{{#owner}}<div class="sub owner">owner: {{owner}}</div>{{/owner}}{{{spark}}}<div class="sub">records: {{#records}}<a href="{{href}}">{{label}}</a> {{/records}}</div></div>{{/tiles}}
        </section>
        {{#hasCustom}}<section class="tiles custom-kpis" aria-label="Custom KPIs (kpis.yaml)">{{#custom}}<div class="tile{{#status}} status-{{status}}{{/status}}" data-custom-kpi="{{id}}"><h2>{{label}}{{#status}} <span class="pill {{status}}">{{status}}</span>{{/status}}</h2><div class="v">{{value}}</div><div class="sub">previous {{previous}}</div>{{#filter}}<div class="sub">{{filter}}</div>{{/filter}}{{#owner}}<div class="sub owner">owner: {{owner}}</div>{{/owner}}</div>{{/custom}}</section>{{/hasCustom}}
        {{#hasChanges}}<details class="card changes" id="changes"><summary>Changes in these months that may explain a jump (dashed lines on the curves)</summary><ul>{{#changes}}<li data-kind="{{kind}}"><span class="muted">{{when}}</span> {{text}} <span class="muted">by {{by}}</span></li>{{/changes}}</ul></details>{{/hasChanges}}
        <div class="grid">
        <section class="card"><h2>Funnel</h2>{{{funnel}}}</section>
        <section class="card"><h2>Where leads get lost</h2>{{#hasFindings}}<ul>{{#findings}}<li>{{.}}</li>{{/findings}}</ul>{{/hasFindings}}{{^hasFindings}}<p class="empty">No significant leak in this period.</p>{{/hasFindings}}
        <p><a href="/api/v1/funnel/leaks?{{query}}">The full leak report (JSON)</a></p></section>
        <section class="card"><h2>MQLs against marketing's commitment</h2>{{{commitments}}}</section>
        <section class="card"><h2>SLA compliance ({{slaCompliance}} overall)</h2>{{{sla}}}</section>
        <section class="card"><h2>Pipeline coverage</h2><p class="v">{{coverage}} <span class="muted">(weighted {{weighted}})</span></p>
        <table><tbody><tr><th>Open pipeline closing in the period</th><td class="n">{{openPipeline}}</td></tr><tr><th>Won in the period</th><td class="n">{{wonRevenue}}</td></tr><tr><th>Revenue target</th><td class="n">{{revenueTarget}}</td></tr></tbody></table></section>
        <section class="card"><h2>Attributed revenue and ROMI by campaign ({{model}})</h2>{{^romiCurrent}}<p class="muted" data-updating>Updating: these are the figures from before the latest changes.</p>{{/romiCurrent}}{{{attribution}}}</section>
        </div>
        {{#cut}}<section class="card"><h2>By {{by}}</h2><div class="scroll"><table><thead><tr><th>{{by}}</th><th class="n">MQLs</th><th class="n">Lead→opp</th><th class="n">Win rate</th><th class="n">Response</th><th class="n">SLA</th><th class="n">Velocity</th><th class="n">Won revenue</th><th class="n">Cost/MQL</th></tr></thead>
        <tbody>{{#rows}}<tr><td>{{key}}</td><td class="n">{{mqls}}</td><td class="n">{{l2o}}</td><td class="n">{{win}}</td><td class="n">{{response}}</td><td class="n">{{sla}}</td><td class="n">{{velocity}}</td><td class="n">{{revenue}}</td><td class="n">{{cpm}}</td></tr>{{/rows}}</tbody></table></div></section>{{/cut}}
        """
}
