import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore

struct Scoring: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The scoring model (lead scoring and grading).", subcommands: [Validate.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a scoring model file; prints every problem with line and column.")
        @Argument(help: "The model file (YAML), e.g. examples/scoring-model.yaml.") var file: String
        @Flag(help: "Machine-readable JSON output.") var json = false

        func run() async throws {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CLIFailure("cannot read \(file) as UTF-8 text")
            }
            switch ScoringModelFile.read(text) {
            case .success(let model):
                if json {
                    try printJSON([
                        "valid": "true", "fit_rules": String(model.fit.rules.count), "engagement_rules": String(model.engagement.rules.count),
                        "mql": model.mqlText,
                    ])
                } else {
                    print("\(file): valid — \(model.fit.rules.count) fit rules, \(model.engagement.rules.count) engagement rules, MQL when \(model.mqlText)")
                }
            case .failure(let p):
                if json {
                    struct Out: Encodable {
                        var valid = false
                        var problems: [[String: String]]
                    }
                    try printJSON(Out(problems: p.problems.map { ["line": String($0.line), "column": String($0.column), "message": $0.message] }))
                } else {
                    for problem in p.problems { FileHandle.standardError.write(Data("\(file):\(problem)\n".utf8)) }
                }
                throw CLIFailure("\(file) has \(p.problems.count) problem(s); the model was not used")
            }
        }
    }
}
