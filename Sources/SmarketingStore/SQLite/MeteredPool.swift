import GRDB

/// The SQLite store's connections, counted: every read and write of the store goes through here
/// to GRDB's pool (one writer, `maximumReaderCount` readers), and the store's telemetry learns
/// how many are leased, how many callers wait and how long. GRDB keeps no such figures itself.
struct MeteredPool: Sendable {
    let raw: DatabasePool
    let telemetry: StoreTelemetry

    init(_ raw: DatabasePool, readers: Int) {
        self.raw = raw
        self.telemetry = StoreTelemetry(capacity: readers + 1)
    }

    /// Runs `access` holding a lease that ends however it ends; `access` marks the moment
    /// GRDB hands over the connection.
    private func leased<T>(_ access: (StoreTelemetry.Lease) throws -> T) rethrows -> T {
        let lease = telemetry.lease()
        defer { lease.ended() }
        return try access(lease)
    }

    private func leased<T>(_ access: (StoreTelemetry.Lease) async throws -> T) async rethrows -> T {
        let lease = telemetry.lease()
        defer { lease.ended() }
        return try await access(lease)
    }

    @_disfavoredOverload
    func read<T>(_ value: (Database) throws -> T) throws -> T {
        try leased { lease in try raw.read { db in lease.acquired(); return try value(db) } }
    }

    func read<T: Sendable>(_ value: @Sendable (Database) throws -> T) async throws -> T {
        try await leased { lease in try await raw.read { db in lease.acquired(); return try value(db) } }
    }

    @_disfavoredOverload
    func write<T>(_ updates: (Database) throws -> T) throws -> T {
        try leased { lease in try raw.write { db in lease.acquired(); return try updates(db) } }
    }

    func write<T: Sendable>(_ updates: @Sendable (Database) throws -> T) async throws -> T {
        try await leased { lease in try await raw.write { db in lease.acquired(); return try updates(db) } }
    }

    @_disfavoredOverload
    func writeWithoutTransaction<T>(_ updates: (Database) throws -> T) throws -> T {
        try leased { lease in try raw.writeWithoutTransaction { db in lease.acquired(); return try updates(db) } }
    }

    func writeWithoutTransaction<T: Sendable>(_ updates: @Sendable (Database) throws -> T) async throws -> T {
        try await leased { lease in try await raw.writeWithoutTransaction { db in lease.acquired(); return try updates(db) } }
    }
}
