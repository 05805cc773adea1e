import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing campaign review ID`: a campaign's joint review — figures, lead quality, notes and
/// the decision — and `--note` to add to it.
struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "A campaign's joint review: figures, sales' ratings of its leads, both teams' notes and the decision.",
        subcommands: [Review.self]
    )

    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a campaign's review; with --note, add a note (and --decision) first.")
        @Argument(help: "The campaign id.") var id: String
        @Option(help: "First day (YYYY-MM-DD; default: the current quarter's first).") var from: String?
        @Option(help: "Day after the last (exclusive).") var to: String?
        @Option(help: "The attribution model of the attributed revenue and ROMI.") var model = "linear"
        @Option(help: "A note to add.") var note: String?
        @Option(help: "continue, change or stop (with --note).") var decision: String?
        @Option(help: "Who writes the note (a user id; default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            guard let m = AttributionModel(rawValue: model) else { throw CLIFailure("--model \(model.prefix(40)) is not an attribution model") }
            let d = try decision.map { text -> CampaignNote.Decision in
                guard let d = CampaignNote.Decision(rawValue: text) else { throw CLIFailure("--decision must be continue, change or stop, not \(text.prefix(40))") }
                return d
            }
            if d != nil, note == nil { throw CLIFailure("--decision goes with a --note that says why") }
            let period = try await KPI.query(from: from, to: to, by: nil, workspace: workspace).period
            let store = try await workspace.openFunnel()
            if let note {
                _ = try await storeCall {
                    try await store.addCampaignNote(
                        campaignID: id, text: note, decision: d,
                        actor: Actor(userID: author ?? ProcessInfo.processInfo.environment["USER"] ?? "cli", role: .admin, via: "cli"), at: SystemClock().now()
                    )
                }
            }
            let r = try await storeCall { try await CampaignReview.read(store, campaignID: id, period: period, model: m) }
            if workspace.json { return try printJSON(r) }
            let zone = try await workspace.displayZone()
            let f = r.figures
            func pct(_ x: Double?) -> String { x.map { String(format: "%.1f %%", $0 * 100) } ?? "–" }
            print("\(r.name ?? r.campaignID) (\(r.campaignID)), \(r.period.from) – \(r.period.to)")
            print("  spend \(FieldValue.format(f.spend)), leads \(f.leads), MQLs \(f.mqls), cost per MQL \(f.costPerMql.map { FieldValue.format(($0 * 100).rounded() / 100) } ?? "–")")
            print("  MQL acceptance \(pct(f.mqlAcceptance)), MQL → opportunity \(pct(f.mqlToOpportunity)), won revenue \(FieldValue.format(f.wonRevenue))")
            print("  attributed (\(f.model)) \(f.attributedRevenue.map { FieldValue.format($0.rounded()) } ?? "–"), ROMI \(pct(f.romi))")
            if let q = r.leadQuality {
                print("  lead quality: \(q.rated) of \(q.answered) answered leads rated, \(pct(q.goodShare)) good, \(pct(q.rejectionRate)) rejected")
            } else {
                print("  lead quality: sales answered none of its leads in the period")
            }
            print("  decision: \(r.decision.map { "\($0.decision?.rawValue ?? "") (\($0.authorName ?? $0.author), \(LocalTime.minute($0.createdAt, in: zone)))" } ?? "none yet")")
            for n in r.notes {
                print("  - \(LocalTime.minute(n.createdAt, in: zone)) \(n.authorName ?? n.author)\(n.decision.map { " [\($0.rawValue)]" } ?? ""): \(n.text)")
            }
        }
    }
}
