import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Anonymise contacts without activity for N months (the setting privacy.retention_months); --dry-run lists them.",
        discussion: """
            A contact is due when it has had no touch, stage move or handover since the cutoff, no open handover and no \
            open deal. Each is anonymised through the erasure (`contacts erase`): its figures stay, its personal data goes. \
            The server runs this once a day when the setting is above 0.
            """
    )
    @OptionGroup var workspace: WorkspaceOptions
    @Flag(help: "Only say who is due; change nothing.") var dryRun = false
    @Option(help: "Months without activity (default: the setting privacy.retention_months).") var months: Int?
    @Option(help: "At most this many contacts in this run.") var limit = 100_000

    func validate() throws {
        if let months, !WorkspaceSettingKey.retentionMonthsRange.contains(months) { throw ValidationError("--months must be from 0 to 600") }
        guard (1...10_000_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 10000000") }
    }

    func run() async throws {
        let store = try await workspace.openFunnel()
        let connections = dryRun ? nil : try? await workspace.connections().1
        let progress: @Sendable (Int, Int) -> Void = { done, due in
            if done % 500 == 0 { FileHandle.standardError.write(Data("anonymised \(done) of \(due) so far\n".utf8)) }
        }
        let report = try await RetentionRun.run(
            store, months: months, now: SystemClock().now(), dryRun: dryRun, limit: limit, actor: .cli, connections: connections, progress: progress
        )
        if workspace.json { return try printJSON(report) }
        guard let cutoff = report.cutoff else {
            return print("retention is off (privacy.retention_months is 0); give --months N to try a value")
        }
        let verb = dryRun ? "would anonymise" : "anonymised"
        print("\(verb) \(dryRun ? report.due : report.anonymised) contact(s) without activity since \(cutoff.utcDate.text) (\(report.months) months)")
        for c in report.sample.prefix(20) { print("  \(c.contactID)\tlast activity \(c.lastActivity.utcDate.text)") }
        if report.due > 20 { print("  … \(report.due - 20) more") }
        for v in report.vendorsLeft { print("\(v.connection) \(v.object) \(v.externalID): \(v.outcome.rawValue) — \(v.message)") }
    }
}
