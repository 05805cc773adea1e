import ArgumentParser
import Foundation
import SmarketingCore
import SmarketingStore

/// An output file, or standard output; written in large chunks.
/// Used from one task at a time (the store calls back synchronously inside its read).
final class CSVOutput: @unchecked Sendable {
    let handle: FileHandle
    var buffer = Data()

    init(path: String?) throws {
        if let path {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw CLIFailure("cannot write \(path)")
            }
            handle = h
        } else {
            handle = FileHandle.standardOutput
        }
    }

    func row(_ fields: [String]) {
        buffer.append(contentsOf: (fields.map(KPIText.csvField).joined(separator: ",") + "\n").utf8)
        if buffer.count > 1 << 20 { flush() }
    }

    func flush() {
        handle.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// `smarketing export kpis`: the KPI set as long-format CSV (or JSON), for one period or each
/// month of a range — the file a BI tool loads.
struct ExportKPIs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kpis",
        abstract: "Write the KPI set (long format: one row per cut value, period and figure) for a period or for each month of it."
    )
    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json }
    enum Grain: String, ExpressibleByArgument, CaseIterable { case period, month }

    @Option(help: "First day (YYYY-MM-DD; default: the first day of the current quarter).") var from: String?
    @Option(help: "Day after the last (YYYY-MM-DD, exclusive; default: the end of --from's quarter).") var to: String?
    @Option(help: "Cuts, comma-separated: channel, campaign, persona, segment, owner, team.") var by: String?
    @Option(help: "period: one KPI set for [--from, --to); month: one per calendar month in it.") var grain: Grain = .period
    @Option(help: "csv (long format) or json (an array of smarketing-kpis/1 documents).") var format: Format = .csv
    @Option(help: "Write to this file instead of standard output.") var out: String?
    @OptionGroup var workspace: WorkspaceOptions

    func run() async throws {
        let query = try await KPI.query(from: from, to: to, by: by, workspace: workspace)
        let periods = grain == .month ? query.period.monthly : [query.period]
        let store = try await workspace.openFunnel()
        let output = try CSVOutput(path: out)
        var reports: [KPIReport] = []
        for (i, p) in periods.enumerated() {
            var q = query
            q.period = p
            let report = try await store.kpis(q)
            if format == .json {
                reports.append(report)
                continue
            }
            if i == 0 { output.row(KPIText.csvHeader) }
            for row in try KPIText.csvRows(report) { output.row(row) }
        }
        if format == .json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            output.buffer.append(try encoder.encode(reports))
            output.buffer.append(contentsOf: "\n".utf8)
        }
        output.flush()
        if let out { FileHandle.standardError.write(Data("wrote \(periods.count) KPI set(s) to \(out)\n".utf8)) }
    }
}

/// `smarketing export facts`: the per-record facts the KPI aggregates are built from.
struct ExportFacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facts",
        abstract: "Write the per-record KPI facts (contacts, opportunities or costs) as CSV: what every figure is computed from, one row per record."
    )
    enum Format: String, ExpressibleByArgument, CaseIterable { case csv }

    @Option(help: "contacts, opportunities or costs.") var kind: String = "contacts"
    @Option(help: "csv.") var format: Format = .csv
    @Option(help: "Write to this file instead of standard output.") var out: String?
    @OptionGroup var workspace: WorkspaceOptions

    func run() async throws {
        guard let k = KPIFactsKind(rawValue: kind) else { throw CLIFailure("--kind takes contacts, opportunities or costs, not \(kind)") }
        let store = try await workspace.openFunnel()
        let output = try CSVOutput(path: out)
        output.row(k.header)
        let progress = ProgressReporter(quiet: workspace.json || out == nil)
        let counter = Counter()
        let n = try await store.kpiFacts(k) { fields in
            output.row(fields)
            progress.update("exporting \(k.rawValue) facts", counter.next())
        }
        output.flush()
        progress.finish()
        if let out { FileHandle.standardError.write(Data("wrote \(n) \(k.rawValue) facts to \(out)\n".utf8)) }
    }
}

/// A counter a synchronous callback can bump.
final class Counter: @unchecked Sendable {
    private var n = 0
    func next() -> Int {
        n += 1
        return n
    }
}
