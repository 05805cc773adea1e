import Foundation
import HTTPTypes
import NIOHTTP1
import Hummingbird
import HummingbirdTesting
import SmarketingCore
import SmarketingStore
import Testing
import ThrowawayPostgres

/// The server when its PostgreSQL goes away under load and comes back (a crash, a restart, a
/// failover): answers 503 problem+json in bounded time, never hangs or crashes, recovers by
/// itself, and loses nothing it acknowledged.
@Suite("PostgreSQL going away under the server", .timeLimit(.minutes(10)))
struct PostgresFaultTests {
    @Test("PostgreSQL stopped under load: 503 problem+json with Retry-After in bounded time; started again: the server recovers by itself, nothing acknowledged lost")
    func restartUnderLoad() async throws {
        let cluster = try await ThrowawayPostgres.dedicated()
        let url = try await cluster.newDatabase("faults")
        let f = try await Fixture.make(.postgres, location: url)
        defer { f.remove() }
        let token = try #require(f.tokens[.admin])
        try await f.app().test(.live) { client in
            let port = try #require(client.port)
            var acknowledged: [String] = []
            // Requests go through AsyncHTTPClient with a deadline of their own: in two of three
            // runs of the whole suite the test client's connection was left half-closed
            // (CLOSE-WAIT) after the server had gone, and the test never ended.
            func post(_ id: String) async throws -> Reply {
                let body = #"{"id":"\#(id)","type":"page_view","occurred_at":"2026-01-01T00:00:00Z","email":"p-\#(id)@faults.example"}"#
                let r = try await liveCall(port: port, .POST, "/api/v1/events", token: token, body: body, timeout: .seconds(60))
                if r.status == .ok { acknowledged.append(id) }
                return r
            }
            // Twenty acknowledged writes first (a loaded machine may answer a 503 while the pool
            // opens its connections: sent again, as a client would after Retry-After).
            var stored = 0
            let warmUp = ContinuousClock.now
            while stored < 20, ContinuousClock.now - warmUp < .seconds(120) {
                if try await post("before-\(stored)").status == .ok { stored += 1 } else { try await Task.sleep(for: .seconds(1)) }
            }
            #expect(stored == 20, "only \(stored) writes were acknowledged before the stop")
            try await cluster.stop()
            var refused = 0
            for i in 0..<3 {
                let started = ContinuousClock.now
                let r = try await post("down-\(i)")
                let took = ContinuousClock.now - started
                #expect(r.status == .serviceUnavailable && r.isProblem, "\(r.status): \(r.text)")
                #expect(r.headers[HTTPField.Name("Retry-After")!] != nil)
                #expect(took < .seconds(12), "answered after \(took)")
                if r.status == .serviceUnavailable { refused += 1 }
                let read = try await liveCall(port: port, .GET, "/api/v1/contacts?limit=1", token: token, timeout: .seconds(60))
                #expect(read.status == .serviceUnavailable && read.isProblem, "\(read.status): \(read.text)")
            }
            #expect(refused == 3)
            try await cluster.start()
            // Bounded in time, not in tries: each refused try can take the 5 s connection wait.
            var recovered = false
            let restarted = ContinuousClock.now
            var i = 0
            while !recovered, ContinuousClock.now - restarted < .seconds(120) {
                recovered = try await post("after-\(i)").status == .ok
                i += 1
                if !recovered { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(recovered, "the server works again once PostgreSQL is back")
            // Everything acknowledged is there.
            for id in acknowledged { #expect(try await f.store.get(.touchpoints, id: id) != nil, "acknowledged \(id) is missing") }
            #expect(try await f.store.count(.touchpoints) == acknowledged.count)
        }
        try? await cluster.stop()
    }
}
