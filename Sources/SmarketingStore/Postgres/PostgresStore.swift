import Foundation
import Logging
import PostgresNIO
import SmarketingCore
import Synchronization

/// The PostgreSQL store: one database shared by several stateless app instances, through
/// PostgresNIO's async connection pool.
///
/// Every write is one transaction at READ COMMITTED; what two instances could both decide (one
/// contact per email, one open handover per contact, a clock fired once) is made single by a
/// unique index, a row lock or `FOR UPDATE SKIP LOCKED`, never by this process's memory. A
/// transaction that loses a serialization race or a deadlock is run again.
public final class PostgresStore: Sendable {
    let client: PostgresClient
    /// Connections in use and the aggregates' refresh times, for `/metrics`.
    public let telemetry: StoreTelemetry
    private let runner: Task<Void, Never>
    /// A streaming replica for dashboards, reports, exports and analyses (nil: the primary).
    let replica: PostgresClient?
    private let replicaRunner: Task<Void, Never>?
    /// Where the replica is, without its password (nil: none).
    public let replicaLocation: String?
    let logger: Logger
    /// Reads stored scoring models; nil turns scoring off.
    let modelParser: ScoringModelParser?
    /// Reads stored handover configurations; nil turns routing and SLA clocks off.
    let handoverParser: HandoverConfigParser?
    /// Who hears a rebuild's progress (a settings change run with `progress:`); nil: nobody.
    let rebuildProgress = Mutex<Listener<RebuildProgress>?>(nil)
    /// Makes ids for records the store creates.
    let makeID: @Sendable (String) -> String
    /// Where the store is, without its password (for messages).
    public let displayLocation: String
    /// Bounds how many requests hold or wait for a connection.
    let gate: ConnectionGate
    /// The longest a request waits for a pooled connection once admitted (at least 5 s).
    let connectionWait: Duration
    /// A connection outside the pool (the start-up check, the change listener).
    let directConfiguration: PostgresConnection.Configuration
    /// Changes committed by any instance, fanned out to this process's subscribers.
    let feed = ChangeFeed()
    /// The active scorer, checked against the database once per transaction.
    let scorerCache = Mutex<CachedScorer?>(nil)
    /// The active handover configuration, checked against the database once per transaction.
    let handoverCache = Mutex<(version: Int, config: HandoverConfig)?>(nil)
    /// The KPI aggregates' version as last read, and when (uptime nanoseconds).
    let versionCache = Mutex<(value: Int64, at: UInt64)?>(nil)
    /// Whether the change feed keeps `versionCache` current.
    let versionWatcher = Mutex(false)
    /// Whether this process runs an apply or a rescoring now.
    let applying = Mutex(false)

    /// A location `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    public struct Location: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var sslMode: String

        /// Parses a URL; nil when it is not a PostgreSQL URL.
        public init?(url text: String) {
            guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let c = URLComponents(string: text) else { return nil }
            host = c.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
            port = c.port ?? 5432
            user = c.user.flatMap { $0.removingPercentEncoding } ?? ProcessInfo.processInfo.environment["PGUSER"] ?? "postgres"
            password = c.password.flatMap { $0.removingPercentEncoding } ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
            let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
            database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
            sslMode = c.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
            guard (1...65535).contains(port), ["disable", "prefer", "require"].contains(sslMode) else { return nil }
        }

        /// The URL without the password.
        public var display: String { "postgres://\(user)@\(host):\(port)/\(database)" }
    }

    /// Opens the database at `location` (migrating it when needed, under an advisory lock so
    /// that instances starting together migrate once). Throws `StoreError.unavailable` with one
    /// sentence when the server cannot be reached.
    public init(
        location: Location,
        maximumConnections: Int = 20,
        scoringModels: ScoringModelParser? = nil,
        handoverConfigs: HandoverConfigParser? = nil,
        makeID: @escaping @Sendable (String) -> String = { prefix in prefix + "-" + UUID().uuidString.lowercased() },
        migrate: Bool = true,
        connectTimeoutSeconds: Int = 10,
        maximumWaiting: Int? = nil,
        connectionWait: Duration = .seconds(5),
        readReplica: Location? = nil
    ) async throws {
        let config = Self.poolConfiguration(location, maximumConnections: maximumConnections)
        // A lease (a new connection may need opening) is given at least 5 s, whatever the
        // admission wait: under load opening one can take longer than a short queue wait.
        self.connectionWait = max(connectionWait, .seconds(5))
        self.telemetry = StoreTelemetry(capacity: max(2, maximumConnections))
        self.gate = ConnectionGate(
            permits: max(2, maximumConnections),
            maxWaiting: maximumWaiting ?? 8 * max(2, maximumConnections),
            timeout: connectionWait
        )
        var logger = Logger(label: "smarketing.postgres")
        logger.logLevel = .critical
        self.logger = logger
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        self.client = client
        self.runner = Task { await client.run() }
        if let readReplica {
            let replicaConfig = Self.poolConfiguration(readReplica, maximumConnections: maximumConnections)
            let replica = PostgresClient(configuration: replicaConfig, backgroundLogger: logger)
            self.replica = replica
            self.replicaRunner = Task { await replica.run() }
            self.replicaLocation = readReplica.display
        } else {
            self.replica = nil
            self.replicaRunner = nil
            self.replicaLocation = nil
        }
        self.modelParser = scoringModels
        self.handoverParser = handoverConfigs
        self.makeID = makeID
        self.displayLocation = location.display
        // One direct connection first: the pool retries for ever and hides the server's reason
        // (a wrong password, a missing database); this one says it in a sentence.
        var direct = try Self.connectionConfiguration(location)
        direct.options.connectTimeout = .seconds(Int64(connectTimeoutSeconds))
        self.directConfiguration = direct
        do {
            let connection = try await PostgresConnection.connect(
                on: PostgresClient.defaultEventLoopGroup.next(),
                configuration: direct,
                id: 0,
                logger: logger
            ).get()
            try? await connection.close()
        } catch {
            runner.cancel()
            replicaRunner?.cancel()
            throw StoreError.unavailable("cannot reach PostgreSQL at \(location.display): \(Self.reason(error))")
        }
        if migrate {
            do { try await PostgresSchema.migrate(self) } catch {
                runner.cancel()
                replicaRunner?.cancel()
                throw error
            }
        }
    }

    /// The pool of `location`: its TLS mode, at most `maximumConnections` connections (two at
    /// least), 5 s to connect, `sessionSettings` on every connection. The primary and the read
    /// replica are configured alike.
    static func poolConfiguration(_ location: Location, maximumConnections: Int) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch location.sslMode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        var config = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.user,
            password: location.password,
            database: location.database,
            tls: tls
        )
        config.options.maximumConnections = max(2, maximumConnections)
        config.options.connectTimeout = .seconds(5)
        config.options.additionalStartupParameters = sessionSettings
        return config
    }

    /// Settings every pooled connection starts with. No parallel query: the store's statements
    /// are short index reads and writes, where starting parallel workers costs more than it
    /// saves (the dashboard read at 1M leads: 8.7 ms with two workers, 3.9 ms without), and a
    /// worker takes a core from the concurrent requests.
    static let sessionSettings: [(String, String)] = [("max_parallel_workers_per_gather", "0")]

    deinit {
        runner.cancel()
        replicaRunner?.cancel()
        feed.stop()
    }

    /// Stops the pools and the change listener.
    public func close() {
        runner.cancel()
        replicaRunner?.cancel()
        feed.stop()
    }

    /// A short reason from a PostgresNIO error (its own description is long and names the query).
    static func reason(_ error: any Error) -> String {
        if error is ConnectionWaitTimeout { return "no connection could be had in time (is the server running and reachable?)" }
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] { return message }
            switch e.code {
            case .connectionError: return "the connection failed" + (e.underlying.map { " (\($0))" } ?? "")
            case .serverClosedConnection: return "the server closed the connection"
            case .poolClosed: return "the connection pool is closed"
            default: return "\(e.code)"
            }
        }
        if let e = error as? StoreError { return e.description }
        let text = "\(error)"
        if text.contains("ConnectionPoolError") || text.contains("connectionCreation") {
            return "no connection could be made (is the server running and accepting connections at this address?)"
        }
        return text
    }

    // MARK: Transactions

    /// A read on a pooled connection.
    func read<T: Sendable>(_ body: (PGConn) async throws -> T) async throws -> T {
        try await gated { try await self.ungatedRead(body) }
    }

    /// A read for a dashboard, a report, an export or an analysis: on the read replica when one
    /// is configured (it may lag the primary by the replication delay), else on the primary. A
    /// replica that cannot be reached sends the read to the primary.
    func reportRead<T: Sendable>(_ body: (PGConn) async throws -> T) async throws -> T {
        guard let replica else { return try await read(body) }
        do {
            return try await gated {
                try await replica.withConnection(timeout: connectionWait) { connection in try await body(PGConn(connection: connection, logger: logger)) }
            }
        } catch let e as StoreError {
            throw e
        } catch {
            if case .unavailable = PGErrorClass.of(error) { return try await read(body) }
            throw Self.storeError(error)
        }
    }

    /// Runs `work` holding one of the gate's permits (released when it ends, however it ends).
    func gated<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        let lease = telemetry.lease()
        defer { lease.ended() }
        try await gate.acquire()
        lease.acquired()
        do {
            let value = try await work()
            await gate.release()
            return value
        } catch {
            await gate.release()
            throw error
        }
    }

    private func ungatedRead<T: Sendable>(_ body: (PGConn) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection(timeout: connectionWait) { connection in
                try await body(PGConn(connection: connection, logger: logger))
            }
        } catch let e as StoreError {
            throw e
        } catch {
            throw Self.storeError(error)
        }
    }

    /// A write transaction, run again (up to 8 times) when PostgreSQL reports a serialization
    /// failure or a deadlock; nothing of a failed attempt stays.
    func write<T: Sendable>(lease: Duration? = nil, _ body: (PGConn) async throws -> T) async throws -> T {
        try await gated { try await self.ungatedWrite(lease: lease ?? connectionWait, body) }
    }

    private func ungatedWrite<T: Sendable>(lease: Duration, _ body: (PGConn) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withConnection(timeout: lease) { connection in
                    let c = PGConn(connection: connection, logger: logger)
                    try await c.script("BEGIN")
                    do {
                        let value = try await body(c)
                        // The KPI aggregates follow every change, in its transaction.
                        try await self.refreshKPIs(c)
                        // Delivered to every instance's listener when (and only if) this commits.
                        try await c.execute("SELECT pg_notify('\(ChangeFeed.channel)', '')")
                        try await c.script("COMMIT")
                        return value
                    } catch {
                        try? await c.script("ROLLBACK")
                        throw error
                    }
                }
            } catch let e as StoreError {
                throw e
            } catch {
                if case .retry = PGErrorClass.of(error), attempt < 8 {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
                    continue
                }
                throw Self.storeError(error)
            }
        }
    }

    /// What a PostgreSQL error means for the caller.
    static func storeError(_ error: any Error) -> any Error {
        switch PGErrorClass.of(error) {
        case .unavailable: return StoreError.unavailable("the database is not reachable: \(reason(error))")
        case .uniqueViolation(let c): return StoreError.conflict("a record with this key exists\(c.map { " (\($0))" } ?? "")")
        case .badText:
            // Input reaches here unchanged (SQLite stores it): say what PostgreSQL refuses.
            return StoreError.invalid("a text value contains the NUL character (U+0000), which the PostgreSQL store cannot hold")
        default:
            guard let e = error as? PSQLError else { return error }
            // The server's own words and the statement, never the bound values (they may be
            // personal data or token hashes).
            var text = "PostgreSQL: " + reason(error)
            if let state = e.serverInfo?[.sqlState] { text += " [\(state)]" }
            if let detail = e.serverInfo?[.detail] { text += "; " + detail }
            if let q = e.query { text += " in: " + String(q.sql.prefix(300)) }
            return DatabaseFailure(description: text)
        }
    }

    // MARK: Settings and audit

    public func setting(_ key: String) async throws -> String? {
        try await read { c in try await c.one("SELECT value FROM settings WHERE key = ?", [.text(key)])?.text(0) }
    }

    public func setSetting(_ key: String, _ value: String) async throws {
        try await write { c in
            try await c.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [.text(key), .text(value)]
            )
        }
    }

    public func audit(limit: Int, before: Int64?) async throws -> [AuditEntry] {
        try await read { c in
            try await c.rows(
                "SELECT seq, at, actor, action, resource, record_id, detail FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                [.int(before ?? Int64.max), .int(Int64(max(0, min(limit, 100_000))))]
            ).map {
                AuditEntry(
                    seq: $0.int(0) ?? 0,
                    at: Timestamp(milliseconds: $0.int(1) ?? 0),
                    actor: $0.text(2) ?? "",
                    action: $0.text(3) ?? "",
                    resource: $0.text(4) ?? "",
                    recordID: $0.text(5) ?? "",
                    detail: $0.text(6) ?? ""
                )
            }
        }
    }

    static func audit(_ c: PGConn, _ actor: Actor, _ at: Timestamp, _ action: String, _ resource: String, _ id: String, _ detail: String) async throws {
        try await c.execute(
            "INSERT INTO audit_log(at, actor, action, resource, record_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [.int(at.milliseconds), .text(actor.userID + " (" + actor.via + ")"), .text(action), .text(resource), .text(id), .text(detail)]
        )
    }
}

/// A database error that is not the caller's to fix (a bug or an operations problem).
public struct DatabaseFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
}

// The roles PostgreSQL serves so far; the others follow (see docs/SCALE.md, "Status").
extension PostgresStore: RecordStore, AccessStore {}

extension PostgresStore {
    /// Applies the migrations the database lacks (under the advisory lock); returns their names.
    public func migrate() async throws -> [String] { try await PostgresSchema.migrate(self) }

    /// How many migrations this build knows.
    public static var migrationCount: Int { PostgresSchema.count }

    /// The applied migrations, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await read { c in
            try await c.rows("SELECT version, name FROM schema_migrations ORDER BY version").map { "\($0.int(0) ?? 0) \($0.text(1) ?? "")" }
        }
    }
}

extension PostgresStore {
    /// The views a BI tool reads (docs/KPIS.md, docs/SCALE.md).
    public static let reportingViews = [
        "reporting_kpi_cells", "reporting_open_pipeline", "reporting_contact_facts", "reporting_opportunity_facts", "reporting_cost_facts",
    ]

    /// Sets up `role` to read the reporting views and nothing else: created (with LOGIN, without
    /// a password) when missing; CONNECT on this database, USAGE on its schema, SELECT on the
    /// views. Returns whether the role was created.
    public func grantBI(role: String) async throws -> Bool {
        guard role.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw StoreError.invalid("the role name \"\(role.prefix(70))\" must be lowercase letters, digits and underscores (at most 63, not starting with a digit)")
        }
        return try await write { c in
            let created = try await c.one("SELECT 1 FROM pg_roles WHERE rolname = ?", [.text(role)]) == nil
            if created { try await c.script("CREATE ROLE \"\(role)\" LOGIN") }
            let database = try await c.one("SELECT current_database()")?.text(0) ?? ""
            try await c.script("GRANT CONNECT ON DATABASE \"\(database.replacingOccurrences(of: "\"", with: "\"\""))\" TO \"\(role)\"")
            try await c.script("GRANT USAGE ON SCHEMA public TO \"\(role)\"")
            try await c.script("GRANT SELECT ON \(Self.reportingViews.joined(separator: ", ")) TO \"\(role)\"")
            return created
        }
    }
}
