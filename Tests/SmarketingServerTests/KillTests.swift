import Foundation
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The built `smarketing` binary next to the test bundle (or $SMARKETING_BIN).
func smarketingBinary() throws -> String {
    if let env = ProcessInfo.processInfo.environment["SMARKETING_BIN"] { return env }
    var candidates: [String] = []
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("smarketing").path)
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/smarketing").path)
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    throw TestFailure("the smarketing binary was not found (looked in \(candidates)); run `swift build` first or set SMARKETING_BIN")
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The server as a separate process, so it can be killed for real.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(database: String, port: Int) throws {
        self.port = port
        process.executableURL = URL(fileURLWithPath: try smarketingBinary())
        process.arguments = ["serve", "--database", database, "--port", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func waitUntilReady() async throws {
        for _ in 0..<300 {
            if let (_, r) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!),
                (r as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the server did not start on port \(port)")
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

actor Acknowledged {
    var ids: [String] = []
    func add(_ batch: [String]) { ids += batch }
}

@Suite("Durability")
struct KillTests {
    func send(_ batch: [String], port: Int, token: String) async throws -> Bool {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/events")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(
            batch.map { id in
                let person = id.split(separator: "-")[1]
                return #"{"id":"\#(id)","type":"page_view","occurred_at":"2026-03-01T09:00:00Z","email":"p\#(person)@kill.example"}"#
            }.joined(separator: "\n").utf8
        )
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    @Test("SIGKILL during ingest loses no acknowledged event; re-sending creates no duplicates")
    func killDuringIngest() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let token = f.tokens[.admin]!
        let database = f.dir + "/api.sqlite"
        let port = try LoopbackPort.free()
        let server = try ServerProcess(database: database, port: port)
        try await server.waitUntilReady()
        let acknowledged = Acknowledged()
        let writers = 6
        let batches = 400
        let perBatch = 25
        func batch(_ w: Int, _ b: Int) -> [String] { (0..<perBatch).map { "k-\(w)x\(b % 7)-\(b)-\($0)" } }
        let senders = Task {
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<writers {
                    group.addTask {
                        for b in 0..<batches {
                            guard let ok = try? await send(batch(w, b), port: port, token: token), ok else { return }
                            await acknowledged.add(batch(w, b))
                        }
                    }
                }
            }
        }
        // Kill once a fair amount is acknowledged, while requests are in flight.
        while await acknowledged.ids.count < 3000 { try await Task.sleep(for: .milliseconds(20)) }
        server.kill()
        await senders.value
        let acked = await acknowledged.ids
        #expect(acked.count >= 3000 && acked.count < writers * batches * perBatch, "the kill came before the end")

        let restarted = try ServerProcess(database: database, port: port)
        defer { restarted.stop() }
        try await restarted.waitUntilReady()
        for id in acked { #expect(try await f.store.get(.touchpoints, id: id) != nil, "acknowledged \(id) was lost") }
        // Re-send everything, acknowledged or not: nothing is stored twice.
        for w in 0..<writers { for b in 0..<batches { #expect(try await send(batch(w, b), port: port, token: token)) } }
        #expect(try await f.store.count(.touchpoints) == writers * batches * perBatch)
        #expect(try await f.store.count(.contacts) == writers * 7)
    }
}
