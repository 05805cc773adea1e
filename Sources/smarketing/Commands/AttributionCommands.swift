import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

struct Attribution: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Multi-touch attribution of won deals: rule-based, Markov and Shapley models.",
        subcommands: [Run.self, Journeys.self, Markov.self],
        defaultSubcommand: Run.self
    )

    /// Refuses a look-back outside `AttributionReport.lookbackRange`, in one sentence.
    static func checkLookback(_ days: Int) throws {
        let lookback = AttributionReport.lookbackRange
        guard lookback.contains(days) else {
            throw CLIFailure("--lookback-days must be a whole number from \(lookback.lowerBound) to \(lookback.upperBound)")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Credit for the deals won in [--from, --to) per channel, campaign or content, with spend and ROMI (the default subcommand)."
        )
        @Option(help: "first_touch, last_touch, lead_creation, linear, u_shaped, w_shaped, full_path, time_decay, markov, shapley, or all.")
        var model = "all"
        @Option(help: "channel, campaign or content.") var by: AttributionCut = .channel
        @Option(help: "First day (YYYY-MM-DD; default: the first day of the current quarter).") var from: String?
        @Option(help: "Day after the last (exclusive).") var to: String?
        @Option(help: "Touches up to this many days before the close count (default: the setting attribution.lookback_days, 365).")
        var lookbackDays: Int?
        @Option(help: "Half-life of the time-decay model, in days (default: the setting attribution.half_life_days, 7).") var halfLifeDays: Double?
        @Option(help: "table, json or csv.") var format: KPI.Format = .table
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let models: [AttributionModel]
            switch AttributionModel.list(model) {
            case .success(let m): models = m
            case .failure(let e): throw CLIFailure("--model " + e.message)
            }
            let halfLife = AttributionReport.halfLifeRange
            if let lookbackDays { try Attribution.checkLookback(lookbackDays) }
            if let halfLifeDays, !halfLife.contains(halfLifeDays) {
                throw CLIFailure("--half-life-days must be a number from \(halfLife.lowerBound) to \(FieldValue.format(halfLife.upperBound))")
            }
            let period = try await KPI.query(from: from, to: to, by: nil, workspace: workspace).period
            let store = try await workspace.openFunnel()
            let defaults = try await storeCall { try await store.workspaceSettings().settings }
            let lookbackDays = self.lookbackDays ?? defaults.lookbackDays
            let halfLifeDays = self.halfLifeDays ?? defaults.halfLifeDays
            let report = try await store.attribution(
                period: period,
                by: by,
                models: models,
                lookbackDays: lookbackDays,
                halfLifeDays: halfLifeDays
            )
            switch workspace.json ? .json : format {
            case .json: try printJSON(report)
            case .csv:
                print("model,\(by.rawValue),revenue,deals,spend,romi,removal_effect")
                for m in report.models {
                    for r in m.rows {
                        func f(_ v: Double?) -> String { v.map { String($0) } ?? "" }
                        print(
                            [m.model, r.label, String(r.revenue), String(r.deals), f(r.spend), f(r.romi), f(r.removalEffect)].map(KPIText.csvField).joined(
                                separator: ","
                            )
                        )
                    }
                }
            case .table:
                print(
                    "Deals won \(report.from) – \(report.to): \(report.dealsWon), revenue \(KPIText.number(report.revenueWon)); with a marketing path \(report.dealsWithPath) (unattributed \(KPIText.number(report.revenueUnattributed))); marketing spend \(KPIText.number(report.marketingSpend))"
                )
                for m in report.models {
                    print(
                        "\n\(m.model)"
                            + (m.conversionProbability.map { "  (journeys \(report.journeys ?? 0), P(conversion) \(String(format: "%.4f", $0)))" } ?? "")
                    )
                    print(
                        KPIText.pad(by.rawValue, 28) + KPIText.left("revenue", 14) + KPIText.left("deals", 9) + KPIText.left("spend", 13)
                            + KPIText.left("ROMI", 9) + (m.model == "markov" ? KPIText.left("removal", 10) : "")
                    )
                    for r in m.rows.prefix(25) {
                        print(
                            KPIText.pad(r.label, 28) + KPIText.left(KPIText.number(r.revenue), 14) + KPIText.left(KPIText.number(r.deals), 9)
                                + KPIText.left(KPIText.number(r.spend), 13) + KPIText.left(KPIText.number(r.romi), 9)
                                + (r.removalEffect.map { KPIText.left(String(format: "%.4f", $0), 10) } ?? "")
                        )
                    }
                    if m.rows.count > 25 { print("… \(m.rows.count - 25) more (use --format csv or json)") }
                }
            }
        }
    }

    struct Journeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The workspace's journeys aggregated by path (the Markov and Shapley input), as a path file for `attribution markov --paths` or ChannelAttribution.",
            discussion: """
                One journey per contact with marketing touches: the labels of its touches up to the
                time it reached an opportunity (became_opportunity_at, and only when that is empty
                the creation of its first deal), all of them for contacts that never did;
                consecutive repeats collapse. Without --from and --to, every journey; with them, those
                the attribution of that period uses (converted, or last touched, in the period or
                the look-back window before it).
                """
        )
        @Option(help: "channel, campaign or content.") var by: AttributionCut = .channel
        @Option(help: "First day (YYYY-MM-DD); with --to.") var from: String?
        @Option(help: "Day after the last (exclusive); with --from.") var to: String?
        @Option(help: "Touches up to this many days before the close count (with --from and --to; default: the setting attribution.lookback_days).")
        var lookbackDays: Int?
        @Option(help: "Write the path file here instead of standard output.") var out: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            if let lookbackDays { try Attribution.checkLookback(lookbackDays) }
            guard (from == nil) == (to == nil) else { throw CLIFailure("--from and --to go together (without both: every journey)") }
            let period = from == nil ? KPIPeriod.allTime : try await KPI.query(from: from, to: to, by: nil, workspace: workspace).period
            let store = try await workspace.openFunnel()
            var lookbackDays = self.lookbackDays ?? 0
            if self.lookbackDays == nil { lookbackDays = try await storeCall { try await store.workspaceSettings().settings.lookbackDays } }
            let inputs = try await store.attributionInputs(period: period, lookbackDays: lookbackDays, journeys: [by])
            let (paths, skipped) = inputs.journeys.paths(by)
            let text = JourneyPathFile.write(paths)
            if let out {
                do {
                    try text.write(toFile: out, atomically: true, encoding: .utf8)
                } catch {
                    throw CLIFailure("cannot write \(out): \(error.localizedDescription)")
                }
            } else {
                print(text, terminator: "")
            }
            let journeys = paths.reduce(0.0) { $0 + $1.conversions + $1.nulls }
            let conversions = paths.reduce(0.0) { $0 + $1.conversions }
            FileHandle.standardError.write(
                Data(
                    "\(String(format: "%.0f", journeys)) journeys (\(String(format: "%.0f", conversions)) converted) in \(paths.count) paths by \(by.rawValue); \(skipped) converted contacts without a marketing touch before their conversion left out\n"
                        .utf8
                )
            )
        }
    }

    struct Markov: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exact first-order Markov removal effects of aggregated journeys (ChannelAttribution's path file layout)."
        )
        @Option(help: "A path file: header path;total_conversions;total_null, paths written a > b > c.") var paths: String
        @Flag(help: "Machine-readable JSON output.") var json = false

        func run() async throws {
            guard let text = try? String(contentsOfFile: paths, encoding: .utf8) else { throw CLIFailure("cannot read \(paths) as UTF-8 text") }
            let journeys: [JourneyPath]
            switch JourneyPathFile.read(text) {
            case .success(let j): journeys = j
            case .failure(let p): throw CLIFailure("\(paths):\(p.line):\(p.column): \(p.message)")
            }
            let started = DispatchTime.now().uptimeNanoseconds
            let r = MarkovAttribution.exact(journeys)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            if json {
                // Labels are values, not keys: the snake_case key strategy would rewrite them.
                struct Row: Encodable {
                    var label: String
                    var removalEffect: Double
                    var attributedConversions: Double
                }
                struct Out: Encodable {
                    var paths: Int
                    var conversions: Double
                    var conversionProbability: Double
                    var labels: [Row]
                    var seconds: Double
                }
                return try printJSON(
                    Out(
                        paths: journeys.count,
                        conversions: r.totalConversions,
                        conversionProbability: r.conversionProbability,
                        labels: r.labels.indices.map { Row(label: r.labels[$0], removalEffect: r.removalEffects[$0], attributedConversions: r.attributed[$0]) },
                        seconds: seconds
                    )
                )
            }
            print("\(journeys.count) paths, \(r.totalConversions) conversions, P(conversion) = \(String(format: "%.5f", r.conversionProbability))")
            print("label                 removal effect   attributed conversions")
            for (i, l) in r.labels.enumerated() {
                print(
                    "\(l.padding(toLength: 20, withPad: " ", startingAt: 0))  \(String(format: "%14.6f", r.removalEffects[i]))   \(String(format: "%22.3f", r.attributed[i]))"
                )
            }
        }
    }
}
extension AttributionCut: ExpressibleByArgument {}
