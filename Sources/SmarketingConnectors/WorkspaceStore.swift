import Foundation
import SmarketingStore

extension SQLiteStore {
    /// The workspace store as the product runs it: scores, MQL moves, routing and SLA clocks on,
    /// read with the project's model and configuration file readers. One place names them all,
    /// so a new reader reaches the CLI, the server and the tests together.
    public static func workspace(path: String, backgroundCheckpoints: Bool = false, pageCacheMiB: Int = SQLiteStore.defaultPageCacheMiB) throws -> SQLiteStore {
        try SQLiteStore(
            path: path,
            backgroundCheckpoints: backgroundCheckpoints,
            scoringModels: ScoringModelFile.parser,
            handoverConfigs: HandoverConfigFile.parser,
            pageCacheMiB: pageCacheMiB
        )
    }
}

/// The roles every backend serves today: records, access, bundles, identity, ingest, scoring and
/// the handover.
public typealias PortableStore = RecordStore & AccessStore & BundleStore & IdentityStore & IngestStore & ScoringStore & HandoverStore & StateStore

/// Opens a workspace store from a location: a SQLite file path or a `postgres://` URL. The one
/// place that turns a location into a backend.
public enum WorkspaceStores {
    /// Whether a location names a PostgreSQL database.
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// The store of the portable roles at `location` (migrated when needed).
    public static func openPortable(_ location: String) async throws -> any PortableStore {
        if isPostgres(location) {
            guard let pg = PostgresStore.Location(url: location) else {
                throw StoreError.invalid(
                    "\(location.prefix(60)) is not a valid PostgreSQL URL: postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]"
                )
            }
            return try await PostgresStore(location: pg, scoringModels: ScoringModelFile.parser, handoverConfigs: HandoverConfigFile.parser)
        }
        return try SQLiteStore.workspace(path: location)
    }

    /// The whole workspace store at `location` (migrated when needed): every role the server
    /// and the commands use. `backgroundCheckpoints` applies to SQLite (a server's WAL upkeep).
    /// `readReplica` (PostgreSQL only): a streaming replica for dashboards, reports, exports
    /// and analyses.
    public static func open(
        _ location: String, backgroundCheckpoints: Bool = false, readReplica: String? = nil, pageCacheMiB: Int = SQLiteStore.defaultPageCacheMiB
    ) async throws -> any FunnelStore {
        func url(_ text: String) throws -> PostgresStore.Location {
            guard let pg = PostgresStore.Location(url: text) else {
                throw StoreError.invalid(
                    "\(text.prefix(60)) is not a valid PostgreSQL URL: postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]"
                )
            }
            return pg
        }
        if isPostgres(location) {
            return try await PostgresStore(
                location: try url(location),
                scoringModels: ScoringModelFile.parser,
                handoverConfigs: HandoverConfigFile.parser,
                readReplica: try readReplica.map(url)
            )
        }
        if readReplica != nil {
            throw StoreError.invalid("a read replica (--read-database) is a PostgreSQL feature; the database \(location) is a SQLite file")
        }
        return try SQLiteStore.workspace(path: location, backgroundCheckpoints: backgroundCheckpoints, pageCacheMiB: pageCacheMiB)
    }
}

/// Throwaway workspaces for the benchmarks, on either backend.
extension WorkspaceStores {
    /// A new empty workspace named `name`: beside `base` on its PostgreSQL server when `base` is a
    /// `postgres://` URL (a new database; the role needs CREATEDB), else a SQLite file in
    /// `workDir` (any old one removed).
    public static func scratch(_ name: String, base: String?, workDir: String) async throws -> String {
        let safe = name.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        if let base, isPostgres(base) {
            guard let server = PostgresStore.Location(url: base) else {
                throw StoreError.invalid("\(base.prefix(60)) is not a valid PostgreSQL URL: postgres://user[:password]@host[:port]/database")
            }
            let created = try await PostgresStore.createScratchDatabase(on: server, name: "smarketing_bench_\(safe)_\(getpid())")
            return url(created, like: base)
        }
        let path = (workDir as NSString).appendingPathComponent("smarketing-bench-\(safe)-\(getpid()).sqlite")
        removeSQLiteFiles(path)
        return path
    }

    /// Removes a workspace `scratch` made (the database dropped, or the file removed).
    public static func removeScratch(_ location: String, base: String?) async {
        if isPostgres(location) {
            guard let base, let server = PostgresStore.Location(url: base), let scratch = PostgresStore.Location(url: location) else { return }
            try? await PostgresStore.dropScratchDatabase(on: server, name: scratch.database)
            return
        }
        removeSQLiteFiles(location)
    }

    /// The bytes a workspace takes on disk (the SQLite file and its WAL, or the PostgreSQL database).
    public static func storedBytes(_ location: String) async -> Int {
        if isPostgres(location) {
            guard let pg = PostgresStore.Location(url: location) else { return 0 }
            return (try? await PostgresStore.databaseBytes(pg)) ?? 0
        }
        func size(_ p: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0 }
        return size(location) + size(location + "-wal")
    }

    /// A reader of the CPU seconds the database server has used so far, when it is a separate
    /// server on this machine (PostgreSQL here); nil when the database runs in this process
    /// (SQLite) or on another machine.
    public static func serverCPUReader(_ location: String) async -> (@Sendable () -> Double)? {
        guard isPostgres(location), let pg = PostgresStore.Location(url: location),
            let server = try? await PostgresStore.localServerProcessID(pg)
        else { return nil }
        return { ProcStat.treeCPUSeconds(root: server) }
    }

    /// A location for messages and results: a PostgreSQL URL without its password.
    public static func display(_ location: String) -> String {
        isPostgres(location) ? PostgresStore.Location(url: location)?.display ?? "postgres://…" : location
    }

    /// Ends a store's connections (PostgreSQL pools; a SQLite store closes when released).
    public static func close(_ store: any FunnelStore) {
        (store as? PostgresStore)?.close()
    }

    private static func url(_ location: PostgresStore.Location, like base: String) -> String {
        var c = URLComponents(string: base) ?? URLComponents()
        c.path = "/" + location.database
        return c.string ?? location.display
    }

    private static func removeSQLiteFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
