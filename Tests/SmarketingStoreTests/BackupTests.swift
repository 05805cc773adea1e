import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("SQLite backup and restore")
struct BackupTests {
    @Test("a backup taken while events stream in is one consistent moment: restored, its KPI aggregates agree with its raw history")
    func backupUnderLoad() async throws {
        let dir = BundleConformanceTests.tempDir("backup")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let demo = dir + "/bundle"
        _ = try DemoWorkspace(leads: 2_000, seed: 11).write(to: demo)
        let store = try SQLiteStore.workspace(path: dir + "/live.sqlite")
        #expect(try await BundleConformanceTests.importDir(store, demo).committed)
        var q = ListQuery()
        q.limit = 200
        let contacts = try await store.list(.contacts, q).records.map(\.id)
        let before = try await store.count(.touchpoints)

        // Events keep arriving, in batches, while the backup copies the file.
        let writer = Task {
            var sent = 0
            for round in 0..<60 {
                let events = (0..<50).map { i in
                    event("load-\(round)-\(i)", contact: contacts[(round * 50 + i) % contacts.count], at: "2025-12-0\(1 + round % 9)T10:00:00Z")
                }
                _ = try await store.ingest([IngestBatch(events: events, atomic: true, actor: tester)], at: t0)
                sent += events.count
            }
            return sent
        }
        try await Task.sleep(for: .milliseconds(50))
        let result = try await store.backup(to: dir + "/backup.sqlite") { _, _ in }
        let sent = try await writer.value
        #expect(result.integrity == "ok" && result.pages > 0 && result.bytes > 0)
        let after = try await store.count(.touchpoints)
        #expect(after == before + sent)

        // Refusals: a backup never overwrites; a restore replaces only when asked; junk is refused.
        await #expect(throws: StoreError.self) { _ = try await store.backup(to: dir + "/backup.sqlite") }
        let junk = dir + "/junk.sqlite"
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: junk))
        #expect(throws: StoreError.self) { _ = try SQLiteStore.restore(from: junk, to: dir + "/restored.sqlite", replace: false) }

        let restored = try SQLiteStore.restore(from: dir + "/backup.sqlite", to: dir + "/restored.sqlite", replace: false)
        #expect(restored.integrity == "ok")
        #expect(throws: StoreError.self) { _ = try SQLiteStore.restore(from: dir + "/backup.sqlite", to: dir + "/restored.sqlite", replace: false) }
        let copy = try SQLiteStore.workspace(path: dir + "/restored.sqlite")
        let inCopy = try await copy.count(.touchpoints)
        // Whatever moment it caught, it holds whole batches (each batch is one transaction) …
        #expect(inCopy >= before && inCopy <= after && (inCopy - before) % 50 == 0, "\(before) ≤ \(inCopy) ≤ \(after)")
        // … and its aggregates are exactly its history's.
        #expect(try await copy.verifyKPIs().agrees)
        // Restoring over an existing workspace with replace swaps it whole.
        _ = try SQLiteStore.restore(from: dir + "/backup.sqlite", to: dir + "/restored.sqlite", replace: true)
        #expect(try await SQLiteStore.workspace(path: dir + "/restored.sqlite").count(.touchpoints) == inCopy)
    }
}
