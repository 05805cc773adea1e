import ArgumentParser
import Foundation
import SmarketingCore
import SmarketingStore

/// `smarketing funnel`: where the period's leads get lost (from the incremental aggregates) and
/// what on their paths goes with losing them.
struct Funnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "funnel",
        abstract: "Where leads get lost, and the touches that go with losing them.",
        subcommands: [Leaks.self, Killers.self],
        defaultSubcommand: Leaks.self
    )
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json }

    /// `--confidence` of both subcommands (bounds from `FunnelOptions`).
    static func checkConfidence(_ c: Double) throws {
        let range = FunnelOptions.confidenceRange
        guard range.contains(c) else { throw CLIFailure("--confidence must be from \(range.lowerBound) to \(range.upperBound)") }
    }
}

extension Funnel {
    struct Leaks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "leaks",
            abstract:
                "The period's lead cohort by stage, drop-off per cut with a significance test, time in stage, stuck and stale leads, SLA breaches, rejection reasons (the default subcommand)."
        )

        @Option(help: "First day of the lead cohort (YYYY-MM-DD; default: the first day of the current quarter).") var from: String?
        @Option(help: "Day after the last (YYYY-MM-DD, exclusive; default: the end of --from's quarter).") var to: String?
        @Option(help: "The cut whose values are tested against the rest: segment, channel, campaign, persona, owner, team or all.")
        var by: String = "segment"
        @Option(help: "Stuck: no stage move for more than this many days.") var stuckDays: Int = FunnelOptions().stuckDays
        @Option(help: "Stale: an MQL, SAL or SQL without a sales action for more than this many days (default: the setting kpi.stale_days, 14).")
        var staleDays: Int?
        @Option(help: "Confidence of the drop-off flags (0.5–0.999; Bonferroni over the tests made).") var confidence: Double = FunnelOptions().confidence
        @Option(help: "table or json.") var format: Format = .table
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let period = try await KPI.query(from: from, to: to, by: nil, workspace: workspace).period
            guard let dim = KPIDimension(rawValue: by) else {
                throw CLIFailure("--by takes segment, channel, campaign, persona, owner, team or all, not \(by)")
            }
            let days = FunnelOptions.daysRange
            guard days.contains(stuckDays), staleDays.map { days.contains($0) } ?? true else {
                throw CLIFailure("--stuck-days and --stale-days must be from \(days.lowerBound) to \(days.upperBound)")
            }
            try Funnel.checkConfidence(confidence)
            let store = try await workspace.openFunnel()
            var stale = staleDays ?? 0
            if staleDays == nil { stale = try await storeCall { try await store.workspaceSettings().settings.staleDays } }
            let options = FunnelOptions(stuckDays: stuckDays, staleDays: stale, confidence: confidence)
            let report = try await store.funnel(period: period, by: dim, options: options, now: SystemClock().now())
            switch workspace.json ? .json : format {
            case .json: try printJSON(report)
            case .table: print(Self.table(report), terminator: "")
            }
        }

        static func table(_ r: FunnelReport) -> String {
            let pct = KPIText.percent
            let pad = KPIText.pad
            let left = KPIText.left
            var out = "Funnel of the leads of \(r.period.from) … \(r.period.to) (\(r.period.timeZone)), as of \(r.asOf)\n\n"
            out += pad("stage", 13) + left("reached", 9) + left("of prev", 9) + left("of leads", 10) + left("lost", 8) + left("entered", 10) + "\n"
            for (c, p) in zip(r.total.cohort, r.total.period) {
                out += pad(c.stage, 13) + left(String(c.reached), 9) + left(pct(c.fromPrevious), 9) + left(pct(c.fromFirst), 10)
                out += left(String(c.lost), 8) + left(String(p.entered), 10) + "\n"
            }
            out += "\ntime in stage (left in the period)\n"
            for t in r.total.timeInStage where t.left > 0 {
                out +=
                    pad(t.stage, 13) + left(String(t.left), 9) + "  mean " + KPIText.number(t.meanDays, 1) + " d, median in " + (t.medianBucket ?? "-") + "\n"
            }
            out += "\nstuck > \(r.settings.stuckDays) d: " + r.total.stuck.map { "\($0.stage) \($0.count)" }.joined(separator: ", ")
            out += "\nstale > \(r.settings.staleDays) d: " + r.total.stale.map { "\($0.stage) \($0.count)" }.joined(separator: ", ")
            out +=
                "\nSLA (\(String(format: "%g", r.settings.slaHours)) h): \(r.total.sla.answeredInTime) of \(r.total.sla.assigned) in time, \(r.total.sla.breached) breached\n"
            let reasons = r.total.recycled.map { "recycled: \($0.reason) \($0.count)" } + r.total.disqualified.map { "disqualified: \($0.reason) \($0.count)" }
            if !reasons.isEmpty { out += "rejections: " + reasons.joined(separator: "; ") + "\n" }
            let flagged = r.dropOff.flatMap { d in d.segments.filter(\.flagged).map { (d, $0) } }
            if !flagged.isEmpty {
                out += "\n\(r.by) losing significantly more (\(r.settings.test), \(Int((r.settings.confidence * 100).rounded()))%)\n"
                for (d, s) in flagged {
                    out +=
                        pad("\(d.from)→\(d.to)", 18) + pad(s.key, 24) + left(pct(s.rate), 8) + " vs " + pct(s.restRate) + "  p="
                        + String(format: "%.2g", s.pAdjusted ?? 1) + "\n"
                }
            }
            out += "\n" + r.findings.map { "• " + $0 }.joined(separator: "\n") + "\n"
            return out
        }
    }
}

extension Funnel {
    struct Killers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Touch types, content and campaigns whose presence on a path goes with lower conversion to the next stage than comparable paths without them; channels with a negative Markov redirect effect."
        )
        @Option(help: "First day of reaching the stage (YYYY-MM-DD; default: the first day of the current quarter).") var from: String?
        @Option(help: "Day after the last (YYYY-MM-DD, exclusive; default: the end of --from's quarter).") var to: String?
        @Option(help: "The step's first stage: lead, mql, sal, sql or opportunity (converted = reached a later stage).") var stage: String = "mql"
        @Option(help: "Confidence of the flags (0.5–0.999; Bonferroni over the features tested).") var confidence: Double = KillerOptions().confidence
        @Option(help: "Test a feature only with at least this many paths with it and without it.") var minPaths: Int = KillerOptions().minPaths
        @Option(help: "table or json.") var format: Format = .table
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let period = try await KPI.query(from: from, to: to, by: nil, workspace: workspace).period
            guard let step = FunnelStage(rawValue: stage), step.next != nil else {
                throw CLIFailure("--stage takes lead, mql, sal, sql or opportunity, not \(stage)")
            }
            try Funnel.checkConfidence(confidence)
            guard minPaths >= KillerOptions.minPathsRange.lowerBound else { throw CLIFailure("--min-paths must be at least 1") }
            let report = try await workspace.openFunnel().conversionKillers(
                period: period,
                from: step,
                options: KillerOptions(confidence: confidence, minPaths: minPaths),
                now: SystemClock().now()
            )
            switch workspace.json ? .json : format {
            case .json: try printJSON(report)
            case .table: print(Self.table(report), terminator: "")
            }
        }

        static func table(_ r: KillerReport) -> String {
            let pct = KPIText.percent
            let pad = KPIText.pad
            let left = KPIText.left
            var out =
                "Paths of the contacts that reached \(r.from) in \(r.period.from) … \(r.period.to): \(r.paths), converted \(r.converted) (\(pct(r.rate)))\n\n"
            out += pad("feature", 44) + left("paths", 8) + left("with", 8) + left("without", 9) + left("MH diff", 9) + left("p adj", 9) + "\n"
            for f in r.features.filter(\.tested).prefix(15) {
                let name = "\(f.kind) " + (f.name ?? f.value)
                out += pad(String(name.prefix(42)) + (f.flagged ? " !" : ""), 44) + left(String(f.pathsWith), 8) + left(pct(f.rateWith), 8)
                out += left(pct(f.rateWithout), 9) + left(f.riskDifference.map { String(format: "%+.1f", $0 * 100) } ?? "-", 9)
                out += left(f.pAdjusted.map { String(format: "%.2g", $0) } ?? "-", 9) + "\n"
            }
            out += "(lowest z first; ! = flagged at \(Int((r.settings.confidence * 100).rounded()))%, \(r.settings.test))\n"
            if !r.markov.isEmpty {
                out +=
                    "\nMarkov by channel (removal effect / redirect effect; a negative redirect effect converts more going elsewhere):\n"
                    + r.markov.map {
                        "  \(pad($0.channel, 24)) \(String(format: "%.3f", $0.removalEffect)) / \(String(format: "%+.3f", $0.redirectEffect)) "
                            + "[\(String(format: "%+.3f", $0.redirectLow)) … \(String(format: "%+.3f", $0.redirectHigh))]\($0.flagged ? " !" : "")"
                    }
                    .joined(separator: "\n") + "\n"
            }
            out += "\n" + r.findings.map { "• " + $0 }.joined(separator: "\n") + "\n"
            return out
        }
    }
}
