import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A CLI process run to be killed: started, and SIGKILLed after `delay` unless it ended first.
/// Answers whether it was still running when killed.
func killCLI(_ arguments: [String], after delay: Duration) async throws -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try smarketingBinary())
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    try await Task.sleep(for: delay)
    let running = p.isRunning
    if running { kill(p.processIdentifier, SIGKILL) }
    while p.isRunning { try await Task.sleep(for: .milliseconds(10)) }
    return running
}

@Suite("Crash safety and graceful shutdown", .serialized)
struct CrashTests {
    @Test(
        "SIGTERM while six writers stream events: every answered request is stored, none failed with 5xx, the server exits 0 having said so",
        arguments: ServerBackend.allCases
    )
    func gracefulShutdown(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let token = f.tokens[.admin]!
        // A webhook secret as versions before sealing stored it: the server seals it at start.
        let clearSecret = "whsec_stored_in_clear_by_an_old_version"
        let hook = try await f.store.createWebhook(url: "https://hooks.example/old", events: ["*"], format: "json", secret: clearSecret, actor: Fixture.actor, at: Fixture.clock.now())
        try await f.store.deactivateWebhook(id: hook.id, actor: Fixture.actor, at: Fixture.clock.now())
        #expect(try await f.storedBytes().contains(clearSecret))
        let port = try LoopbackPort.free()
        // PostgreSQL's key comes from the environment (SQLite's is a file beside the database).
        let server = try ServerProcess(database: f.location, port: port, environment: backend == .postgres ? ["SMARKETING_SECRET_KEY": "crash-test-key"] : [:])
        try await server.waitUntilReady()
        #expect(server.logTail().contains("sealed 1 webhook signing secret(s) that were stored in clear"), "\(server.logTail())")
        let acknowledged = Acknowledged()
        let errors = Acknowledged()
        let senders = Task {
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<6 {
                    group.addTask {
                        for b in 0..<400 {
                            let ids = (0..<20).map { "g-\(w)x\(b % 5)-\(b)-\($0)" }
                            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/events")!)
                            request.httpMethod = "POST"
                            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                            request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
                            request.httpBody = Data(killEvents(ids).utf8)
                            guard let (_, response) = try? await URLSession.shared.data(for: request), let code = (response as? HTTPURLResponse)?.statusCode else {
                                return  // the server no longer accepts connections
                            }
                            if code == 200 { await acknowledged.add(ids) } else if code >= 500 { await errors.add(["\(code)"]) ; return }
                        }
                    }
                }
            }
        }
        while await acknowledged.ids.count < 2_000 { try await Task.sleep(for: .milliseconds(20)) }
        server.process.terminate()  // SIGTERM
        await senders.value
        for _ in 0..<600 where server.process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let tail = server.logTail()
        #expect(!server.process.isRunning && server.process.terminationStatus == 0, "\(tail)")
        #expect(tail.contains("stopped: requests in flight were answered"), "\(tail)")
        let failed = await errors.ids
        #expect(failed.isEmpty, "no answered request failed: \(failed)")
        let acked = await acknowledged.ids
        #expect(acked.count >= 2_000)
        for id in acked { #expect(try await f.store.get(.touchpoints, id: id) != nil, "answered \(id) was lost") }
        #expect(try await f.store.verifyKPIs().agrees)
        #expect(try await f.storedBytes().contains(clearSecret) == false, "the old clear secret is sealed, its bytes gone from the file and the WAL")
        server.stop()
    }

    @Test("kill -9 at 20 random points during bundle import, rescoring, backup and ingest: nothing is half-written, nothing answered is lost, the aggregates verify each time")
    func twentyKills() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-crash-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bundle = dir + "/bundle"
        #expect(try await CLIRun.run(["demo", "--leads", "1500", "--seed", "9", "--out", bundle]).status == 0)
        let leads = 1500
        var rng = SystemRandomNumberGenerator()
        let model = exampleModelPath()
        var killedWhileRunning = 0
        for point in 0..<20 {
            let phase = point % 4
            let db = dir + "/w\(point).sqlite"
            let delay = Duration.milliseconds(Int.random(in: 50...1_500, using: &rng))
            switch phase {
            case 0:
                // Bundle import: all or nothing.
                if try await killCLI(["import", "bundle", bundle, "--database", db], after: delay) { killedWhileRunning += 1 }
                let store = try SQLiteStore.workspace(path: db)
                let n = try await store.count(.contacts)
                #expect(n == 0 || n == leads, "point \(point): an import killed after \(delay) left \(n) contacts")
                #expect(try await store.verifyKPIs().agrees, "point \(point)")
            case 1:
                // A model apply rescoring every contact: the old model stays active until the new one is whole.
                #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)
                if try await killCLI(["scoring", "apply", model, "--comment", "crash", "--database", db], after: delay) { killedWhileRunning += 1 }
                let store = try SQLiteStore.workspace(path: db)
                _ = try await store.failInterruptedApplies()
                let active = try await store.activeScoringVersion()
                #expect(active == nil || active?.version == 1, "point \(point)")
                #expect(try await store.verifyKPIs().agrees, "point \(point)")
                #expect(try await store.count(.contacts) == leads)
            case 2:
                // A backup: a file under its name is whole and checked; a killed one leaves only `.partial`.
                #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)
                let file = dir + "/backup\(point).sqlite"
                if try await killCLI(["backup", "create", file, "--database", db], after: .milliseconds(Int.random(in: 5...200, using: &rng))) { killedWhileRunning += 1 }
                if FileManager.default.fileExists(atPath: file) {
                    let copy = try SQLiteStore.workspace(path: file)
                    #expect(try await copy.count(.contacts) == leads, "point \(point)")
                    #expect(try await copy.verifyKPIs().agrees, "point \(point)")
                }
                let original = try SQLiteStore.workspace(path: db)
                #expect(try await original.verifyKPIs().agrees)
            default:
                // Ingest through the server: what was answered is stored.
                #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)
                let token = try await CLIRun.run(["token", "create", "--user", "u-admin", "--role", "admin", "--database", db]).stdout
                    .split(whereSeparator: \.isNewline).compactMap { $0.split(separator: " ").last.map(String.init) }.first { $0.hasPrefix("smk_") }
                let admin = try #require(token)
                let port = try LoopbackPort.free()
                let server = try ServerProcess(database: db, port: port)
                try await server.waitUntilReady()
                let acknowledged = Acknowledged()
                let senders = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for w in 0..<4 {
                            group.addTask {
                                for b in 0..<1_000 {
                                    let ids = (0..<10).map { "c\(point)-\(w)x\(b % 3)-\(b)-\($0)" }
                                    guard let ok = try? await KillTests().send(ids, port: port, token: admin), ok else { return }
                                    await acknowledged.add(ids)
                                }
                            }
                        }
                    }
                }
                try await Task.sleep(for: delay)
                if server.process.isRunning { killedWhileRunning += 1 }
                server.kill()
                await senders.value
                let store = try SQLiteStore.workspace(path: db)
                for id in await acknowledged.ids { #expect(try await store.get(.touchpoints, id: id) != nil, "point \(point): answered \(id) was lost") }
                #expect(try await store.verifyKPIs().agrees, "point \(point)")
                server.stop()
            }
        }
        // Most kills land while the work runs (a fast machine may finish some first).
        #expect(killedWhileRunning >= 10, "\(killedWhileRunning) of 20 kills hit running work")
    }
}
