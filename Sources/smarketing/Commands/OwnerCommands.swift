import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing owners show|set`: who acts on each lifecycle step, KPI and target (a small RACI).
struct OwnersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owners",
        abstract: "Who owns each lifecycle step, KPI and target: team, responsible, accountable, consulted, informed.",
        subcommands: [Show.self, Change.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every subject and its owner (the default subcommand).")
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let owners = try await storeCall { try await workspace.openFunnel().owners() }
            if workspace.json { return try printJSON(owners) }
            for o in owners {
                let raci = [o.accountable.map { "A: \($0)" }, o.consulted.isEmpty ? nil : "C: " + o.consulted.joined(separator: ","), o.informed.isEmpty ? nil : "I: " + o.informed.joined(separator: ",")]
                    .compactMap { $0 }.joined(separator: "  ")
                print(
                    o.subject.padding(toLength: 30, withPad: " ", startingAt: 0) + o.shortText.padding(toLength: 34, withPad: " ", startingAt: 0) + raci
                        + (o.isDefault ? " (default)" : "")
                )
            }
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Set a subject's owner (audited); \"\" clears a person.")
        @Argument(help: "The subject, e.g. kpi.mqls or step.mql_to_sal (see `smarketing owners`).") var subject: String
        @Option(help: "marketing, sales or revops.") var team: String?
        @Option(help: "The responsible user's id.") var responsible: String?
        @Option(help: "The accountable user's id.") var accountable: String?
        @Option(help: "Consulted user ids, comma-separated.") var consulted: String?
        @Option(help: "Informed user ids, comma-separated.") var informed: String?
        @Option(help: "Who changes it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            func list(_ s: String?) -> [String]? {
                s.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            }
            let o = try await storeCall {
                try await workspace.openFunnel().setOwner(
                    OwnerChange(subject: subject, team: team, responsible: responsible, accountable: accountable, consulted: list(consulted), informed: list(informed)),
                    actor: Actor(userID: author ?? ProcessInfo.processInfo.environment["USER"] ?? "cli", role: .admin, via: "cli"),
                    at: SystemClock().now()
                )
            }
            if workspace.json { return try printJSON(o) }
            print("\(o.subject): \(o.shortText)")
        }
    }
}
