import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

struct Scoring: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The scoring model (lead scoring and grading): validate, diff, apply, backtest, versions.",
        subcommands: [Validate.self, Diff.self, Apply.self, BacktestCommand.self, Versions.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a scoring model file; prints every problem with line and column.")
        @Argument(help: "The model file (YAML), e.g. examples/scoring-model.yaml.") var file: String
        @Flag(help: "Machine-readable JSON output.") var json = false

        func run() async throws {
            let (_, model) = try readModel(file, json: json)
            if json {
                try printJSON([
                    "valid": "true", "fit_rules": String(model.fit.rules.count), "engagement_rules": String(model.engagement.rules.count),
                    "mql": model.mqlText,
                ])
            } else {
                print("\(file): valid — \(model.fit.rules.count) fit rules, \(model.engagement.rules.count) engagement rules, MQL when \(model.mqlText)")
            }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What applying a model would change: grade moves, persona changes, who would become MQL now. Changes nothing."
        )
        @Argument(help: "The model file (YAML).") var file: String
        @Option(help: "The moment \"now\" stands for (ISO 8601; default: the current time).") var at: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let (_, model) = try readModel(file, json: workspace.json)
            let now = try instant(at)
            let store = try await workspace.openPortable()
            let progress = ProgressReporter(quiet: workspace.json)
            let diff = try await store.scoringDiff(model, at: now) { p in
                progress.update("scoring", p.done, fraction: Double(p.done) / Double(max(1, p.total)))
            }
            progress.finish()
            if workspace.json { return try printJSON(diff) }
            printDiff(diff)
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a model as a new version and rescore every contact; the old version stays active until all are done."
        )
        @Argument(help: "The model file (YAML).") var file: String
        @Option(help: "Why the model changes (kept with the version).") var comment = ""
        @Option(help: "Who changes it (default: the login name).") var author: String?
        @Option(help: "The moment \"now\" stands for (ISO 8601; default: the current time).") var at: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let (text, model) = try readModel(file, json: workspace.json)
            let now = try instant(at)
            let store = try await workspace.openPortable()
            let progress = ProgressReporter(quiet: workspace.json)
            let who = author ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
            let result = try await store.applyScoringModel(
                text: text,
                model: model,
                comment: comment,
                actor: Actor(userID: who, role: .admin, via: "cli"),
                at: now
            ) { p in progress.update("rescoring", p.done, fraction: Double(p.done) / Double(max(1, p.total))) }
            progress.finish()
            if workspace.json { return try printJSON(result) }
            print("version \(result.version) is active: \(result.rescored) contacts rescored in \(String(format: "%.2f", result.seconds)) s")
            printDiff(result.diff)
            print("moved to MQL now: \(result.movedToMQL); events replayed that arrived while rescoring: \(result.caughtUpEvents)")
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The stored model versions (author, time, comment, status).")
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let versions = try await workspace.openPortable().scoringVersions()
            if workspace.json { return try printJSON(versions) }
            if versions.isEmpty { print("no scoring model has been applied") }
            let zone = try await workspace.displayZone()
            for v in versions {
                print("v\(v.version)  \(v.status.padding(toLength: 10, withPad: " ", startingAt: 0)) \(LocalTime.minute(v.createdAt, in: zone))  \(v.author)  \(v.comment)")
            }
        }
    }
}

/// Reads and checks a model file; problems go to stderr with line and column.
func readModel(_ file: String, json: Bool) throws -> (String, ScoringModel) {
    try readYAMLFile(file, json: json, what: "the model", ScoringModelFile.read)
}

/// `--json` output for a file with problems.
struct InvalidFileJSON: Encodable {
    var valid = false
    var problems: [[String: String]]
}

/// Reads a YAML file (scoring model, handover configuration) and checks it with `read`; every
/// problem goes to stderr as `file:line:column: message` (or JSON with `--json`), and the command
/// fails in one sentence.
func readYAMLFile<T>(_ file: String, json: Bool, what: String, _ read: (String) -> Result<T, ModelFileProblems>) throws -> (String, T) {
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
        throw CLIFailure("cannot read \(file) as UTF-8 text")
    }
    switch read(text) {
    case .success(let value): return (text, value)
    case .failure(let p):
        if json {
            try printJSON(InvalidFileJSON(problems: p.problems.map { ["line": String($0.line), "column": String($0.column), "message": $0.message] }))
        } else {
            for problem in p.problems { FileHandle.standardError.write(Data("\(file):\(problem)\n".utf8)) }
        }
        throw CLIFailure("\(file) has \(p.problems.count) problem(s); \(what) was not used")
    }
}

/// A date (YYYY-MM-DD) or an ISO 8601 instant given to `option`.
func dateOrInstant(_ text: String, _ option: String) throws -> Timestamp {
    guard let t = Timestamp.parse(dateOrInstant: text) else {
        throw CLIFailure("\(option) \"\(text)\" is not a date (YYYY-MM-DD) or an ISO 8601 time")
    }
    return t
}

func instant(_ text: String?) throws -> Timestamp {
    guard let text else { return SystemClock().now() }
    switch Timestamp.parse(text) {
    case .success(let t): return t
    case .failure: throw CLIFailure("--at \"\(text)\" is not an ISO 8601 time such as 2026-03-01T00:00:00Z")
    }
}

func printDiff(_ d: ScoreDiff) {
    print("contacts: \(d.contacts) (compared with \(d.currentVersion.map { "version \($0)" } ?? "no active model"))")
    print(
        "grade changes: \(d.gradeChanged)"
            + (d.gradeMoves.isEmpty ? "" : "  (" + d.gradeMoves.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
    )
    print("grades after: " + d.grades.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    print("persona changes: \(d.personaChanged)")
    print("would become MQL now: \(d.newMQLs)" + (d.newMQLSample.isEmpty ? "" : "  e.g. " + d.newMQLSample.prefix(10).joined(separator: ", ")))
    print("qualify now but would not under this model: \(d.stopQualifying)")
}
