import ArgumentParser
import Foundation
import Synchronization
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
            abstract: "Copy a whole workspace from one database to another (SQLite ↔ PostgreSQL) and check the copy.",
            discussion: """
                The records go through a bundle (docs/BUNDLE.md): exported from --from, imported into --to (which must hold \
                no records), exported again from --to and compared byte for byte with the first export. The rest of the \
                workspace goes beside it, table by table, and is compared the same way: scoring model versions and scores, \
                stage and score history, handover configurations, handovers, SLA clocks and their log, settings, API tokens, \
                passwords, webhooks and their deliveries, the outbox, vendor connections (credentials opened with the \
                source's key and sealed again with the target's), sync cursors, links and runs, write-backs, the merge \
                history and the audit log. The KPI aggregates are rebuilt on the target. Not copied: browser sessions \
                (everyone signs in again). Stop the servers on --from first: a copy reads a quiet workspace.
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
            // The state is read before anything is written: a credential the source's key cannot
            // open stops the copy here.
            let reseal = Reseal(from: from, to: to)
            let stateCounts: [String: Int]
            do {
                stateCounts = try await StateSpool.write(
                    from: source,
                    to: first + "/state",
                    transform: reseal.row,
                    progress: { table, n in progress.update("exporting \(table)", n) }
                )
            } catch let e as SecretBoxError {
                throw CLIFailure("a vendor connection cannot be copied: \(e.description)")
            }
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
            try await target.replaceState(StateTable.all, from: StateSpool.Reader(directory: first + "/state"))
            let check = ProgressReporter(quiet: json)
            _ = try await Bundle.export(from: target, to: second) { file, n in check.update("checking \(file)", n) }
            _ = try await StateSpool.write(from: target, to: second + "/state", progress: { table, n in check.update("checking \(table)", n) })
            check.finish()
            var differing: [String] = []
            for file in Resource.importOrder.map(\.fileName) + StateTable.all.map({ "state/\($0.name).csv" }) {
                let a = FileManager.default.contents(atPath: first + "/" + file)
                let b = FileManager.default.contents(atPath: second + "/" + file)
                if a != b { differing.append(file) }
            }
            guard differing.isEmpty else {
                throw CLIFailure("the copy differs from the source in \(differing.joined(separator: ", ")) (files kept in \(dir))")
            }
            let seconds = Date().timeIntervalSince(started)
            struct Out: Encodable {
                let from: String
                let to: String
                let records: [String: Int]
                let state: [String: Int]
                let mergeHistory: Int
                let byteEqual: Bool
                let seconds: Double
            }
            if json {
                return try printJSON(
                    Out(from: Self.display(from), to: Self.display(to), records: counts, state: stateCounts, mergeHistory: merges.count, byteEqual: true, seconds: seconds)
                )
            }
            print(
                String(
                    format: "copied %d records, %d rows of workspace state and %d merged-away ids from %@ to %@ in %.1f s; the two exports are byte-equal",
                    counts.values.reduce(0, +),
                    stateCounts.values.reduce(0, +),
                    merges.count,
                    Self.display(from),
                    Self.display(to),
                    seconds
                )
            )
            if report.mergedContacts > 0 { print("(the target merged \(report.mergedContacts) same-email contacts the source held twice)") }
        }

        /// Opens each vendor connection's credentials with the source's key (`SMARKETING_SECRET_KEY`
        /// or a SQLite workspace's key file) and seals them with the target's (the same, a new key
        /// file beside a SQLite target when the variable is unset). The keys are read only when
        /// there is a connection to copy.
        final class Reseal: Sendable {
            let from: String
            let to: String
            let boxes = Mutex<([SecretBox], SecretBox)?>(nil)

            init(from: String, to: String) {
                self.from = from
                self.to = to
            }

            @Sendable func row(_ table: StateTable, _ row: [StateValue]) throws -> [StateValue] {
                func keys() throws -> ([SecretBox], SecretBox) {
                    try boxes.withLock { boxes in
                        if let boxes { return boxes }
                        let made = (SecretBox.existingKeys(databasePath: from), try SecretBox.forWorkspace(databasePath: to))
                        boxes = made
                        return made
                    }
                }
                // A webhook's sealed signing secret, likewise (one in clear stays in clear).
                if table.name == "webhook_subscriptions", let i = table.columnNames.firstIndex(of: "secret"), i < row.count, case .text(let stored) = row[i],
                    WebhookSecret.isSealed(stored)
                {
                    let (open, seal) = try keys()
                    var out = row
                    out[i] = .text(try WebhookSecret.seal(try WebhookSecret.open(stored, with: open), with: seal))
                    return out
                }
                guard table.name == "connections", let i = table.columnNames.firstIndex(of: "sealed_secrets"), i < row.count, case .blob(let sealed) = row[i] else {
                    return row
                }
                let (open, seal) = try keys()
                var out = row
                out[i] = .blob(try seal.seal(try SecretBox.open(sealed, withAnyOf: open)))
                return out
            }
        }

        static func display(_ location: String) -> String { PostgresStore.Location(url: location)?.display ?? location }

        static func open(_ location: String) async throws -> any PortableStore {
            var options = try WorkspaceOptions.parse([])
            options.database = location
            return try await options.openPortable()
        }
    }
}
