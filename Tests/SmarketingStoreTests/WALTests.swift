import Foundation
import SmarketingCore
import SmarketingStore
import Testing

@Suite("SQLite write-ahead log under steady load")
struct WALTests {
    /// The server's store copies the log in the background. Under steady writes with readers
    /// always present, passive checkpoints alone never let the log start over and the file grew
    /// without bound (6 MB a second in the soak); the checkpointer now resets it past a size.
    @Test("with writers and readers never pausing, the log file stays bounded and every write is kept")
    func logStaysBounded() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-wal-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/w.sqlite"
        // 256 frames: a reset past 1 MiB of 4 KiB pages.
        let store = try SQLiteStore(path: path, backgroundCheckpoints: true, walResetFrames: 256)
        let end = ContinuousClock.now + .seconds(4)
        let written = try await withThrowingTaskGroup(of: Int.self) { g in
            g.addTask {
                var n = 0
                while ContinuousClock.now < end {
                    let fields: [String: FieldValue] = ["id": .text("ct-\(n)"), "email": .text("p\(n)@wal.example"), "created_at": .timestamp(t0), "first_name": .text(String(repeating: "x", count: 400))]
                    try await store.create(record(.contacts, fields), actor: tester, at: t0)
                    n += 1
                }
                return n
            }
            // Readers that overlap, so some reader is always in the log.
            for r in 0..<3 {
                g.addTask {
                    var q = ListQuery()
                    q.limit = 50
                    var reads = 0
                    while ContinuousClock.now < end {
                        _ = try await store.list(.contacts, q)
                        reads += 1
                        if r == 0 { try await Task.sleep(for: .milliseconds(1)) }
                    }
                    return 0
                }
            }
            return try await g.reduce(0, +)
        }
        let wal = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(written > 200, "the writer made \(written) commits")
        // Without resets the log held every commit since the start (tens of MiB here).
        #expect(wal < 12 << 20, "the log is \(wal) bytes after \(written) commits")
        #expect(try await store.count(.contacts) == written)
    }
}
