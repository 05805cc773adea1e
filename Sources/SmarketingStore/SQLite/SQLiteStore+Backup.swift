import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import SmarketingCore

/// What a backup or a restore did.
public struct BackupResult: Sendable, Codable, Hashable {
    public var file: String
    public var pages: Int
    public var bytes: Int64
    public var seconds: Double
    /// `ok`, or what SQLite's integrity check found in the copy.
    public var integrity: String
}

extension SQLiteStore {
    public func schemaVersions() async throws -> (applied: Int, known: Int) {
        try await pool.read { db in (try SQLiteSchema.migrator.appliedMigrations(db).count, SQLiteSchema.migrator.migrations.count) }
    }

    public func queueStats(now: Timestamp) async throws -> QueueStats {
        try await pool.read { db in
            var q = QueueStats()
            if let r = try Row.fetchOne(db, sql: QueueStats.webhooks, arguments: [now.milliseconds]) {
                q.webhooksPending = r[0]
                q.webhooksOldestPendingAt = (r[1] as Int64?).map(Timestamp.init(milliseconds:))
                q.webhooksFailed = r[2]
                q.writebacksPending = r[3]
                q.writebacksOldestPendingAt = (r[4] as Int64?).map(Timestamp.init(milliseconds:))
                q.writebacksFailed = r[5]
                q.slaClocksDue = r[6]
                q.slaClocksOpen = r[7]
            }
            q.connections = try Row.fetchAll(db, sql: QueueStats.connectionsSQL).map {
                (name: $0[0], vendor: $0[1], lastSyncAt: ($0[2] as Int64?).map(Timestamp.init(milliseconds:)))
            }
            return q
        }
    }

    /// An online backup to `file` (which must not exist) through SQLite's backup API: one read
    /// transaction, so the copy is the workspace at one moment while writers go on (WAL), then
    /// the copy's integrity is checked. `progress` hears (copied pages, total pages).
    public func backup(to file: String, progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> BackupResult {
        let started = DispatchTime.now().uptimeNanoseconds
        guard !FileManager.default.fileExists(atPath: file) else {
            throw StoreError.conflict("\(file) exists; a backup never overwrites a file (choose a new name)")
        }
        let partial = file + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        var pages = 0
        do {
            let destination = try DatabaseQueue(path: partial)
            try pool.raw.backup(to: destination, pagesPerStep: 1_024) { p in
                pages = p.totalPageCount
                progress?(p.completedPageCount, p.totalPageCount)
            }
            let integrity = try await destination.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }.joined(separator: "; ")
            try destination.close()
            guard integrity == "ok" else { throw StoreError.invalid("the backup's integrity check failed: \(integrity.prefix(300))") }
            // Only a whole, checked copy takes the name: a crash leaves `.partial`, never a bad backup.
            try FileManager.default.moveItem(atPath: partial, toPath: file)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64) ?? 0
            return BackupResult(
                file: file, pages: pages, bytes: bytes, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, integrity: integrity
            )
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    /// Restores a backup into `target` (a workspace file; stop the server first): the backup is
    /// checked (SQLite integrity, the workspace's schema), copied beside the target, and renamed
    /// over it, so the target is either the old workspace or the whole backup.
    public static func restore(from file: String, to target: String, replace: Bool) throws -> BackupResult {
        let started = DispatchTime.now().uptimeNanoseconds
        guard FileManager.default.fileExists(atPath: file) else { throw StoreError.missing("there is no backup file \(file)") }
        if FileManager.default.fileExists(atPath: target), !replace {
            throw StoreError.conflict("\(target) exists; restoring replaces it only with --replace (stop the server first)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        let source: DatabaseQueue
        do {
            source = try DatabaseQueue(path: file, configuration: configuration)
        } catch {
            throw StoreError.invalid("\(file) is not an SQLite database: \(error)")
        }
        let (integrity, hasSchema) = try source.read { db -> (String, Bool) in
            let check = try String.fetchAll(db, sql: "PRAGMA quick_check").joined(separator: "; ")
            let tables = try db.tableExists("contacts") && db.tableExists("kpi_cells") && db.tableExists("grdb_migrations")
            return (check, tables)
        }
        guard integrity == "ok" else { throw StoreError.invalid("\(file) fails SQLite's integrity check: \(integrity.prefix(300))") }
        guard hasSchema else { throw StoreError.invalid("\(file) is not a smarketing workspace (no contacts, KPI or migration tables)") }
        let partial = target + ".restoring"
        for f in [partial, partial + "-wal", partial + "-shm"] { try? FileManager.default.removeItem(atPath: f) }
        var pages = 0
        let destination = try DatabaseQueue(path: partial)
        try source.backup(to: destination) { pages = $0.totalPageCount }
        try destination.close()
        try source.close()
        // The old workspace's WAL belongs to the old file: it goes with it.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target + suffix) }
        // rename(2) swaps the file in one step (Foundation's replaceItemAt is unreliable on Linux).
        guard rename(partial, target) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(atPath: partial)
            throw StoreError.unavailable("cannot put the restored workspace at \(target): \(String(cString: strerror(code)))")
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int64) ?? 0
        return BackupResult(
            file: target, pages: pages, bytes: bytes, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, integrity: integrity
        )
    }
}
