import Foundation
import Logging
import PostgresNIO
import SmarketingCore

/// Server-level work outside a workspace: scratch databases for the benchmarks and the CPU the
/// server's processes spent (to split a benchmark's CPU between the app and the database).
extension PostgresStore {
    /// A direct connection's configuration for `location`.
    static func connectionConfiguration(_ location: Location) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch location.sslMode {
        case "disable": tls = .disable
        case "require": tls = .require(try .init(configuration: .makeClientConfiguration()))
        default: tls = .prefer(try .init(configuration: .makeClientConfiguration()))
        }
        var config = PostgresConnection.Configuration(
            host: location.host,
            port: location.port,
            username: location.user,
            password: location.password,
            database: location.database,
            tls: tls
        )
        config.options.connectTimeout = .seconds(10)
        return config
    }

    /// Runs `body` on one direct connection to `location` (closed afterwards).
    static func withDirectConnection<T: Sendable>(_ location: Location, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        var logger = Logger(label: "smarketing.postgres.admin")
        logger.logLevel = .critical
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                on: PostgresClient.defaultEventLoopGroup.next(),
                configuration: try connectionConfiguration(location),
                id: 0,
                logger: logger
            ).get()
        } catch {
            throw StoreError.unavailable("cannot reach PostgreSQL at \(location.display): \(reason(error))")
        }
        do {
            let value = try await body(connection)
            try? await connection.close()
            return value
        } catch {
            try? await connection.close()
            throw StoreError.invalid("PostgreSQL at \(location.display): \(reason(error))")
        }
    }

    /// Creates an empty database `name` on the server of `location` (dropping one of that name
    /// first); returns its location. The role needs CREATEDB.
    public static func createScratchDatabase(on location: Location, name: String) async throws -> Location {
        guard name.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw StoreError.invalid("a scratch database name must be lowercase letters, digits and underscores: \(name.prefix(70))")
        }
        try await withDirectConnection(location) { c in
            try await c.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)"), logger: c.logger).consume()
            try await c.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\" TEMPLATE template0"), logger: c.logger).consume()
        }
        var scratch = location
        scratch.database = name
        return scratch
    }

    /// Drops the database `name` (its connections are ended first); a missing one is no error.
    public static func dropScratchDatabase(on location: Location, name: String) async throws {
        guard name.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil, name != location.database else { return }
        try await withDirectConnection(location) { c in
            try await c.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)"), logger: c.logger).consume()
        }
    }

    /// The bytes the database at `location` takes on disk (`pg_database_size`).
    public static func databaseBytes(_ location: Location) async throws -> Int {
        try await withDirectConnection(location) { c in
            var size = 0
            for try await (bytes) in try await c.query("SELECT pg_database_size(current_database())", logger: c.logger).decode(Int64.self) {
                size = Int(clamping: bytes)
            }
            return size
        }
    }

    /// The process id of the PostgreSQL server (the postmaster) behind `location`, when that
    /// server runs on this machine (its backend's process is visible here); else nil.
    public static func localServerProcessID(_ location: Location) async throws -> Int32? {
        let backend: Int32 = try await withDirectConnection(location) { c in
            var pid: Int32 = 0
            for try await (p) in try await c.query("SELECT pg_backend_pid()", logger: c.logger).decode(Int32.self) { pid = p }
            return pid
        }
        // The backend was forked by the postmaster: its parent in /proc/PID/stat.
        guard let stat = ProcStat(pid: backend) else { return nil }
        return stat.parent
    }
}

/// Touchpoint month partitions (migration 7).
extension PostgresStore {
    /// Moves touchpoints of months without a partition out of the default partition into their
    /// own, and makes this month's and the next two months' partitions: one month per
    /// transaction (attaching locks the default partition until the commit).
    public func housekeeping(at: Timestamp) async throws -> Int {
        let due = try await read { c in
            try await c.rows("SELECT to_char(m, 'YYYY-MM-DD HH24:MI:SS') FROM touchpoint_months_due(?) AS m", [.int(at.milliseconds)]).compactMap { $0.text(0) }
        }
        var made = 0
        for month in due {
            let created = try await write { c in
                try await c.one("SELECT touchpoint_month_partition(?::timestamp)", [.text(month)])?.int(0) ?? 0
            }
            if created != 0 { made += 1 }
        }
        return made
    }

    public func touchpointPartitions() async throws -> [TouchpointPartition] {
        try await read { c in try await Self.touchpointPartitions(c) }
    }

    /// The touchpoint partitions as `c` sees them. `countDefault: false` leaves the default
    /// partition uncounted (its estimate instead) and so unlocked: an import asks inside its
    /// transaction, and a month attached meanwhile needs the default partition free.
    static func touchpointPartitions(_ c: PGConn, countDefault: Bool = true) async throws -> [TouchpointPartition] {
        let defaultRows = countDefault ? "(SELECT count(*) FROM touchpoints_default)" : "greatest(c.reltuples, 0)::bigint"
        return try await c.rows(
            """
            SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid),
                   CASE WHEN c.relname = 'touchpoints_default' THEN \(defaultRows) ELSE greatest(c.reltuples, 0)::bigint END,
                   pg_total_relation_size(c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'touchpoints'::regclass
            ORDER BY c.relname = 'touchpoints_default', c.relname
            """
        ).map { r in
            // "FOR VALUES FROM ('1735689600000') TO ('1738368000000')", or "DEFAULT".
            let bounds = (r.text(1) ?? "").split(whereSeparator: { !$0.isNumber && $0 != "-" }).compactMap { Int64($0) }
            return TouchpointPartition(
                name: r.text(0) ?? "",
                from: bounds.count == 2 ? Timestamp(milliseconds: bounds[0]) : nil,
                to: bounds.count == 2 ? Timestamp(milliseconds: bounds[1]) : nil,
                rows: Int(clamping: r.int(2) ?? 0),
                bytes: Int(clamping: r.int(3) ?? 0)
            )
        }
    }
}

/// One process's line of `/proc/PID/stat`: its parent and the CPU it has used. Read by hand:
/// no package reads Linux process accounting, and it is four fields.
public struct ProcStat: Sendable {
    public var parent: Int32
    /// User plus system CPU, in seconds.
    public var cpuSeconds: Double
    /// User plus system CPU of its children that have ended (and were waited for), in seconds.
    public var endedChildrenCPUSeconds: Double

    public init?(pid: Int32) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state, ppid, … utime is field 14 and stime field 15 (1-based).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let ppid = Int32(fields[1]), let utime = Double(fields[11]), let stime = Double(fields[12]),
            let cutime = Double(fields[13]), let cstime = Double(fields[14])
        else { return nil }
        let ticks = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
        parent = ppid
        cpuSeconds = (utime + stime) / ticks
        endedChildrenCPUSeconds = (cutime + cstime) / ticks
    }

    /// CPU seconds used so far by `root` and every process it started, running or ended (one
    /// level: PostgreSQL's server forks its backends and workers directly).
    public static func treeCPUSeconds(root: Int32) -> Double {
        var total = ProcStat(pid: root).map { $0.cpuSeconds + $0.endedChildrenCPUSeconds } ?? 0
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return total }
        for entry in entries {
            guard let pid = Int32(entry), pid != root, let stat = ProcStat(pid: pid), stat.parent == root else { continue }
            total += stat.cpuSeconds
        }
        return total
    }
}
