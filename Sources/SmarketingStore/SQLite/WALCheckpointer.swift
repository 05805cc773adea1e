import Foundation
import GRDBSQLite

/// Copies the write-ahead log into the database file from a connection of its own, on a
/// background thread, so that commits never pay for a checkpoint (which fsyncs the main file)
/// and ingest latency stays flat. Used when the store is opened with background checkpoints;
/// the writer's automatic checkpoints are then off.
///
/// A passive checkpoint never makes the log start over: SQLite rewinds it only when a write
/// begins after a checkpoint copied every frame and no reader still reads from it, which under
/// steady writes and reads never happens, and the file grew without bound (6 MB a second in the
/// soak). So when the log holds more than `resetFrames` frames, the pass calls `reset`, which
/// runs a TRUNCATE checkpoint on the store's writer connection (so no writer races it), waiting
/// at most 10 ms for readers of older snapshots; on a busy moment it is tried again next pass.
final class WALCheckpointer: @unchecked Sendable {
    private var connection: OpaquePointer?
    private let condition = NSCondition()
    private var stopped = false
    /// The thread has closed its connection and ended.
    private var finished = false
    private let interval: TimeInterval
    private let resetFrames: Int32
    private let reset: @Sendable () -> Void

    /// `resetFrames`: 16,384 frames are 64 MiB of 4 KiB pages.
    init(path: String, interval: TimeInterval = 0.2, resetFrames: Int32 = 16_384, reset: @escaping @Sendable () -> Void) throws {
        self.interval = interval
        self.resetFrames = resetFrames
        self.reset = reset
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            sqlite3_close(db)
            throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        sqlite3_busy_timeout(db, 1000)
        // A connection opens the log only when it first reads: until then a checkpoint finds no
        // log, does nothing and reports -1 frames (this checkpointer did nothing at all before
        // this read was added, and the log grew for as long as a server ran).
        guard sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_close(db)
            throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: message])
        }
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
            if log > resetFrames { reset() }
            condition.lock()
            if !stopped { _ = condition.wait(until: Date().addingTimeInterval(interval)) }
        }
        sqlite3_close(connection)
        connection = nil
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the thread and waits until it has closed its connection: a process that exits
    /// right after must not leave it inside SQLite.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    deinit { stop() }
}
