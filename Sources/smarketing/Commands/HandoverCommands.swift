import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

struct Handover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The handover: routing and SLA configuration, handovers, acceptance, the breach service.",
        subcommands: [
            Validate.self, Apply.self, Versions.self, List.self, Show.self, Accept.self, Qualify.self, Reject.self, Reassign.self, Pause.self,
            Resume.self, Rate.self, RunSLA.self,
        ]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a handover configuration file; prints every problem with line and column.")
        @Argument(help: "The configuration (YAML), e.g. examples/handover.yaml.") var file: String
        @Flag(help: "Machine-readable JSON output.") var json = false

        func run() async throws {
            let (_, c) = try readHandoverConfig(file, json: json)
            if json {
                return try printJSON([
                    "valid": "true", "teams": String(c.teams.count), "calendars": String(c.calendars.count), "policies": String(c.policies.count),
                ])
            }
            print(
                "\(file): valid — \(c.calendars.count) calendars, \(c.teams.count) teams, \(c.router.rules.count) routing rules, \(c.policies.count) SLA policies, \(c.reasons.count) rejection reasons"
            )
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a configuration as the new active version (new MQLs are routed by it).")
        @Argument(help: "The configuration (YAML).") var file: String
        @Option(help: "Why it changes (kept with the version).") var comment = ""
        @Option(help: "Who changes it (default: the login name).") var author: String?
        @Flag(help: "Also route the contacts that are MQL now but have no handover.") var routeWaiting = false
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let (text, config) = try readHandoverConfig(file, json: workspace.json)
            let who = author ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
            let v = try await storeCall {
                try await workspace.openPortable().applyHandoverConfig(
                    text: text,
                    config: config,
                    comment: comment,
                    actor: Actor(userID: who, role: .admin, via: "cli"),
                    at: SystemClock().now()
                )
            }
            let routed = routeWaiting ? try await storeCall { try await workspace.openPortable().routeWaitingMQLs(at: SystemClock().now()) } : 0
            if workspace.json { return try printJSON(v) }
            print("handover configuration version \(v.version) is active" + (routeWaiting ? "; \(routed) waiting MQLs routed" : ""))
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The stored configuration versions.")
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let versions = try await workspace.openPortable().handoverConfigVersions()
            if workspace.json { return try printJSON(versions) }
            if versions.isEmpty { print("no handover configuration has been applied") }
            let zone = try await workspace.displayZone()
            for v in versions { print("v\(v.version)  \(v.active ? "active  " : "        ") \(LocalTime.minute(v.appliedAt, in: zone))  \(v.author)  \(v.comment)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Handovers, newest first.")
        @Option(help: "Only this owner's.") var owner: String?
        @Flag(help: "Only open ones (queued, assigned, accepted).") var open = false
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            var q = HandoverQuery()
            q.ownerID = owner
            q.openOnly = open
            q.limit = limit
            let now = SystemClock().now()
            let list = try await workspace.openPortable().handovers(q, at: now)
            if workspace.json { return try printJSON(list) }
            for h in list { print(line(h, now)) }
            if list.isEmpty { print("no handovers") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One handover: why this owner, its SLA clocks and its history.")
        @Argument(help: "The handover id.") var id: Int64
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let now = SystemClock().now()
            guard let h = try await workspace.openPortable().handover(id: id, at: now) else { throw CLIFailure("there is no handover \(id)") }
            if workspace.json { return try printJSON(h) }
            printHandover(h, now, try await workspace.displayZone())
        }
    }

    struct ActOptions: ParsableArguments {
        @Argument(help: "The handover id.") var id: Int64
        @Option(name: .customLong("as"), help: "The user acting (the owner, their manager).") var user: String
        @Option(help: "A note kept with the answer.") var note: String?
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept a handover: the contact becomes SAL.")
        @OptionGroup var act: ActOptions
        @OptionGroup var workspace: WorkspaceOptions
        func run() async throws { try await answer(.accept, act, workspace) }
    }

    struct Qualify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Qualify a handover: the contact becomes SQL.")
        @OptionGroup var act: ActOptions
        @OptionGroup var workspace: WorkspaceOptions
        func run() async throws { try await answer(.qualify, act, workspace) }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a handover with a reason: recycled or disqualified as the reason says.")
        @OptionGroup var act: ActOptions
        @Option(help: "A reason id of the configuration (bad_fit, no_budget, …).") var reason: String
        @OptionGroup var workspace: WorkspaceOptions
        func run() async throws { try await answer(.reject(reason: reason), act, workspace) }
    }

    struct Rate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rate the lead of an accepted or rejected handover: good or bad, with a reason (a new rating replaces the old)."
        )
        @Argument(help: "The handover id.") var id: Int64
        @Argument(help: "good or bad.") var rating: String
        @Option(help: "Why: right_fit, real_need, budget, good_timing (good); wrong_persona, no_need, no_budget, too_early, bad_data, student_or_competitor, existing_customer (bad); other.")
        var reason: String?
        @Option(name: .customLong("as"), help: "Who rates.") var user = "cli"
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            guard let value = LeadRatingValue(rawValue: rating) else { throw CLIFailure("a rating is good or bad, not \(rating.prefix(40))") }
            let r = try await storeCall {
                try await workspace.openFunnel().rateLead(
                    handoverID: id, rating: value, reason: reason, actor: Actor(userID: user, role: .admin, via: "cli"), at: SystemClock().now()
                )
            }
            if workspace.json { return try printJSON(r) }
            print("handover \(id): lead rated \(r.rating.rawValue)\(r.reason.map { " (\(LeadRatingReasons.label($0)))" } ?? "")")
        }
    }

    struct Reassign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a handover to another rep, or route it again (without --to).")
        @Argument(help: "The handover id.") var id: Int64
        @Option(help: "The new owner (user id).") var to: String?
        @Option(name: .customLong("as"), help: "Who reassigns.") var user = "cli"
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let now = SystemClock().now()
            let h = try await storeCall {
                try await workspace.openPortable().reassignHandover(id: id, to: to, actor: Actor(userID: user, role: .admin, via: "cli"), at: now)
            }
            if workspace.json { return try printJSON(h) }
            printHandover(h, now, try await workspace.displayZone())
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a handover's SLA clocks (the lead waits on the customer).")
        @Argument(help: "The handover id.") var id: Int64
        @Option(name: .customLong("as"), help: "Who pauses.") var user = "cli"
        @OptionGroup var workspace: WorkspaceOptions
        func run() async throws { try await pauseOrResume(id, pause: true, user, workspace) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a handover's SLA clocks; due times move by the paused span.")
        @Argument(help: "The handover id.") var id: Int64
        @Option(name: .customLong("as"), help: "Who resumes.") var user = "cli"
        @OptionGroup var workspace: WorkspaceOptions
        func run() async throws { try await pauseOrResume(id, pause: false, user, workspace) }
    }

    struct RunSLA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sla-run",
            abstract: "Fire every SLA warning and breach due now, once each (what the server's breach service does every second)."
        )
        @Option(help: "The moment \"now\" stands for (ISO 8601; default: the current time).") var at: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let run = try await workspace.openPortable().processDueClocks(now: try instant(at), limit: 500)
            if workspace.json { return try printJSON(run) }
            print(
                "clocks due: \(run.clocksSeen); warnings \(run.warnings), breaches \(run.breaches), reassigned \(run.reassigned), back to queue \(run.requeued); next due: \(run.nextDue?.iso8601 ?? "none")"
            )
        }
    }
}

func pauseOrResume(_ id: Int64, pause: Bool, _ user: String, _ workspace: WorkspaceOptions) async throws {
    let now = SystemClock().now()
    let h = try await storeCall {
        try await workspace.openPortable().pauseHandover(id: id, pause: pause, actor: Actor(userID: user, role: .admin, via: "cli"), at: now)
    }
    if workspace.json { return try printJSON(h) }
    printHandover(h, now, try await workspace.displayZone())
}

func answer(_ action: HandoverAction, _ act: Handover.ActOptions, _ workspace: WorkspaceOptions) async throws {
    let now = SystemClock().now()
    let h = try await storeCall {
        try await workspace.openPortable().actOnHandover(
            id: act.id,
            action: action,
            note: act.note,
            actor: Actor(userID: act.user, role: .sales, via: "cli"),
            at: now
        )
    }
    if workspace.json { return try printJSON(h) }
    printHandover(h, now, try await workspace.displayZone())
}

/// Runs a store call, turning the store's refusals into the CLI's one-sentence failure.
func storeCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as StoreError {
        throw CLIFailure(e.description)
    }
}

func readHandoverConfig(_ file: String, json: Bool) throws -> (String, HandoverConfig) {
    try readYAMLFile(file, json: json, what: "the configuration", HandoverConfigFile.read)
}

/// `1h 05m`, `-2d 3h` (overdue).
func span(_ ms: Int64) -> String {
    let sign = ms < 0 ? "-" : ""
    var m = abs(ms) / 60_000
    let d = m / 1440
    m %= 1440
    if d > 0 { return "\(sign)\(d)d \(m / 60)h" }
    return "\(sign)\(m / 60)h \(String(format: "%02d", m % 60))m"
}

func line(_ h: HandoverView, _ now: Timestamp) -> String {
    let next = h.clocks.filter { $0.status == .running }.min { $0.dueAt < $1.dueAt }
    let due = next.map { "\($0.kind.rawValue) due in \(span($0.remainingMs))" + ($0.business ? " (\(span($0.remainingBusinessMs)) business)" : "") } ?? ""
    return
        "#\(h.id)  \(h.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(h.contactID)  → \(h.ownerID)\(h.queue.map { " [queue \($0)]" } ?? "")  \(h.grade ?? "-")  \(due)"
}

/// A handover as text, its times in `zone` (the workspace's), named.
func printHandover(_ h: HandoverView, _ now: Timestamp, _ zone: TimeZone) {
    print(line(h, now))
    if let r = h.routing {
        print("routing (\(r.rule)):")
        for t in r.trail { print("  \(t)") }
        for c in r.candidates { print("    \(c.userID): \(c.outcome)") }
    }
    print("clocks:")
    for c in h.clocks {
        var s =
            "  \(c.kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(c.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) due \(LocalTime.minute(c.dueAt, in: zone))"
        if c.status == .running { s += "  (\(span(c.remainingMs)) left" + (c.business ? ", \(span(c.remainingBusinessMs)) business" : "") + ")" }
        if c.goal > 1 { s += "  \(c.progress)/\(c.goal) touches" }
        print(s)
    }
    for e in h.log ?? [] { print("  \(LocalTime.minute(e.at, in: zone))  \(e.actor)  \(e.action)") }
}

struct Inbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A rep's open handovers by urgency, with SLA countdowns and why each is hot.")
    @Option(help: "The rep (user id).") var user: String
    @Option(help: "At most this many.") var limit = 20
    @OptionGroup var workspace: WorkspaceOptions

    func run() async throws {
        let now = SystemClock().now()
        let items = try await workspace.openPortable().inbox(userID: user, at: now, limit: limit)
        if workspace.json { return try printJSON(items) }
        if items.isEmpty { print("\(user) has no open handovers") }
        let zone = try await workspace.displayZone()
        for i in items {
            print(line(i.handover, now))
            print("    \(i.contact.name) <\(i.contact.email)>\(i.contact.title.map { ", \($0)" } ?? "")\(i.contact.accountName.map { " at \($0)" } ?? "")")
            print("    why: " + i.why.map { InboxRules.localized($0, in: zone) }.joined(separator: "; "))
            if !i.recommendedContent.isEmpty { print("    send: " + i.recommendedContent.map(\.title).joined(separator: " | ")) }
        }
    }
}

struct Report: AsyncParsableCommand {
    struct LeadQuality: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lead-quality",
            abstract: "Sales' feedback on the leads it answered: accepted, rejected and why, rated good or bad and why, per campaign, channel, persona, content or month."
        )
        @Option(help: "First day (YYYY-MM-DD; default: the current quarter's first).") var from: String?
        @Option(help: "Day after the last (exclusive).") var to: String?
        @Option(help: "campaign, channel, persona, content or month.") var by = "campaign"
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            guard let cut = LeadQualityCut(rawValue: by) else {
                throw CLIFailure("--by takes " + LeadQualityCut.allCases.map(\.rawValue).joined(separator: ", ") + ", not \(by.prefix(40))")
            }
            let period = try await KPI.query(from: from, to: to, by: nil, workspace: workspace).period
            let r = try await storeCall { try await LeadQualityReads.report(try await workspace.openFunnel(), period: period, by: cut) }
            if workspace.json { return try printJSON(r) }
            print("lead quality \(r.period.from) – \(r.period.to) by \(r.by): \(r.total.answered) answered, \(r.total.rated) rated")
            print("\(r.by.padding(toLength: 28, withPad: " ", startingAt: 0)) answered accepted rejected  rated  good%  top bad reason")
            for g in [r.total] + r.groups {
                let name = (g.name.map { "\($0) (\(g.key))" } ?? g.key).prefix(28)
                print(
                    String(name).padding(toLength: 28, withPad: " ", startingAt: 0)
                        + String(format: " %8d %8d %8d %6d ", g.answered, g.accepted, g.rejected, g.rated) + pct(g.goodShare)
                        + "  " + (g.badReasons.first.map { "\(LeadRatingReasons.label($0.reason)) (\($0.count))" } ?? "–")
                )
            }
        }
    }

    static let configuration = CommandConfiguration(
        abstract: "SLA compliance and lead acceptance reports.",
        subcommands: [SLA.self, Acceptance.self, Commitments.self, LeadQuality.self]
    )

    struct PeriodOptions: ParsableArguments {
        @Option(help: "Start (YYYY-MM-DD or ISO 8601; default: 30 days before --to).") var from: String?
        @Option(help: "End, exclusive (default: now).") var to: String?

        func period() throws -> (Timestamp, Timestamp) {
            let end = try to.map { try dateOrInstant($0, "--to") } ?? SystemClock().now()
            let start = try from.map { try dateOrInstant($0, "--from") } ?? end.adding(milliseconds: -30 * 86_400_000)
            guard start < end else { throw CLIFailure("--from must be before --to") }
            return (start, end)
        }
    }

    struct SLA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sla", abstract: "SLA compliance and response times of the handovers created in a period.")
        @OptionGroup var period: PeriodOptions
        @Option(help: "rep, team, segment, policy, campaign or channel.") var by: ReportGrouping = .rep
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let (from, to) = try period.period()
            let rows = try await workspace.openPortable().slaReport(from: from, to: to, by: by)
            if workspace.json { return try printJSON(rows) }
            print("\(by.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)) handovers  compliance  answered  median h (business)  p90 h (business)")
            for r in rows {
                let c = r.compliance.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
                func h(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }
                print(
                    "\(r.group.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(r.handovers).padding(toLength: 10, withPad: " ", startingAt: 0)) \(c.padding(toLength: 11, withPad: " ", startingAt: 0)) \(String(r.answered).padding(toLength: 9, withPad: " ", startingAt: 0)) \(h(r.responseMedianHours)) (\(h(r.responseMedianBusinessHours)))        \(h(r.responseP90Hours)) (\(h(r.responseP90BusinessHours)))"
                )
            }
        }
    }

    struct Acceptance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Acceptance rate and rejection reasons of the handovers created in a period.")
        @OptionGroup var period: PeriodOptions
        @Option(help: "campaign, channel, segment, rep, team or policy.") var by: ReportGrouping = .campaign
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let (from, to) = try period.period()
            let rows = try await workspace.openPortable().acceptanceReport(from: from, to: to, by: by)
            if workspace.json { return try printJSON(rows) }
            for r in rows {
                let rate = r.acceptanceRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
                let reasons = r.reasons.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print(
                    "\(r.group): \(r.handovers) handovers, accepted \(r.accepted), rejected \(r.rejected), open \(r.open), acceptance \(rate)\(reasons.isEmpty ? "" : "; reasons: " + reasons)"
                )
            }
        }
    }

    struct Commitments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Marketing's MQL and pipeline commitments for a month: actual, projection, shortfall.")
        @Option(help: "The month (YYYY-MM; default: this month).") var month: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let now = SystemClock().now()
            let text = month ?? String(now.utcDate.text.prefix(7))
            guard let m = LocalDate.parse(text + "-01") else { throw CLIFailure("--month \"\(text)\" is not a month such as 2026-11") }
            let list = try await workspace.openPortable().commitments(month: m, at: now)
            if workspace.json { return try printJSON(list) }
            if list.isEmpty { print("no mqls or pipeline targets for \(text) (targets.csv or /api/v1/targets)") }
            for c in list {
                print(
                    "\(c.metric) \(c.segment ?? "(all)"): target \(c.target), actual \(c.actual), projected \(String(format: "%.1f", c.projected)) at \(String(format: "%.0f", c.elapsed * 100))% of the month\(c.shortfall ? "  — SHORT" : "")"
                )
            }
        }
    }
}

extension ReportGrouping: ExpressibleByArgument {}
