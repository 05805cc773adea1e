import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension Scoring {
    struct BacktestCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backtest",
            abstract:
                "Replay stored history through a model and the active one, side by side: AUC, precision/recall per threshold, lift, the threshold sales capacity allows. Changes nothing."
        )
        @Argument(help: "The candidate model file (YAML).") var file: String
        @Option(help: "First creation day of the contacts replayed (default: the earliest).") var from: String?
        @Option(help: "End of the replay, exclusive (default: just after the latest touch or creation).") var to: String?
        @Option(help: "What counts as success: opportunity or won.") var target = "opportunity"
        @Option(help: "How soon after creation the target must be reached (e.g. 90d, 12w).") var horizon = "90d"
        @Option(help: "MQLs sales can take per week (default: the sum of the sales users' capacity).") var capacity: Double?
        @Option(help: "Write contact_id,score,label of the candidate model to this CSV file.") var csv: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let (_, model) = try readModel(file, json: workspace.json)
            guard let target = BacktestTarget(rawValue: target) else { throw CLIFailure("--target must be opportunity or won, not \"\(self.target)\"") }
            guard let horizonMs = ScoringModel.duration(horizon) else { throw CLIFailure("--horizon \"\(horizon)\" is not a duration such as 90d or 12w") }
            let store = try await workspace.openPortable()
            let started = DispatchTime.now().uptimeNanoseconds
            let candidateScorer = try await store.candidateScorer(model, version: 0)
            var activeScorer: Scorer?
            if let active = try await store.activeScoringVersion(), let activeModel = ScoringModelFile.parser(active.text) {
                activeScorer = try await store.candidateScorer(activeModel, version: active.version)
            }
            let contacts = try await store.backtestContacts(
                target: target,
                attributes: candidateScorer.attributes.union(activeScorer?.attributes ?? [])
            )
            guard let period = SmarketingCore.Backtest.period(of: contacts) else { throw CLIFailure("the workspace has no contacts to backtest") }
            let fromT = try from.map { try dateOrInstant($0, "--from") } ?? period.from
            let toT = try to.map { try dateOrInstant($0, "--to") } ?? period.to
            guard fromT < toT else { throw CLIFailure("--from must be before --to") }
            if let capacity, !(1...1_000_000).contains(capacity) { throw CLIFailure("--capacity must be a number from 1 to 1000000") }
            var weekly = capacity
            if weekly == nil { weekly = try await store.salesCapacity() }
            let options = BacktestOptions(from: fromT, to: toT, horizon: horizonMs, weeklyCapacity: weekly)
            var candidate = SmarketingCore.Backtest.run(contacts, scorer: candidateScorer, options: options)
            candidate.modelVersion = nil
            var current: BacktestReport?
            if let activeScorer {
                var r = SmarketingCore.Backtest.run(contacts, scorer: activeScorer, options: options)
                r.modelVersion = activeScorer.version
                current = r
            }
            var ratings: (candidate: RatingBacktest, current: RatingBacktest?)?
            if let rituals = store as? any RitualStore {
                ratings = try await LeadQualityReads.backtest(rituals, contacts: contacts, candidate: candidateScorer, active: activeScorer)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            if let csv {
                var out = "contact_id,score,label\n"
                for s in candidate.scores { out += KPIText.csvField(s.contactID) + ",\(s.score),\(s.label ? 1 : 0)\n" }
                do { try out.write(toFile: csv, atomically: true, encoding: .utf8) } catch {
                    throw CLIFailure("cannot write \(csv): \(error.localizedDescription)")
                }
            }
            if workspace.json {
                struct Out: Encodable {
                    var from: String
                    var to: String
                    var target: String
                    var horizonDays: Double
                    var weeklyCapacity: Double?
                    var seconds: Double
                    var candidate: BacktestJSON
                    var current: BacktestJSON?
                    var ratingsCandidate: RatingBacktest?
                    var ratingsCurrent: RatingBacktest?
                }
                return try printJSON(
                    Out(
                        from: fromT.iso8601,
                        to: toT.iso8601,
                        target: target.rawValue,
                        horizonDays: Double(horizonMs) / 86_400_000,
                        weeklyCapacity: weekly,
                        seconds: seconds,
                        candidate: BacktestJSON(candidate),
                        current: current.map(BacktestJSON.init),
                        ratingsCandidate: ratings?.candidate,
                        ratingsCurrent: ratings?.current
                    )
                )
            }
            print(
                "backtest \(fromT.iso8601) – \(toT.iso8601), target \(target.rawValue) within \(horizon); \(contacts.count) contacts read, \(String(format: "%.2f", seconds)) s"
            )
            print("weekly MQL capacity: \(weekly.map { FieldValue.format($0) } ?? "unknown (no sales users with a capacity; --capacity sets it)")")
            printReport("candidate (\(file))", candidate)
            if let current { printReport("active model (version \(current.modelVersion!))", current) } else { print("\nno active model to compare with") }
            if let ratings {
                func line(_ name: String, _ r: RatingBacktest) -> String {
                    "\(name): would send \(r.sentBad) of \(r.bad) leads sales rated bad and \(r.sentGood) of \(r.good) rated good (bad share of sent \(pct(r.badShareOfSent).trimmingCharacters(in: .whitespaces)); \(r.goodMissed) good missed)"
                }
                print("\n== lead-quality ratings (\(ratings.candidate.rated) rated leads, replayed to their handover)")
                print(line("candidate", ratings.candidate))
                if let current = ratings.current { print(line("active model", current)) }
            } else {
                print("\nno lead-quality ratings yet: the ratings check runs once sales rates leads (inbox, lead page, `handover rate`)")
            }
            if let csv { print("\nwrote \(candidate.scores.count) rows to \(csv)") }
        }

    }
}

func pct(_ x: Double?) -> String { x.map { String(format: "%5.1f%%", $0 * 100) } ?? "    –" }

func printReport(_ title: String, _ r: BacktestReport) {
    print("\n== \(title)")
    print(
        "contacts \(r.contacts): labelled \(r.labelled) (positive \(r.positives)), censored \(r.censored), converted at creation \(r.convertedAtStart); \(r.weeks) weeks"
    )
    print("ROC AUC: \(r.auc.map { String(format: "%.4f", $0) } ?? "– (needs positives and negatives)")")
    print("threshold   MQLs  per week  max/week  precision  recall")
    func row(_ name: String, _ t: ThresholdResult) {
        print(
            name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " %6d  %8.1f  %8d", t.mqls, t.mqlsPerWeek, t.maxMQLsPerWeek)
                + "     \(pct(t.precision))  \(pct(t.recall))"
        )
    }
    for t in r.thresholds { row(FieldValue.format(t.threshold ?? 0), t) }
    row("MQL rule", r.rule)
    if let rec = r.recommended {
        print(
            "best recall within capacity: threshold \(FieldValue.format(rec.threshold ?? 0)) (recall \(pct(rec.recall)), precision \(pct(rec.precision)), \(String(format: "%.1f", rec.mqlsPerWeek)) MQLs/week)"
        )
    } else {
        print("best recall within capacity: – (capacity unknown or no threshold fits)")
    }
    print("decile  contacts  positives  min score  conversion  lift")
    for d in r.lift {
        print(
            String(format: "%6d  %8d  %9d  %9.1f  ", d.decile, d.contacts, d.positives, d.minScore)
                + "  \(pct(d.conversionRate))  \(d.lift.map { String(format: "%.2f", $0) } ?? "–")"
        )
    }
}

struct Score: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A contact's score.", subcommands: [Explain.self])

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Why a contact has its grade and engagement: every fit rule, every engagement rule's points, caps and decay, stage history."
        )
        @Argument(help: "The contact id.") var contact: String
        @Option(help: "The moment \"now\" stands for (ISO 8601; default: the current time).") var at: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let now = try instant(at)
            guard let e = try await workspace.openPortable().scoreExplanation(contactID: contact, at: now) else {
                throw CLIFailure("no contact \"\(contact)\"")
            }
            if workspace.json { return try printJSON(ScoreJSON(e)) }
            let zone = try await workspace.displayZone()
            print("contact \(e.contactID) — stage \(e.stage ?? "(none)"), model version \(e.version), at \(LocalTime.minute(e.at, in: zone))")
            print("\nfit \(FieldValue.format(e.fitPoints)) → grade \(e.grade)")
            for f in e.fit {
                print(
                    "  \(f.matched ? "✔" : "·") \(f.ruleID.padding(toLength: 22, withPad: " ", startingAt: 0)) \(f.attribute) = \(f.value ?? "(empty)")  \(f.matched ? "+" + FieldValue.format(f.points) : "")"
                )
            }
            print("persona: \(e.personaID ?? "(none)")" + (e.personaReasons.isEmpty ? "" : " — " + e.personaReasons.joined(separator: "; ")))
            print("\nengagement now \(String(format: "%.1f", e.engagement))")
            print("  rule                    count    raw  capped away  granted  half-life  now")
            for p in e.engagementParts {
                print(
                    "  " + p.rule.padding(toLength: 22, withPad: " ", startingAt: 0)
                        + String(
                            format: " %5d  %5.0f  %11.0f  %7.0f  %7.1fd  %5.1f",
                            p.count,
                            p.rawPoints,
                            p.cappedAway,
                            p.grantedPoints,
                            p.halfLifeDays,
                            p.contributionNow
                        )
                )
            }
            print("\nMQL rule: \(e.mqlRule) — \(e.qualifies ? "holds now" : "does not hold now")")
            print("\nstage history:")
            if e.transitions.isEmpty { print("  (none)") }
            for t in e.transitions {
                print(
                    "  \(LocalTime.minute(t.at, in: zone))  \(t.from ?? "—") → \(t.to)  by \(t.actor)\(t.modelVersion.map { " (model v\($0))" } ?? "")\(t.reason.map { ": " + $0 } ?? "")"
                )
            }
            print("\nscore history:")
            for h in e.history.suffix(20) {
                print(
                    "  \(LocalTime.minute(h.at, in: zone))  v\(h.version)  grade \(h.grade)  fit \(FieldValue.format(h.fit))  engagement \(String(format: "%.1f", h.engagement))  (\(h.event))"
                )
            }
        }
    }
}
