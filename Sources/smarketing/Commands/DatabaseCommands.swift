import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingStore

/// `smarketing db`: the database itself.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "The workspace database: migrations.",
        subcommands: [Migrate.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring the database's schema up to date (also done on every start; on PostgreSQL under an advisory lock, so instances starting together migrate once)."
        )
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let location = workspace.databasePath
            let applied: [String]
            let all: [String]
            if let pg = PostgresStore.Location(url: location) {
                let store: PostgresStore
                do { store = try await PostgresStore(location: pg, migrate: false) } catch {
                    throw CLIFailure("\(error)")
                }
                defer { store.close() }
                applied = try await store.migrate()
                all = try await store.appliedMigrations()
            } else {
                if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
                    throw CLIFailure("\(location.prefix(60)) is not a valid PostgreSQL URL: postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]")
                }
                if WorkspaceOptions.looksLikeURL(location) { throw CLIFailure(WorkspaceOptions.unknownScheme(location)) }
                let before = FileManager.default.fileExists(atPath: location)
                let store = try workspace.openStore()
                all = try await store.appliedMigrations()
                applied = before ? [] : all
            }
            let display = PostgresStore.Location(url: location)?.display ?? location
            struct Report: Encodable {
                let database: String
                let applied: [String]
                let schema: [String]
            }
            if workspace.json { return try printJSON(Report(database: display, applied: applied, schema: all)) }
            print(applied.isEmpty ? "\(display): schema up to date (\(all.count) migrations)" : "\(display): applied \(applied.count) migration(s): \(applied.joined(separator: ", "))")
        }
    }
}
