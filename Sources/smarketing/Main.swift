import ArgumentParser
import Foundation

/// The `smarketing` command.
struct Smarketing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smarketing",
        abstract: "One shared funnel for marketing and sales.",
        subcommands: [
            Serve.self, Demo.self, Import.self, Export.self, Contacts.self, RetentionCommand.self, TokenCommand.self, UserCommand.self, Scoring.self, Score.self,
            Handover.self, Inbox.self, Report.self, KPI.self, Funnel.self, Attribution.self, Connect.self, Sync.self, Writeback.self,
            SettingsCommand.self, MeetingCommand.self, ActionCommand.self, ForecastCommand.self, CampaignCommand.self, OwnersCommand.self, BackupCommand.self, Bench.self, DatabaseCommand.self,
        ]
    )
}

/// Exit codes: 0 success, 1 failure, 2 usage; errors on stderr in one sentence.
@main
enum Main {
    static func main() async {
        do {
            var command = try Smarketing.parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data(("error: " + failure.message + "\n").utf8))
            exit(1)
        } catch {
            let code = Smarketing.exitCode(for: error)
            if code == .success {
                print(Smarketing.fullMessage(for: error))
                exit(0)
            }
            if error is ExitCode {
                exit(code.rawValue)
            }
            let message = Smarketing.fullMessage(for: error)
            FileHandle.standardError.write(Data((message.hasPrefix("Error") || message.hasPrefix("error") ? message : "error: " + message).utf8 + [10]))
            // Usage errors (validation, unknown options) are 2; failures while running are 1.
            exit(code == .validationFailure ? 2 : (error is CleanExit ? 0 : (isUsage(error) ? 2 : 1)))
        }
    }

    static func isUsage(_ error: any Error) -> Bool {
        String(describing: type(of: error)).contains("ParserError") || error is ValidationError
    }
}

/// A failure while running, with the one sentence to show.
struct CLIFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
