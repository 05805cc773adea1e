import Foundation
import Testing
import ThrowawayPostgres

@Suite("The command line on PostgreSQL")
struct CLIPostgresTests {
    @Test("db migrate migrates a new PostgreSQL database once; commands that need roles PostgreSQL lacks say so in one sentence")
    func migrate() async throws {
        let url = try ThrowawayPostgres.newDatabase()
        let first = try await CLIRun.run(["db", "migrate", "--database", url])
        #expect(first.status == 0 && first.stdout.contains("applied 1 migration(s)"), "\(first.stderr)")
        let again = try await CLIRun.run(["db", "migrate", "--json"], environment: ["SMARKETING_DATABASE": url])
        #expect(again.status == 0 && again.stdout.contains("\"applied\":[]"), "\(again.stderr)")
        let kpi = try await CLIRun.run(["kpi", "--database", url])
        #expect(kpi.status == 1 && kpi.stderr.hasPrefix("error: this command does not run on PostgreSQL yet"))
        #expect(kpi.stderr.split(separator: "\n").count == 1)
        let closed = try await CLIRun.run(["db", "migrate", "--database", "postgres://postgres@127.0.0.1:1/x"])
        #expect(closed.status == 1 && closed.stderr.hasPrefix("error: cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/x"))
        let bad = try await CLIRun.run(["db", "migrate", "--database", "postgres://h:99999/x"])
        #expect(bad.status == 1 && bad.stderr.contains("is not a valid PostgreSQL URL"))
        let other = try await CLIRun.run(["db", "migrate", "--database", "mysql://h/x"])
        #expect(other.status == 1 && other.stderr.contains("is not one smarketing knows"))
    }
}
