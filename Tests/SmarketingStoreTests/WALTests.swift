import Foundation
import SmarketingCore
import SmarketingStore
import Synchronization
import Testing

@Suite("SQLite write-ahead log under steady load")
struct WALTests {
    /// The server's store copies the log in the background. Under steady writes with readers
    /// always present, passive checkpoints alone never let the log start over and the file grew
    /// without bound (6 MB a second in the soak); the checkpointer now resets it past a size.
    @Test("with writers and readers never pausing, the log file stays bounded and every write is kept")
    func logStaysBounded() async throws {
        let dir = BundleConformanceTests.tempDir("smk-wal")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/w.sqlite"
        // 256 frames: a reset past 1 MiB of 4 KiB pages.
        let store = try SQLiteStore(path: path, backgroundCheckpoints: true, walResetFrames: 256)
        // A fixed amount of work, not a time: on a loaded machine the tasks may start late.
        let commits = 800
        let writing = WritingFlag()
        let written = try await withThrowingTaskGroup(of: Int.self) { g in
            g.addTask {
                defer { writing.done() }
                for n in 0..<commits {
                    let fields: [String: FieldValue] = ["id": .text("ct-\(n)"), "email": .text("p\(n)@wal.example"), "created_at": .timestamp(t0), "first_name": .text(String(repeating: "x", count: 400))]
                    try await store.create(record(.contacts, fields), actor: tester, at: t0)
                }
                return commits
            }
            // Readers that overlap for as long as the writer writes, so some reader is always in
            // the log.
            for r in 0..<3 {
                g.addTask {
                    var q = ListQuery()
                    q.limit = 50
                    while writing.isWriting {
                        _ = try await store.list(.contacts, q)
                        if r == 0 { try await Task.sleep(for: .milliseconds(1)) }
                    }
                    return 0
                }
            }
            return try await g.reduce(0, +)
        }
        let wal = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        // Without resets the log held every commit since the start (tens of MiB here).
        #expect(wal < 12 << 20, "the log is \(wal) bytes after \(written) commits")
        #expect(try await store.count(.contacts) == written)
    }
}

/// Whether the test's writer still writes, shared with its readers.
final class WritingFlag: Sendable {
    private let writing = Atomic<Bool>(true)
    var isWriting: Bool { writing.load(ordering: .relaxed) }
    func done() { writing.store(false, ordering: .relaxed) }
}
