import SmarketingStore

extension SQLiteStore {
    /// The workspace store as the product runs it: scores, MQL moves, routing and SLA clocks on,
    /// read with the project's model and configuration file readers. One place names them all,
    /// so a new reader reaches the CLI, the server and the tests together.
    public static func workspace(path: String, backgroundCheckpoints: Bool = false) throws -> SQLiteStore {
        try SQLiteStore(
            path: path,
            backgroundCheckpoints: backgroundCheckpoints,
            scoringModels: ScoringModelFile.parser,
            handoverConfigs: HandoverConfigFile.parser
        )
    }
}

/// The roles every backend serves today: records, access, bundles, identity, ingest, scoring and
/// the handover.
public typealias PortableStore = RecordStore & AccessStore & BundleStore & IdentityStore & IngestStore & ScoringStore & HandoverStore

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
    public static func open(_ location: String, backgroundCheckpoints: Bool = false, readReplica: String? = nil) async throws -> any FunnelStore {
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
        return try SQLiteStore.workspace(path: location, backgroundCheckpoints: backgroundCheckpoints)
    }
}
