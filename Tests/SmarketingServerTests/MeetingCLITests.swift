import Foundation
import Testing

@Suite("CLI: weekly sync")
struct MeetingCLITests {
    @Test("meeting prepare/start/decide/finish/minutes and action add/list/done; refusals in one sentence")
    func meetings() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-meeting-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/w.sqlite"
        let bundle = dir + "/bundle"
        #expect(try await CLIRun.run(["demo", "--leads", "200", "--seed", "3", "--out", bundle]).status == 0)
        #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)

        let md = try await CLIRun.run(["meeting", "prepare", "--week", "2025-W20", "--database", db])
        #expect(md.status == 0 && md.stdout.hasPrefix("# Weekly sync 2025-W20: agenda") && md.stdout.contains("| MQLs |"), "\(md.stderr)")
        let json = try await CLIRun.run(["meeting", "prepare", "--week", "2025-W20", "--format", "json", "--database", db])
        let agenda = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(agenda["schema"] as? String == "smarketing-agenda/1" && (agenda["period"] as? [String: Any])?["from"] as? String == "2025-05-12")
        // The same week's MQLs as `kpi show`.
        let kpi = try await CLIRun.run(["kpi", "show", "--from", "2025-05-12", "--to", "2025-05-19", "--format", "json", "--database", db])
        let report = try JSONSerialization.jsonObject(with: Data(kpi.stdout.utf8)) as? [String: Any] ?? [:]
        let kpiMQLs = (((report["total"] as? [String: Any])?["current"] as? [String: Any])?["mql_volume"] as? [String: Any])?["mqls"] as? Int
        let row = (agenda["kpis"] as? [[String: Any]])?.first { $0["key"] as? String == "mqls" }
        #expect(kpiMQLs != nil && (row?["week"] as? Double).map { Int($0) } == kpiMQLs)
        let html = try await CLIRun.run(["meeting", "prepare", "--week", "2025-W20", "--format", "html", "--database", db])
        #expect(html.status == 0 && html.stdout.hasPrefix("<h1>Weekly sync 2025-W20: agenda</h1>"))

        let start = try await CLIRun.run(["meeting", "start", "--week", "2025-W20", "--attendees", "u-admin,u-mkt-mgr", "--author", "ops", "--database", db])
        #expect(start.status == 0 && start.stdout.contains("meeting 1 opened for 2025-W20"), "\(start.stderr)")
        #expect(try await CLIRun.run(["meeting", "decide", "1", "Stop campaign X", "--database", db]).status == 0)
        let add = try await CLIRun.run(["action", "add", "Fix the form", "--owner", "u-sdr-1", "--due", Self.day(7), "--meeting", "1", "--database", db])
        #expect(add.status == 0 && add.stdout.contains("action item 1 for"), "\(add.stderr)")
        let list = try await CLIRun.run(["action", "list", "--owner", "u-sdr-1", "--database", db])
        #expect(list.status == 0 && list.stdout.contains("Fix the form") && list.stdout.contains("(meeting 1)"), "\(list.stdout)")
        let finish = try await CLIRun.run(["meeting", "finish", "1", "--database", db])
        #expect(finish.status == 0 && finish.stdout.contains("meeting 1 finished"), "\(finish.stderr)")
        let minutes = try await CLIRun.run(["meeting", "minutes", "1", "--database", db])
        #expect(minutes.stdout.contains("## Decisions\n\n- Stop campaign X") && minutes.stdout.contains("[ ] Fix the form"), "\(minutes.stdout)")
        #expect(minutes.stdout.contains("Attended: Ada Admin (u-admin), Marta Marketing (u-mkt-mgr)."))
        let done = try await CLIRun.run(["action", "done", "1", "--database", db])
        #expect(done.status == 0 && done.stdout.contains("action item 1 is done"))
        #expect(try await CLIRun.run(["action", "list", "--database", db]).stdout.contains("no open action items"))
        let meetings = try await CLIRun.run(["meeting", "list", "--database", db])
        #expect(meetings.stdout.contains("2025-W20  finished"), "\(meetings.stdout)")

        // The forecast's backtest reports its error on the demo history.
        let backtest = try await CLIRun.run(["forecast", "backtest", "--database", db])
        #expect(backtest.status == 0 && backtest.stdout.contains("mean absolute error") && backtest.stdout.contains("inside the 90 % interval"), "\(backtest.stdout)\(backtest.stderr)")
        let forecast = try await CLIRun.run(["forecast", "--database", db])
        #expect(forecast.status == 0 && forecast.stdout.hasPrefix("forecast of won revenue"), "\(forecast.stderr)")

        // A campaign's review: a note with a decision, printed back.
        let campaign = try await CLIRun.run(["campaign", "review", "cmp-email-1", "--from", "2025-01-01", "--to", "2025-07-01", "--note", "Good leads", "--decision", "continue", "--author", "u-mkt-1", "--database", db])
        #expect(campaign.status == 0 && campaign.stdout.contains("decision: continue") && campaign.stdout.contains("Good leads"), "\(campaign.stdout)\(campaign.stderr)")

        for (arguments, sentence) in [
            (["campaign", "review", "nope"], "no campaigns record with id \"nope\""),
            (["campaign", "review", "cmp-email-1", "--decision", "stop"], "--decision goes with a --note"),
            (["meeting", "prepare", "--week", "2025-W53"], "--week must be an ISO week"),
            (["meeting", "decide", "1", "late"], "meeting 1 is finished"),
            (["meeting", "finish", "1"], "already finished"),
            (["meeting", "minutes", "9"], "there is no meeting 9"),
            (["meeting", "start", "--attendees", "ghost"], "not a user of this workspace: \"ghost\""),
            (["action", "add", "x", "--owner", "ghost", "--due", Self.day(1)], "owner \"ghost\" is not a user"),
            (["action", "add", "x", "--owner", "u-admin", "--due", "2099-01-01"], "more than five years ahead"),
            (["action", "add", "x", "--owner", "u-admin", "--due", "soon"], "--due must be a date"),
            (["action", "done", "abc"], "an action item id is a whole number"),
            (["action", "done", "77"], "no action item 77"),
        ] {
            let r = try await CLIRun.run(arguments + ["--database", db])
            #expect(r.status == 1 && r.stderr.contains(sentence) && r.stderr.split(separator: "\n").count == 1, "\(arguments): \(r.status) \(r.stderr)")
        }
    }

    /// A day `n` days from today (UTC), as the CLI's due check reads "today" from the clock.
    static func day(_ n: Int) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date().addingTimeInterval(Double(n) * 86_400))
    }
}
