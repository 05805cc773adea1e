import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real PostgreSQL server for the tests: a new cluster (`initdb`) in a temporary folder,
/// started with `pg_ctl` on a free loopback port, one per test process, and a new database for
/// every store a test opens. As root the cluster runs as the `postgres` OS user (PostgreSQL
/// refuses to run as root). A watchdog process stops the cluster and removes its folder when the
/// test process ends, also when it is killed.
public enum ThrowawayPostgres {
    public enum Failure: Error, CustomStringConvertible {
        case unavailable(String)
        public var description: String {
            switch self {
            case .unavailable(let m): return m
            }
        }
    }

    /// The running cluster of this process.
    public struct Cluster: Sendable {
        public let port: Int
        /// The folder of the PostgreSQL binaries (initdb, pg_ctl, pg_dump).
        public let bin: String
        /// The data folder (nil: not known here).
        var data: String? = nil

        /// A new, empty database on this cluster; returns its URL.
        public func newDatabase(_ name: String) async throws -> String {
            let (bin, port) = (self.bin, self.port)
            try await ThrowawayPostgres.offload {
                try ThrowawayPostgres.run(bin + "/createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name], asPostgres: false)
            }
            return url(database: name)
        }

        /// Stops the server at once (what a crash or a failover looks like to the app).
        public func stop() async throws {
            guard let data else { return }
            let bin = self.bin
            try await ThrowawayPostgres.offload { try ThrowawayPostgres.run(bin + "/pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"], asPostgres: getuid() == 0) }
        }

        /// Starts it again on the same port.
        public func start() async throws {
            guard let data else { return }
            let bin = self.bin
            try await ThrowawayPostgres.offload {
                try ThrowawayPostgres.run(bin + "/pg_ctl", ["-D", data, "-l", data + "/log", "-w", "-t", "60", "start"], asPostgres: getuid() == 0)
            }
        }

        /// A URL of a database on this cluster.
        public func url(database: String) -> String { "postgres://postgres@127.0.0.1:\(port)/\(database)" }
    }

    private static let state = Mutex<Result<Cluster, Failure>?>(nil)
    private static let counter = Atomic<Int>(0)

    /// Runs blocking work (spawning and waiting for programs) on a thread of its own: on the
    /// concurrency pool (as many threads as cores) it would stall every other test meanwhile.
    public static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    /// The cluster, started on first use.
    public static func cluster() async throws -> Cluster { try await offload { try sharedCluster() } }

    static func sharedCluster() throws -> Cluster {
        try state.withLock { s in
            if let s { return try s.get() }
            let r: Result<Cluster, Failure>
            do { r = .success(try start()) } catch let f as Failure { r = .failure(f) } catch {
                r = .failure(.unavailable("\(error)"))
            }
            s = r
            return try r.get()
        }
    }

    /// A new, empty database on the cluster; returns its URL.
    public static func newDatabase(prefix: String = "smk") async throws -> String {
        try await offload { try createDatabase(prefix: prefix) }
    }

    static func createDatabase(prefix: String) throws -> String {
        let c = try sharedCluster()
        let name = "\(prefix)_\(getpid())_\(counter.add(1, ordering: .relaxed).newValue)"
        try run(c.bin + "/createdb", ["-h", "127.0.0.1", "-p", String(c.port), "-U", "postgres", name], asPostgres: false)
        return c.url(database: name)
    }

    /// A streaming replica of the cluster (started on first use): `pg_basebackup -R` of the
    /// primary, hot standby on its own port. Returns the port; `url(database:)` on a `Cluster`
    /// with it names a database there.
    public static func replica() async throws -> Cluster { try await offload { try sharedReplica() } }

    static func sharedReplica() throws -> Cluster {
        try replicaState.withLock { s in
            if let s { return try s.get() }
            let r: Result<Cluster, Failure>
            do { r = .success(try startReplica()) } catch let f as Failure { r = .failure(f) } catch {
                r = .failure(.unavailable("\(error)"))
            }
            s = r
            return try r.get()
        }
    }

    private static let replicaState = Mutex<Result<Cluster, Failure>?>(nil)

    private static func startReplica() throws -> Cluster {
        let primary = try sharedCluster()
        let asPostgres = getuid() == 0
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-pgr-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if asPostgres { try run("/bin/chown", ["postgres:postgres", dir], asPostgres: false) }
        let data = dir + "/data"
        try run(
            primary.bin + "/pg_basebackup",
            ["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres", "-D", data, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"],
            asPostgres: asPostgres
        )
        try run("/bin/chmod", ["700", data], asPostgres: asPostgres)
        let stopAs = asPostgres ? "runuser -u postgres -- " : ""
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stopAs)'\(primary.bin)/pg_ctl' -D '\(data)' -m immediate stop; rm -rf '\(dir)'"
        try run("/bin/sh", ["-c", "(" + script + ") >/dev/null 2>&1 </dev/null &"], asPostgres: false)
        let port = try freePort()
        try appendConf(data: data, port: port, dir: dir)
        try run(primary.bin + "/pg_ctl", ["-D", data, "-l", data + "/log", "-w", "-t", "60", "start"], asPostgres: asPostgres)
        return Cluster(port: port, bin: primary.bin)
    }

    // MARK: Setup

    static func binDirectory() -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["SMARKETING_PG_BIN"] { candidates.append(env) }
        // Debian keeps the server programs out of PATH, one folder per major version.
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            for v in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) { candidates.append("/usr/lib/postgresql/\(v)/bin") }
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") { candidates.append(String(dir)) }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") && FileManager.default.isExecutableFile(atPath: $0 + "/pg_ctl") }
    }

    /// A cluster of its own (not shared with other tests): for tests that stop and start it.
    /// Durable (fsync and synchronous commits on, as in production), unlike the shared one.
    public static func dedicated() async throws -> Cluster { try await offload { try start(durable: true) } }

    private static func start(durable: Bool = false) throws -> Cluster {
        guard let bin = binDirectory() else {
            throw Failure.unavailable("PostgreSQL's server programs (initdb, pg_ctl) are not installed; .ci/run installs the postgresql package")
        }
        let asPostgres = getuid() == 0
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-pg-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if asPostgres { try run("/bin/chown", ["postgres:postgres", dir], asPostgres: false) }
        let data = dir + "/data"
        try run(bin + "/initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], asPostgres: asPostgres)
        // The watchdog: stops the cluster and removes its folder once this process is gone.
        let stopAs = asPostgres ? "runuser -u postgres -- " : ""
        // (Started in the background of a shell that exits at once, so no one has to wait for it.)
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stopAs)'\(bin)/pg_ctl' -D '\(data)' -m immediate stop; rm -rf '\(dir)'"
        try run("/bin/sh", ["-c", "(" + script + ") >/dev/null 2>&1 </dev/null &"], asPostgres: false)
        var lastError = ""
        for _ in 0..<5 {
            let port = try freePort()
            do {
                // The settings go into the cluster's own configuration (the last line wins), so
                // that `restart` keeps them.
                try appendConf(data: data, port: port, dir: dir, durable: durable)
                try run(bin + "/pg_ctl", ["-D", data, "-l", data + "/log", "-w", "-t", "60", "start"], asPostgres: asPostgres)
                return Cluster(port: port, bin: bin, data: data)
            } catch {
                lastError = "\(error)"
            }
        }
        throw Failure.unavailable("the test PostgreSQL did not start: \(lastError)")
    }

    private static func appendConf(data: String, port: Int, dir: String, durable: Bool = false) throws {
        let conf = durable ? """

            port = \(port)
            unix_socket_directories = '\(dir)'
            listen_addresses = '127.0.0.1'
            max_connections = 100
            fsync = on
            synchronous_commit = on

            """ : """

            port = \(port)
            unix_socket_directories = '\(dir)'
            listen_addresses = '127.0.0.1'
            max_connections = 1000
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            shared_buffers = 256MB

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: data + "/postgresql.conf"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(conf.utf8))
        try handle.close()
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.unavailable("no socket for a free port") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw Failure.unavailable("no free loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Runs a program to its end (posix_spawn and waitpid: Foundation's Process can wait for
    /// ever from a test's task when the program leaves a server running behind it).
    @discardableResult
    static func run(_ program: String, _ args: [String], asPostgres: Bool) throws -> String {
        // (In /tmp: the postgres user may not enter the current folder.)
        let argv = ["/bin/sh", "-c", "cd /tmp && exec \"$@\"", "sh"] + (asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + [program] + args
        // Output goes to a file, not a pipe: the server pg_ctl starts inherits it and would
        // keep a pipe open for ever.
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("smk-pg-out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process reaches the child: a server pg_ctl leaves running
        // would otherwise keep the test's sockets (listening ones, and accepted connections whose
        // close the client then never sees) open for as long as it runs.
        closeFrom3(&actions)
        var cArgs = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { throw Failure.unavailable("cannot start \(argv[0]): error \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw Failure.unavailable("\((program as NSString).lastPathComponent) failed (status \(status)): \(text.suffix(600))")
        }
        return text
    }

    /// Adds "close every descriptor from 3 on" to `actions` (glibc 2.34+; Swift's Glibc module
    /// does not declare it, so it is looked up by name).
    private static func closeFrom3(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        _ = closeFrom(&actions, 3)
    }
}
