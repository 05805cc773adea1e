import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: workspace state")
struct StateConformanceTests {
    /// What `db copy` does with the state, from one backend into the other: the state read from
    /// the source, written into a target holding the same records, reads back byte for byte.
    @Test("the state read from one backend and replaced into the other reads back the same; a token keeps working; replacing twice changes nothing", arguments: Backend.allCases)
    func copyAcross(backend: Backend) async throws {
        let demo = BundleConformanceTests.tempDir("state-demo")
        let bundle = BundleConformanceTests.tempDir("state-bundle")
        let spoolA = BundleConformanceTests.tempDir("state-a")
        let spoolB = BundleConformanceTests.tempDir("state-b")
        defer { for d in [demo, bundle, spoolA, spoolB] { try? FileManager.default.removeItem(atPath: d) } }
        _ = try DemoWorkspace(leads: 300, seed: 4).write(to: demo)
        let a = try await backend.makeRoles()
        #expect(try await BundleConformanceTests.importDir(a.store, demo).committed)
        // State of several kinds: a setting, a token, a password, the import's audit entries and
        // imported stage history, with text that needs care (quotes, commas, line breaks).
        try await a.store.setSetting("workspace.timezone", "Europe/Berlin")
        try await a.store.setSetting("note", "a \"quoted\", comma-separated\nline")
        let tokenHash = String(repeating: "ab", count: 32)
        _ = try await a.store.createToken(userID: "u-admin", role: .admin, name: "copy", hash: tokenHash, actor: tester, at: t0)
        try await a.store.setPasswordHash(userID: "u-admin", hash: "pbkdf2$1$c2FsdA==$aGFzaA==", actor: tester, at: t0)
        let counts = try await StateSpool.write(from: a.store, to: spoolA)
        #expect((counts["settings"] ?? 0) >= 2 && counts["api_tokens"] == 1 && (counts["audit_log"] ?? 0) > 0 && (counts["lifecycle_transitions"] ?? 0) > 0, "\(counts)")

        let other: Backend = backend == .sqlite ? .postgres : .sqlite
        let b = try await other.makeRoles()
        _ = try await Bundle.export(from: a.store, to: bundle)
        #expect(try await BundleConformanceTests.importDir(b.store, bundle).committed)
        try await b.store.addMergeHistory(try await a.store.mergeHistory())
        for _ in 0..<2 {
            try await b.store.replaceState(StateTable.all, from: StateSpool.Reader(directory: spoolA))
        }
        _ = try await StateSpool.write(from: b.store, to: spoolB)
        for table in StateTable.all {
            let x = FileManager.default.contents(atPath: spoolA + "/" + table.name + ".csv")
            let y = FileManager.default.contents(atPath: spoolB + "/" + table.name + ".csv")
            #expect(x != nil && x == y, "\(table.name) differs after the copy from \(backend) to \(other)")
        }
        #expect(try await b.store.principal(tokenHash: tokenHash)?.userID == "u-admin")
        #expect(try await b.store.setting("note") == "a \"quoted\", comma-separated\nline")
        let verified = try await b.store.verifyKPIs()
        #expect(verified.mismatches.isEmpty)
    }
}
