import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension KPI {
    /// `smarketing kpi config validate|diff|apply|show`: the KPIs as code (`kpis.yaml`).
    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "kpis.yaml: targets, thresholds, owners and custom KPIs — validate, diff, apply (versioned), show.",
            subcommands: [Validate.self, Diff.self, Apply.self, Show.self]
        )

        struct Validate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Check a KPI file; prints every problem with line and column.")
            @Argument(help: "The file, e.g. examples/kpis.yaml.") var file: String
            @Flag(help: "Machine-readable JSON output.") var json = false

            func run() async throws {
                let (_, c) = try readYAMLFile(file, json: json, what: "the KPI file", KPIConfigFile.read)
                if json { return try printJSON(["valid": "true", "kpis": String(c.builtins.count), "custom": String(c.custom.count)]) }
                print("\(file) is valid: \(c.builtins.count) built-in KPI(s) configured, \(c.custom.count) custom KPI(s)")
            }
        }

        struct Diff: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "What applying a KPI file would change against the active one.")
            @Argument(help: "The file.") var file: String
            @OptionGroup var workspace: WorkspaceOptions

            func run() async throws {
                let (_, c) = try readYAMLFile(file, json: workspace.json, what: "the KPI file", KPIConfigFile.read)
                let store = try await workspace.openFunnel()
                let lines = KPIConfigReads.diff(try await storeCall { try await KPIConfigReads.active(store)?.config }, c)
                if workspace.json { return try printJSON(["changes": lines]) }
                print(lines.isEmpty ? "no changes" : lines.joined(separator: "\n"))
            }
        }

        struct Apply: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Apply a KPI file as the new version (audited; its owners become the KPIs' responsible people).")
            @Argument(help: "The file.") var file: String
            @Option(help: "Why (kept with the version).") var comment = ""
            @Option(help: "Who applies it (default: the login name).") var author: String?
            @OptionGroup var workspace: WorkspaceOptions

            func run() async throws {
                let (text, _) = try readYAMLFile(file, json: workspace.json, what: "the KPI file", KPIConfigFile.read)
                let v = try await storeCall {
                    try await KPIConfigReads.apply(
                        try await workspace.openFunnel(), text: text, comment: comment,
                        actor: Actor(userID: author ?? ProcessInfo.processInfo.environment["USER"] ?? "cli", role: .admin, via: "cli"), at: SystemClock().now()
                    )
                }
                if workspace.json { return try printJSON(v) }
                print("KPI file version \(v.version) is active")
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the active KPI file and the versions.")
            @OptionGroup var workspace: WorkspaceOptions

            func run() async throws {
                let store = try await workspace.openFunnel()
                let versions = try await storeCall { try await store.kpiConfigVersions() }
                guard let (v, text) = try await store.activeKPIConfigText() else {
                    print("no KPI file applied yet: `smarketing kpi config apply examples/kpis.yaml`")
                    return
                }
                if workspace.json { return try printJSON(["version": String(v.version), "text": text]) }
                let zone = try await workspace.displayZone()
                print("# version \(v.version), applied \(LocalTime.minute(v.appliedAt, in: zone)) by \(v.author)\(v.comment.isEmpty ? "" : ": " + v.comment)")
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
                print("# \(versions.count) version(s)")
            }
        }
    }

    /// `smarketing kpi custom`: the custom KPIs of the active file for a period.
    struct Custom: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The custom KPIs of the active kpis.yaml for [--from, --to), beside the previous period, with their status.")
        @Option(help: "First day (YYYY-MM-DD; default: the current quarter's first).") var from: String?
        @Option(help: "Day after the last (exclusive).") var to: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let period = try await KPI.query(from: from, to: to, by: nil, workspace: workspace).period
            let values = try await storeCall { try await KPIConfigReads.custom(try await workspace.openFunnel(), period: period) }
            if workspace.json { return try printJSON(values) }
            if values.isEmpty { print("no custom KPIs: apply a kpis.yaml with a `custom` section (examples/kpis.yaml)") }
            let currency = try await workspace.openFunnel().workspaceSettings().settings.currency
            for v in values {
                print(
                    v.label.padding(toLength: 44, withPad: " ", startingAt: 0) + " " + AgendaText.value(v.current, v.unit, currency)
                        + "  (previous " + AgendaText.value(v.previous, v.unit, currency) + ")" + (v.status.map { "  " + $0 } ?? "")
                        + (v.filter.map { "  [" + $0 + "]" } ?? "")
                )
            }
        }
    }
}
