import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore

struct Attribution: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Multi-touch attribution.",
        subcommands: [Markov.self]
    )

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
