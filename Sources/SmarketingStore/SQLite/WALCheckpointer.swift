import Foundation
import GRDBSQLite

/// Copies the write-ahead log into the database file from a connection of its own, on a
/// background thread, so that commits never pay for a checkpoint (which fsyncs the main file)
/// and ingest latency stays flat. Used when the store is opened with background checkpoints;
/// the writer's automatic checkpoints are then off.
final class WALCheckpointer: @unchecked Sendable {
    private var connection: OpaquePointer?
    private let condition = NSCondition()
    private var stopped = false
    private let interval: TimeInterval

    init(path: String, interval: TimeInterval = 0.2) throws {
        self.interval = interval
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            sqlite3_close(db)
            throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        sqlite3_busy_timeout(db, 1000)
        connection = db
        let thread = Thread { [self] in run() }
        thread.name = "smarketing-wal-checkpoint"
        thread.start()
    }

    private func run() {
        condition.lock()
        while !stopped {
            condition.unlock()
            var log: Int32 = 0
            var done: Int32 = 0
            // PASSIVE: copy what is committed without blocking the writer or readers.
            sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
            condition.lock()
            if !stopped { _ = condition.wait(until: Date().addingTimeInterval(interval)) }
        }
        sqlite3_close(connection)
        connection = nil
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    deinit { stop() }
}
