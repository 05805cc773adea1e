import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing settings show|set`: the workspace settings its owners change.
struct SettingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "The workspace's settings: time zone, currency, fiscal year, week start, SLA hours, stale days, attribution defaults.",
        subcommands: [Show.self, Change.self]
    )

    /// What `--json` prints: the version and every key's value.
    struct Listing: Encodable {
        var version: Int
        var settings: [String: String]
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every setting (or one), its value and what it means.")
        @Argument(help: "One setting's key (default: all).") var key: String?
        @OptionGroup var workspace: WorkspaceOptions

        func validate() throws {
            if let key, WorkspaceSettingKey(rawValue: key) == nil {
                throw ValidationError(WorkspaceSettingKey.unknown(key))
            }
        }

        func run() async throws {
            let current = try await storeCall { try await workspace.openFunnel().workspaceSettings() }
            let keys = key.flatMap(WorkspaceSettingKey.init(rawValue:)).map { [$0] } ?? WorkspaceSettingKey.allCases
            if workspace.json {
                return try printJSON(Listing(version: current.version, settings: Dictionary(uniqueKeysWithValues: keys.map { ($0.rawValue, current.settings[$0]) })))
            }
            let width = keys.map(\.rawValue.count).max() ?? 0
            for k in keys {
                let value = current.settings[k]
                let note = value == k.defaultValue ? " (default)" : ""
                print(k.rawValue.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value + note + "  — " + k.summary)
            }
            if key == nil { print("settings version \(current.version)") }
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Change a setting (checked, audited, versioned; a new time zone or SLA hours rebuilds the KPI aggregates)."
        )
        @Argument(help: "The setting's key (see `smarketing settings show`).") var key: String
        @Argument(help: "The new value.") var value: String
        @Option(help: "Refuse the change unless the settings are still at this version.") var ifVersion: Int?
        @Option(help: "Who changes it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func validate() throws {
            guard let k = WorkspaceSettingKey(rawValue: key) else {
                throw ValidationError(WorkspaceSettingKey.unknown(key))
            }
            if case .failure(let problem) = k.normalize(value) { throw ValidationError(problem.description) }
            if let ifVersion, ifVersion < 0 { throw ValidationError("--if-version must be 0 or more") }
        }

        func run() async throws {
            let who = author ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
            let result = try await storeCall {
                try await workspace.openFunnel().changeSettings(
                    [key: value],
                    ifVersion: ifVersion,
                    actor: Actor(userID: who, role: .admin, via: "cli"),
                    at: SystemClock().now()
                ) { p in
                    // A new zone or SLA rebuilds the KPI aggregates: say how far it is (stderr).
                    let line = p.phase == "contacts" && p.total > 0 ? "rebuilding KPI aggregates: \(p.done) of \(p.total) contacts" : "rebuilding KPI aggregates: \(p.phase)"
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            }
            if workspace.json {
                return try printJSON(Listing(version: result.settings.version, settings: [key: result.settings.settings[WorkspaceSettingKey(rawValue: key) ?? .timeZone]]))
            }
            guard let change = result.changes.first else {
                return print("nothing changed: \(key) is already \(result.settings.settings[WorkspaceSettingKey(rawValue: key) ?? .timeZone])")
            }
            print(
                "\(change.key.rawValue): \(change.old) → \(change.new) (settings version \(result.settings.version))"
                    + (result.rebuiltAggregates ? "; the KPI aggregates were rebuilt for it" : "")
            )
        }
    }
}
