import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing db`: the database itself.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "The workspace database: migrations, copies between SQLite and PostgreSQL, read-only access for BI tools.",
        subcommands: [Migrate.self, Copy.self, GrantBI.self, Partitions.self]
    )

    struct Partitions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Make the touchpoints' month partitions that are due (months in the default partition, this month and the next two) \
                and list them (PostgreSQL; `serve` does this on start and hourly). Detach an old month with \
                ALTER TABLE touchpoints DETACH PARTITION touchpoints_YYYY_MM (docs/SCALE.md).
                """
        )
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let store = try await workspace.openFunnel()
            defer { WorkspaceStores.close(store) }
            let made: Int
            let partitions: [TouchpointPartition]
            do {
                made = try await store.housekeeping(at: SystemClock().now())
                partitions = try await store.touchpointPartitions()
            } catch let e as StoreError {
                throw CLIFailure(e.description)
            }
            if workspace.json {
                struct Out: Encodable {
                    let made: Int
                    let partitions: [TouchpointPartition]
                }
                return try printJSON(Out(made: made, partitions: partitions))
            }
            guard !partitions.isEmpty else {
                print("this database keeps the touchpoints in one table (SQLite): nothing to partition")
                return
            }
            print("made \(made) partition(s)")
            for p in partitions {
                let month = p.from.map { String($0.iso8601.prefix(7)) } ?? "other months"
                print("\(p.name)\t\(month)\t\(p.rows) rows\t\(p.bytes / 1024) KiB")
            }
        }
    }

    struct GrantBI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant-bi",
            abstract: "Let a PostgreSQL role read the reporting views (KPI cells, open pipeline, per-record facts) and nothing else — for Tableau, Power BI and the like."
        )
        @Argument(help: "The role (created with LOGIN when missing; set its password yourself).") var role: String
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let location = workspace.databasePath
            guard WorkspaceStores.isPostgres(location) else {
                throw CLIFailure("grant-bi sets up a PostgreSQL role; a BI tool reads a SQLite workspace by opening its file read-only (docs/KPIS.md)")
            }
            guard let store = try await workspace.openFunnel() as? PostgresStore else { throw CLIFailure("cannot open \(location) as PostgreSQL") }
            defer { store.close() }
            let created: Bool
            do { created = try await store.grantBI(role: role) } catch let e as StoreError { throw CLIFailure(e.description) }
            if workspace.json {
                struct Out: Encodable {
                    let role: String
                    let created: Bool
                    let views: [String]
                }
                return try printJSON(Out(role: role, created: created, views: PostgresStore.reportingViews))
            }
            if created { print("created role \(role) (LOGIN, no password yet: ALTER ROLE \(role) PASSWORD '…')") }
            print("\(role) may read: " + PostgresStore.reportingViews.joined(separator: ", "))
        }
    }

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

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a workspace's records from one database to another (SQLite ↔ PostgreSQL) and check the copy.",
            discussion: """
                The records of every resource go through a bundle (docs/BUNDLE.md): exported from --from, imported into --to \
                (which must hold no records), exported again from --to and compared byte for byte with the first export; \
                the command fails if they differ. The merge history (ids merged away) is copied and compared too. Not copied yet: scoring model versions, handover configurations, API \
                tokens, passwords and sessions, vendor connections, settings and the audit log (docs/SCALE.md).
                """
        )
        @Option(help: "The database to copy from (SQLite file or postgres:// URL).") var from: String
        @Option(help: "The database to copy into (created and migrated when needed; must hold no records).") var to: String
        @Option(help: "Where the bundles are written (default: a new temporary folder, removed afterwards).") var workDir: String?
        @Flag(help: "Machine-readable JSON output.") var json = false

        func run() async throws {
            guard from != to else { throw CLIFailure("--from and --to name the same database") }
            if !WorkspaceStores.isPostgres(from), !WorkspaceOptions.looksLikeURL(from), !FileManager.default.fileExists(atPath: from) {
                throw CLIFailure("there is no database at \(from) to copy from")
            }
            let source = try await Self.open(from)
            let target = try await Self.open(to)
            for r in Resource.allCases where try await target.count(r) > 0 {
                throw CLIFailure("the target \(Self.display(to)) already holds \(r.rawValue) records; copy into an empty database")
            }
            let dir = workDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("smarketing-copy-\(UUID().uuidString)").path
            defer { if workDir == nil { try? FileManager.default.removeItem(atPath: dir) } }
            let first = dir + "/from", second = dir + "/to"
            let started = Date()
            let progress = ProgressReporter(quiet: json)
            let counts = try await Bundle.export(from: source, to: first) { file, n in progress.update("exporting \(file)", n) }
            progress.finish()
            let report = try await importBundle(first, into: target, skipInvalid: false, report: nil, json: false, quiet: true)
            guard report.committed else {
                throw CLIFailure("the copy was refused by the target: \(report.problems.first?.description ?? "unknown problem"); nothing was written")
            }
            // Identity history: ids merged away stay merged on the copy (a later import or sync
            // of an old id reaches the kept contact there too).
            let merges = try await source.mergeHistory()
            try await target.addMergeHistory(merges)
            guard try await target.mergeHistory() == merges else {
                throw CLIFailure("the copy's merge history differs from the source's (bundles kept in \(dir))")
            }
            let check = ProgressReporter(quiet: json)
            _ = try await Bundle.export(from: target, to: second) { file, n in check.update("checking \(file)", n) }
            check.finish()
            var differing: [String] = []
            for r in Resource.importOrder {
                let a = FileManager.default.contents(atPath: first + "/" + r.fileName)
                let b = FileManager.default.contents(atPath: second + "/" + r.fileName)
                if a != b { differing.append(r.fileName) }
            }
            guard differing.isEmpty else {
                throw CLIFailure("the copy differs from the source in \(differing.joined(separator: ", ")) (bundles kept in \(dir))")
            }
            let seconds = Date().timeIntervalSince(started)
            struct Out: Encodable {
                let from: String
                let to: String
                let records: [String: Int]
                let mergeHistory: Int
                let byteEqual: Bool
                let seconds: Double
            }
            if json { return try printJSON(Out(from: Self.display(from), to: Self.display(to), records: counts, mergeHistory: merges.count, byteEqual: true, seconds: seconds)) }
            let total = counts.values.reduce(0, +)
            print(
                String(
                    format: "copied %d records and %d merged-away ids from %@ to %@ in %.1f s; the two exports are byte-equal",
                    total,
                    merges.count,
                    Self.display(from),
                    Self.display(to),
                    seconds
                )
            )
            if report.mergedContacts > 0 { print("(the target merged \(report.mergedContacts) same-email contacts the source held twice)") }
        }

        static func display(_ location: String) -> String { PostgresStore.Location(url: location)?.display ?? location }

        static func open(_ location: String) async throws -> any PortableStore {
            var options = try WorkspaceOptions.parse([])
            options.database = location
            return try await options.openPortable()
        }
    }
}
