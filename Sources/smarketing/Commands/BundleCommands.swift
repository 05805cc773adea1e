import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a realistic demo workspace as a bundle.")

    @Option(help: "Number of leads (contacts).") var leads = 10_000
    @Option(help: "Random seed; the same seed gives the same bundle.") var seed: UInt64 = 1
    @Option(help: "Directory to write the bundle into.") var out: String
    @Flag(help: "Machine-readable JSON output.") var json = false

    func validate() throws {
        guard leads >= 1, leads <= 20_000_000 else { throw ValidationError("--leads must be between 1 and 20000000") }
    }

    func run() async throws {
        let started = Date()
        let progress = ProgressReporter(quiet: json)
        let summary = try DemoWorkspace(leads: leads, seed: seed).write(to: out) { progress.update($0, 0) }
        progress.finish()
        if json {
            try printJSON(summary)
        } else {
            print("wrote a demo bundle to \(out) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s:")
            print(
                "  \(summary.contacts) contacts, \(summary.accounts) accounts, \(summary.touchpoints) touchpoints, \(summary.opportunities) opportunities, \(summary.campaigns) campaigns, \(summary.costs) cost rows, \(summary.users) users"
            )
        }
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Import data.", subcommands: [ImportBundle.self, ImportCSV.self])
}

struct ImportBundle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Import a bundle directory (idempotent; all or nothing unless --skip-invalid)."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "The bundle directory.") var directory: String
    @Flag(help: "Import the valid rows and write the rejected ones to a report.") var skipInvalid = false
    @Option(help: "Where --skip-invalid writes rejected rows (CSV).") var report = "import-rejected.csv"

    func run() async throws {
        let store = try await workspace.openPortable()
        let summary = try await importBundle(directory, into: store, skipInvalid: skipInvalid, report: report, json: workspace.json)
        if !summary.committed {
            throw CLIFailure(
                "nothing was imported: the bundle has \(summary.problems.count + summary.moreProblems) problem(s), listed above; fix them or use --skip-invalid"
            )
        }
    }
}

struct ImportCSV: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csv",
        abstract: "Import a vendor's CSV export (--preset) or any spreadsheet (--map) with one record per person.",
        discussion: "Presets: " + CSVPreset.all.map(\.name).joined(separator: ", ") + ". All or nothing unless --skip-invalid."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "The CSV file.") var file: String
    @Option(help: "A vendor export preset.") var preset: String?
    @Option(help: "A column mapping file (YAML: object, source, columns).") var map: String?
    @Flag(help: "Import the valid rows and list the rejected ones.") var skipInvalid = false

    func validate() throws {
        guard (preset == nil) != (map == nil) else { throw ValidationError("give either --preset NAME or --map FILE") }
        if let p = preset, CSVPreset.named(p) == nil {
            throw ValidationError("unknown preset \"\(p)\"; known: " + CSVPreset.all.map(\.name).joined(separator: ", "))
        }
    }

    func run() async throws {
        let chosen: CSVPreset
        if let p = preset, let found = CSVPreset.named(p) {
            chosen = found
        } else {
            let path = map ?? ""
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIFailure("cannot read the mapping file \(path)") }
            switch CSVMappingFile.read(text) {
            case .success(let m): chosen = m
            case .failure(let problems):
                for p in problems.problems { FileHandle.standardError.write(Data("\(path):\(p.line):\(p.column): \(p.message)\n".utf8)) }
                throw CLIFailure("the mapping file \(path) has \(problems.problems.count) problem(s), listed above")
            }
        }
        let store = try await workspace.openFunnel()
        defer { WorkspaceStores.close(store) }
        let progress = ProgressReporter(quiet: workspace.json)
        let report = try await connectionCall {
            try await CSVImporter(store: store, clock: SystemClock()).run(path: file, preset: chosen, skipInvalid: skipInvalid, actor: .cli) {
                progress.update("importing \(file)", $0)
            }
        }
        progress.finish()
        try await (store as? SQLiteStore)?.checkpoint()
        for p in report.rejected.prefix(1000) { FileHandle.standardError.write(Data("\(file):\(p.line):\(p.column): \(p.field): \(p.message)\n".utf8)) }
        if workspace.json {
            try printJSON(report)
        } else {
            let c = report.counts
            print("\(report.rows) rows: created \(c.created), updated \(c.updated), unchanged \(c.unchanged), linked to an existing record \(c.linked), merged \(c.merged), skipped \(c.skipped), rejected \(report.rejected.count)")
            for s in report.skipped.prefix(20) { print("  skipped \(s.externalID): \(s.reason)") }
            if !report.unusedColumns.isEmpty { print("  columns not read: " + report.unusedColumns.prefix(20).joined(separator: ", ")) }
        }
        if !report.committed {
            throw CLIFailure("nothing was imported: \(report.rejected.count) row(s) have problems, listed above; fix them or use --skip-invalid")
        }
    }
}

/// Imports a bundle and prints the summary; shared by `import bundle` and `serve --demo`.
func importBundle(
    _ directory: String,
    into store: any PortableStore,
    skipInvalid: Bool,
    report: String?,
    json: Bool,
    quiet: Bool = false
) async throws -> ImportReport {
    let readers: [any RowSource]
    do {
        readers = try Bundle.openReadingAhead(directory)
    } catch {
        throw CLIFailure("cannot import \(directory): \(error.description)")
    }
    let progress = ProgressReporter(quiet: json || quiet)
    let started = Date()
    let result = try await store.importRows(
        readers,
        options: ImportOptions(skipInvalid: skipInvalid),
        actor: .cli,
        at: SystemClock().now()
    ) { p in progress.update("importing \(p.file)", p.rows, fraction: p.fraction) }
    progress.finish()
    try await store.afterBulkLoad()
    for p in result.problems { FileHandle.standardError.write(Data((p.description + "\n").utf8)) }
    if result.moreProblems > 0 {
        FileHandle.standardError.write(Data("… and \(result.moreProblems) more problems not listed\n".utf8))
    }
    if skipInvalid, let report, !result.rejectedRows.isEmpty {
        let writer = try CSVWriter(path: report)
        writer.write(["file", "line", "column", "column_name", "problem", "row"])
        for (p, raw) in result.rejectedRows {
            writer.write([p.file, String(p.line), String(p.column), p.columnName ?? "", p.message, raw.joined(separator: ",")])
        }
        try writer.close()
    }
    if json {
        struct Out: Encodable {
            var committed: Bool
            var seconds: Double
            var files: [FileSummary]
            var problems: [BundleProblem]
            var mergedContacts: Int
        }
        try printJSON(
            Out(
                committed: result.committed,
                seconds: Date().timeIntervalSince(started),
                files: result.files,
                problems: result.problems,
                mergedContacts: result.mergedContacts
            )
        )
    } else if !quiet {
        print("file                            rows   inserted    updated  unchanged   rejected     merged")
        for f in result.files {
            print(
                f.file.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + [f.rows, f.inserted, f.updated, f.unchanged, f.rejected, f.mergedAway].map { String($0).leftPad(11) }.joined()
            )
            for w in f.warnings { print("  warning: \(w)") }
        }
        if result.mergedContacts > 0 {
            print("merged \(result.mergedContacts) contact(s) into an earlier contact with the same email (one record per person; see the audit log)")
        }
        print(String(format: "%@ in %.1f s", result.committed ? "imported" : "nothing imported", Date().timeIntervalSince(started)))
        if skipInvalid, !result.rejectedRows.isEmpty, let report { print("rejected rows with reasons: \(report)") }
    }
    // Imported rows are not scored one by one: with a model active, everyone is rescored once.
    if result.committed, let scoring = store as? any ScoringStore {
        let rescore = ProgressReporter(quiet: json || quiet)
        if let r = try await scoring.rescoreAll(
            actor: .cli,
            at: SystemClock().now(),
            progress: { p in
                rescore.update("scoring", p.done, fraction: Double(p.done) / Double(max(1, p.total)))
            }
        ) {
            rescore.finish()
            if !json, !quiet {
                print(String(format: "scored %d contacts under model version %d in %.1f s (%d became MQL)", r.rescored, r.version, r.seconds, r.movedToMQL))
            }
        }
    }
    return result
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export data.", subcommands: [ExportBundle.self, ExportKPIs.self, ExportFacts.self])
}

struct ExportBundle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bundle", abstract: "Write the workspace as a bundle directory.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "The directory to write (created if missing; files are replaced).") var directory: String

    func run() async throws {
        let store = try await workspace.openPortable()
        let progress = ProgressReporter(quiet: workspace.json)
        let counts = try await Bundle.export(from: store, to: directory) { file, n in progress.update("exporting \(file)", n) }
        progress.finish()
        if workspace.json {
            try printJSON(counts)
        } else {
            for r in Resource.importOrder { print(r.fileName.padding(toLength: 26, withPad: " ", startingAt: 0) + String(counts[r.fileName] ?? 0).leftPad(10)) }
            print("exported to \(directory)")
        }
    }
}
