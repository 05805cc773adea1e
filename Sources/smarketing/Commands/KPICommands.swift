import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing kpi`: the shared KPI set from the incremental aggregates.
struct KPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kpi",
        abstract: "The shared KPI set of a period, beside the previous period and the targets.",
        subcommands: [Show.self, Verify.self, Rebuild.self, Config.self, Custom.self],
        defaultSubcommand: Show.self
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "The KPIs of [--from, --to) in the workspace time zone (the default subcommand)."
        )
        @Option(help: "First day (YYYY-MM-DD; default: the first day of the current quarter).") var from: String?
        @Option(help: "Day after the last (YYYY-MM-DD, exclusive; default: the end of --from's quarter).") var to: String?
        @Option(help: "Cuts, comma-separated: channel, campaign, persona, segment, owner, team.") var by: String?
        @Option(help: "table, json or csv.") var format: Format = .table
        @Option(help: "Attribution models whose ROMI to add: all or comma-separated (linear, w_shaped, markov, …).") var romi: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            var query = try await KPI.query(from: from, to: to, by: by, workspace: workspace)
            if let romi {
                switch AttributionModel.list(romi) {
                case .success(let m): query.romiModels = m
                case .failure(let e): throw CLIFailure("--romi " + e.message)
                }
            }
            let store = try await workspace.openFunnel()
            var report = try await store.kpis(query)
            // The custom KPIs of kpis.yaml travel with the built-in ones (JSON, CSV, table).
            let custom = try await KPIConfigReads.custom(store, period: query.period)
            if !custom.isEmpty { report.custom = custom }
            switch workspace.json ? .json : format {
            case .json: try printJSON(report)
            case .csv: print(try KPIText.csv(report), terminator: "")
            case .table:
                print(KPIText.table(report), terminator: "")
                if let custom = report.custom {
                    print("\ncustom KPIs (kpis.yaml)")
                    let currency = try await store.workspaceSettings().settings.currency
                    for c in custom {
                        print(
                            "  " + KPIText.pad(c.label, 44) + " " + AgendaText.value(c.current, c.unit, currency) + "  (previous "
                                + AgendaText.value(c.previous, c.unit, currency) + ")" + (c.status.map { "  " + $0 } ?? "")
                        )
                    }
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every KPI aggregate from the raw history and compare it with the incremental ones."
        )
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let v = try await workspace.openFunnel().verifyKPIs()
            if workspace.json { try printJSON(v) }
            if v.agrees {
                if !workspace.json {
                    print("KPI aggregates agree with the raw history: \(v.cells) cells, recomputed in \(String(format: "%.2f", v.seconds)) s")
                }
                return
            }
            if !workspace.json {
                for m in v.mismatches.prefix(20) {
                    print(
                        "\(m.metric) \(m.dimension)=\(m.key) day \(LocalDate(daysSinceEpoch: m.day).text)\(m.label.isEmpty ? "" : " [\(m.label)]"): stored \(m.stored.count)/\(m.stored.total), recomputed \(m.recomputed.count)/\(m.recomputed.total)"
                    )
                }
            }
            throw CLIFailure("\(v.mismatches.count) KPI aggregate cell(s) differ from the raw history; `smarketing kpi rebuild` repairs them")
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute every KPI aggregate from the raw history.")
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let started = Date()
            try await workspace.openFunnel().rebuildKPIs()
            print("KPI aggregates rebuilt in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        }
    }

    /// The period and cuts of the options; a bad value is one clear sentence.
    static func query(from: String?, to: String?, by: String?, workspace: WorkspaceOptions?) async throws -> KPIQuery {
        // The default period is the workspace's fiscal quarter of today (in its zone).
        var today = SystemClock().now().utcDate
        var fiscal = 1
        if from == nil || to == nil, let workspace {
            let settings = try await storeCall { try await workspace.openFunnel().workspaceSettings().settings }
            today = settings.today(SystemClock().now())
            fiscal = settings.fiscalYearStartMonth
        }
        switch KPIPeriod.parse(from: from, to: to, today: today, fiscalStartMonth: fiscal) {
        case .success(let period): return KPIQuery(period: period, by: try dimensions(by), asOf: SystemClock().now())
        case .failure(.notADate(let isFrom, let text)): throw CLIFailure("--\(isFrom ? "from" : "to") must be a date YYYY-MM-DD, not \(text)")
        case .failure(.notBefore): throw CLIFailure("--from must be before --to (the period is [from, to))")
        case .failure(.tooLong): throw CLIFailure("a period is at most ten years")
        }
    }

    static func dimensions(_ by: String?) throws -> [KPIDimension] {
        guard let by, !by.isEmpty else { return [] }
        return try by.split(separator: ",").map { part in
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let d = KPIDimension(rawValue: name), d != .all else {
                throw CLIFailure("--by takes channel, campaign, persona, segment, owner or team, not \(name)")
            }
            return d
        }
    }
}

/// Text renderings of a KPI report.
enum KPIText {
    /// Every figure of a report as (dimension, key, period, figure, value) rows, in the JSON
    /// schema's names (dotted paths), for CSV and BI tools.
    static func figures(_ report: KPIReport) throws -> [(String, String, String, String, String)] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        func flatten(_ v: KPIValues) throws -> [(String, String)] {
            let object = try JSONSerialization.jsonObject(with: encoder.encode(v))
            var out: [(String, String)] = []
            func walk(_ x: Any, _ path: String) {
                switch x {
                case let d as [String: Any]:
                    for k in d.keys.sorted() { walk(d[k]!, path.isEmpty ? k : path + "." + k) }
                case let a as [Any]:
                    // lost_reasons: [{reason, count}] → lost_reasons.<reason>
                    for item in a {
                        if let d = item as? [String: Any], let r = d["reason"] as? String { walk(d["count"] ?? NSNull(), path + "." + r) }
                    }
                case is NSNull: out.append((path, ""))
                case let n as NSNumber: out.append((path, n.stringValue))
                default: out.append((path, "\(x)"))
                }
            }
            walk(object, "")
            return out
        }
        var rows: [(String, String, String, String, String)] = []
        func add(_ dim: String, _ g: KPIReport.Group) throws {
            for (f, v) in try flatten(g.current) { rows.append((dim, g.key, "current", f, v)) }
            for (f, v) in try flatten(g.previous) { rows.append((dim, g.key, "previous", f, v)) }
        }
        try add("all", report.total)
        for dim in report.by.keys.sorted() { for g in report.by[dim]! { try add(dim, g) } }
        return rows
    }

    /// A CSV cell, safe to open in a spreadsheet (`SpreadsheetSafe`), quoted where needed.
    static func csvField(_ raw: String) -> String {
        let s = SpreadsheetSafe.escape(raw)
        return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    static let csvHeader = ["dimension", "key", "period", "from", "to", "figure", "value"]

    /// The long-format rows of a report (`csvHeader`'s columns).
    static func csvRows(_ report: KPIReport) throws -> [[String]] {
        var rows = try figures(report).map { d, k, p, f, v in
            let span = p == "current" ? report.period : report.previousPeriod
            return [d, k, p, span.from, span.to, f, v]
        }
        for c in report.custom ?? [] {
            for (side, value, span) in [("current", c.current, report.period), ("previous", c.previous, report.previousPeriod)] {
                rows.append(["custom", c.filter ?? "all", side, span.from, span.to, "custom." + c.id, value.map { FieldValue.format($0) } ?? ""])
            }
        }
        return rows
    }

    static func csv(_ report: KPIReport) throws -> String {
        ([csvHeader] + (try csvRows(report))).map { $0.map(csvField).joined(separator: ",") + "\n" }.joined()
    }

    static func number(_ v: Double?, _ digits: Int = 2) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "-" }
    static func percent(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func left(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

    /// The headline figures of one group: name, current, previous, target.
    static func headline(_ c: KPIValues, _ p: KPIValues) -> [(String, String, String, String)] {
        [
            ("MQLs", String(c.mqlVolume.mqls), String(p.mqlVolume.mqls), number(c.mqlVolume.target, 0)),
            ("Lead→opportunity (MQL cohort)", percent(c.leadToOpportunity.mqlCohort.rate), percent(p.leadToOpportunity.mqlCohort.rate), ""),
            ("Lead→opportunity (lead cohort)", percent(c.leadToOpportunity.leadCohort.rate), percent(p.leadToOpportunity.leadCohort.rate), ""),
            ("Win rate", percent(c.winRate.rate), percent(p.winRate.rate), ""),
            ("Response median h", number(c.leadResponseTime.medianHours), number(p.leadResponseTime.medianHours), ""),
            ("Response p90 h", number(c.leadResponseTime.p90Hours), number(p.leadResponseTime.p90Hours), ""),
            ("Response median business h", number(c.leadResponseTime.businessMedianHours), number(p.leadResponseTime.businessMedianHours), ""),
            (
                "SLA compliance", percent(c.leadResponseTime.slaCompliance), percent(p.leadResponseTime.slaCompliance),
                "≤ " + number(c.leadResponseTime.slaHours, 0) + " h"
            ),
            ("MQL→SAL acceptance", percent(c.mqlAcceptance.rate), percent(p.mqlAcceptance.rate), ""),
            ("Deal velocity median d", number(c.dealVelocity.medianDays, 1), number(p.dealVelocity.medianDays, 1), ""),
            ("Sales velocity / day", number(c.salesVelocity.valuePerDay), number(p.salesVelocity.valuePerDay), ""),
            ("Won revenue", number(c.dealVelocity.wonRevenue), number(p.dealVelocity.wonRevenue), number(c.pipelineCoverage.revenueTarget)),
            ("CAC", number(c.cac.cac), number(p.cac.cac), ""),
            ("Cost per MQL", number(c.mqlVolume.costPerMql), number(p.mqlVolume.costPerMql), ""),
            ("Pipeline coverage", number(c.pipelineCoverage.coverage), number(p.pipelineCoverage.coverage), ""),
            ("Pipeline coverage (weighted)", number(c.pipelineCoverage.weightedCoverage), number(p.pipelineCoverage.weightedCoverage), ""),
        ]
    }

    static func table(_ report: KPIReport) -> String {
        var out =
            "KPIs \(report.period.from) – \(report.period.to) (\(report.period.timeZone), exclusive end); previous \(report.previousPeriod.from) – \(report.previousPeriod.to)\n\n"
        out += pad("", 32) + left("current", 14) + left("previous", 14) + left("target", 14) + "\n"
        for (name, c, p, t) in headline(report.total.current, report.total.previous) {
            out += pad(name, 32) + left(c, 14) + left(p, 14) + left(t, 14) + "\n"
        }
        let lost = report.total.current.lostReasons.prefix(5).map { "\($0.reason) \($0.count)" }.joined(separator: ", ")
        if !lost.isEmpty { out += "Lost reasons: \(lost)\n" }
        let rejected = report.total.current.rejectionReasons.prefix(5).map { "\($0.outcome): \($0.reason) \($0.count)" }.joined(separator: ", ")
        if !rejected.isEmpty { out += "Rejection reasons: \(rejected)\n" }
        let stages = report.total.current.timeInStage.filter { $0.left > 0 }.map { "\($0.stage) \(number($0.meanDays, 1))" }.joined(separator: ", ")
        if !stages.isEmpty { out += "Mean days in stage: \(stages)\n" }
        if let stale = report.total.current.staleLeads { out += "Stale leads (no sales action > \(stale.days) d, now): \(stale.count)\n" }
        if let romi = report.romi {
            out += "ROMI by attribution model: " + romi.map { "\($0.model) \(number($0.romi))" }.joined(separator: ", ") + "\n"
        }
        for dim in report.by.keys.sorted() {
            out += "\nby \(dim)\n"
            out +=
                pad(dim, 24) + left("MQLs", 8) + left("L→O", 9) + left("win", 9) + left("resp h", 9) + left("SLA", 9) + left("vel d", 8) + left("won", 14)
                + "\n"
            for g in report.by[dim]! {
                let c = g.current
                out +=
                    pad(g.key, 24) + left(String(c.mqlVolume.mqls), 8) + left(percent(c.leadToOpportunity.mqlCohort.rate), 9)
                    + left(percent(c.winRate.rate), 9) + left(number(c.leadResponseTime.medianHours), 9)
                    + left(percent(c.leadResponseTime.slaCompliance), 9) + left(number(c.dealVelocity.medianDays, 1), 8)
                    + left(number(c.dealVelocity.wonRevenue), 14) + "\n"
            }
        }
        return out
    }
}
