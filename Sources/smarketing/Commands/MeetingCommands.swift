import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing meeting …`: the weekly sync — its agenda from live data, the meeting's record
/// (attendees, decisions) and its minutes.
struct MeetingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meeting",
        abstract: "The weekly sync: prepare the agenda, record attendees and decisions, finish and export the minutes.",
        subcommands: [Prepare.self, Start.self, List.self, Decide.self, Attend.self, Finish.self, Minutes.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, html, json }

    static func week(_ text: String?, _ store: any FunnelStore) async throws -> AgendaWeek {
        if let text {
            guard let w = AgendaWeek.parse(text) else {
                throw CLIFailure("--week must be an ISO week like 2026-W49 (a week the year has, 1900–2199), not \(text.prefix(40))")
            }
            return w
        }
        let settings = try await store.workspaceSettings().settings
        return WeeklySync.currentWeek(settings, now: SystemClock().now())
    }

    static func meetingID(_ text: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else { throw CLIFailure("a meeting id is a whole number from 1, not \(text.prefix(40))") }
        return id
    }

    static func actor(_ author: String?) -> Actor {
        Actor(userID: author ?? ProcessInfo.processInfo.environment["USER"] ?? "cli", role: .admin, via: "cli")
    }

    static func print(_ blocks: [AgendaText.Block], _ format: Format) {
        Swift.print(format == .html ? AgendaText.html(blocks) : AgendaText.markdown(blocks), terminator: "")
    }

    struct Prepare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build the weekly sync's agenda from live data: KPIs against last week, last quarter and targets, commitments, SLA, leaks, rejections, backlog, open items."
        )
        @Option(help: "The ISO week, e.g. 2026-W49 (default: the current week in the workspace's calendar).") var week: String?
        @Option(help: "markdown, html or json.") var format: Format = .markdown
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let store = try await workspace.openFunnel()
                let agenda = try await WeeklySync.agenda(store, week: try await MeetingCommand.week(week, store), now: SystemClock().now())
                if workspace.json || format == .json { return try printJSON(agenda) }
                let zone = try await store.workspaceSettings().settings.timeZone
                MeetingCommand.print(try await WeeklySync.document(store, agenda: agenda, meeting: nil, zone: zone), format)
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a meeting for a week (prints its id).")
        @Option(help: "The ISO week (default: the current one).") var week: String?
        @Option(help: "The meeting's title.") var title = "Weekly sync"
        @Option(help: "Attendees' user ids, comma-separated.") var attendees: String?
        @Option(help: "Who records it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let store = try await workspace.openFunnel()
                let w = try await MeetingCommand.week(week, store)
                let list = (attendees ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                let m = try await store.createMeeting(week: w, title: title, attendees: list, actor: MeetingCommand.actor(author), at: SystemClock().now())
                if workspace.json { return try printJSON(m) }
                Swift.print("meeting \(m.id) opened for \(m.week): \(m.title)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List meetings, newest first.")
        @Option(help: "How many.") var limit = 20
        @OptionGroup var workspace: WorkspaceOptions

        func validate() throws { if !(1...1_000).contains(limit) { throw ValidationError("--limit must be 1 to 1000") } }

        func run() async throws {
            try await storeCall {
                let store = try await workspace.openFunnel()
                let list = try await store.meetings(limit: limit, before: nil)
                if workspace.json { return try printJSON(list) }
                let zone = try await workspace.displayZone()
                if list.isEmpty { Swift.print("no meetings yet: `smarketing meeting start`") }
                for m in list {
                    Swift.print(
                        "\(m.id)  \(m.week)  \(m.status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))  \(LocalTime.minute(m.createdAt, in: zone))  \(m.title)  (\(m.attendees.count) attended, \(m.decisions.count) decisions)"
                    )
                }
            }
        }
    }

    struct Decide: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a decision in an open meeting.")
        @Argument(help: "The meeting id.") var meeting: String
        @Argument(help: "The decision.") var text: String
        @Option(help: "Who records it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let m = try await workspace.openFunnel().changeMeeting(
                    id: try MeetingCommand.meetingID(meeting),
                    MeetingChange(decision: text),
                    actor: MeetingCommand.actor(author),
                    at: SystemClock().now()
                )
                if workspace.json { return try printJSON(m) }
                Swift.print("decision \(m.decisions.count) recorded in meeting \(m.id)")
            }
        }
    }

    struct Attend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set who attended an open meeting.")
        @Argument(help: "The meeting id.") var meeting: String
        @Argument(help: "User ids, comma-separated.") var attendees: String
        @Option(help: "Who records it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let list = attendees.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                let m = try await workspace.openFunnel().changeMeeting(
                    id: try MeetingCommand.meetingID(meeting),
                    MeetingChange(attendees: list),
                    actor: MeetingCommand.actor(author),
                    at: SystemClock().now()
                )
                if workspace.json { return try printJSON(m) }
                Swift.print("meeting \(m.id): \(m.attendees.count) attendee(s)")
            }
        }
    }

    struct Finish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Finish a meeting: keep its agenda as discussed and send the minutes to `meeting.finished` webhook subscribers."
        )
        @Argument(help: "The meeting id.") var meeting: String
        @Option(help: "Who finishes it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let m = try await WeeklySync.finish(
                    try await workspace.openFunnel(),
                    id: try MeetingCommand.meetingID(meeting),
                    actor: MeetingCommand.actor(author),
                    now: SystemClock().now()
                )
                if workspace.json { return try printJSON(m) }
                Swift.print("meeting \(m.id) finished: \(m.decisions.count) decision(s); `smarketing meeting minutes \(m.id)` prints the minutes")
            }
        }
    }

    struct Minutes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a meeting's minutes (the live agenda while it is open).")
        @Argument(help: "The meeting id.") var meeting: String
        @Option(help: "markdown, html or json.") var format: Format = .markdown
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let store = try await workspace.openFunnel()
                let id = try MeetingCommand.meetingID(meeting)
                guard let m = try await store.meeting(id: id) else { throw CLIFailure("there is no meeting \(id): `smarketing meeting list` shows them") }
                let agenda = try await WeeklySync.agenda(store, of: m, now: SystemClock().now())
                if workspace.json || format == .json {
                    var full = m
                    full.agenda = agenda
                    return try printJSON(full)
                }
                let zone = try await store.workspaceSettings().settings.timeZone
                MeetingCommand.print(try await WeeklySync.document(store, agenda: agenda, meeting: m, zone: zone), format)
            }
        }
    }
}

/// `smarketing action …`: action items with an owner and a due day.
struct ActionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "action",
        abstract: "Action items: add one (owner, due day, optionally in a meeting), list them, mark them done.",
        subcommands: [Add.self, List.self, Done.self, Reopen.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an action item (prints its id).")
        @Argument(help: "What is to be done.") var title: String
        @Option(help: "The owner's user id.") var owner: String
        @Option(help: "The due day, YYYY-MM-DD.") var due: String
        @Option(help: "The meeting it was agreed in.") var meeting: String?
        @Option(help: "Who records it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let store = try await workspace.openFunnel()
                let now = SystemClock().now()
                let today = try await store.workspaceSettings().settings.today(now)
                let day: LocalDate
                switch MeetingRules.due(due, today: today) {
                case .success(let d): day = d
                case .failure(let p): throw CLIFailure("--" + p.description)
                }
                let item = try await store.createActionItem(
                    ActionItemDraft(title: title, ownerID: owner, due: day, meetingID: try meeting.map(MeetingCommand.meetingID)),
                    actor: MeetingCommand.actor(author),
                    at: now
                )
                if workspace.json { return try printJSON(item) }
                print("action item \(item.id) for \(item.ownerName ?? item.ownerID), due \(item.due.text)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List action items (open ones unless --all), earliest due first.")
        @Option(help: "Only this owner's.") var owner: String?
        @Option(help: "Only the items of this meeting.") var meeting: String?
        @Flag(help: "Done items too.") var all = false
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            try await storeCall {
                let store = try await workspace.openFunnel()
                let items = try await store.actionItems(
                    ActionItemQuery(ownerID: owner, meetingID: try meeting.map(MeetingCommand.meetingID), status: all ? nil : .open, limit: 10_000)
                )
                if workspace.json { return try printJSON(items) }
                let today = try await store.workspaceSettings().settings.today(SystemClock().now())
                if items.isEmpty { print(all ? "no action items" : "no open action items") }
                for i in items {
                    print(
                        "\(i.id)  [\(i.status == .done ? "x" : " ")] due \(i.due.text)\(i.isOverdue(today: today) ? " OVERDUE" : "")  \(i.ownerName ?? i.ownerID)  \(i.title)"
                            + (i.meetingID.map { "  (meeting \($0))" } ?? "")
                    )
                }
            }
        }
    }

    struct Done: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark an action item done.")
        @Argument(help: "The item id.") var id: String
        @Option(help: "Who did it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws { try await ActionCommand.set(id, .done, author, workspace) }
    }

    struct Reopen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a done action item again.")
        @Argument(help: "The item id.") var id: String
        @Option(help: "Who reopens it (default: the login name).") var author: String?
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws { try await ActionCommand.set(id, .open, author, workspace) }
    }

    static func set(_ id: String, _ status: ActionItem.Status, _ author: String?, _ workspace: WorkspaceOptions) async throws {
        guard let n = Int64(id), n > 0 else { throw CLIFailure("an action item id is a whole number from 1, not \(id.prefix(40))") }
        try await storeCall {
            let item = try await workspace.openFunnel().setActionItem(id: n, status: status, actor: MeetingCommand.actor(author), at: SystemClock().now())
            if workspace.json { return try printJSON(item) }
            print("action item \(item.id) is \(item.status.rawValue): \(item.title)")
        }
    }
}
