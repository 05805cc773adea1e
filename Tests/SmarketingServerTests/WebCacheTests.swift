import Foundation
import Synchronization
import Testing

@testable import SmarketingServer

@Suite("The web app's cache")
struct WebCacheTests {
    @Test("latest: the first read waits; after a change the previous value comes at once and the new one follows from one background refresh")
    func staleWhileRefreshing() async throws {
        let cache = WebCache()
        let calls = Mutex(0)
        @Sendable func make(_ v: Int) -> @Sendable () async throws -> Int {
            {
                calls.withLock { $0 += 1 }
                try await Task.sleep(for: .milliseconds(50))
                return v
            }
        }
        #expect(try await cache.latest("k", version: 1, make(10)) == 10)
        #expect(try await cache.latest("k", version: 1, make(99)) == 10 && calls.withLock { $0 } == 1)
        // Version 2: the old value at once, one refresh however often it is asked for meanwhile.
        #expect(try await cache.latest("k", version: 2, make(20)) == 10)
        #expect(try await cache.latest("k", version: 2, make(21)) == 10)
        var now = 0
        for _ in 0..<100 {
            now = try await cache.latest("k", version: 2, make(22))
            if now != 10 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(now == 20 && calls.withLock { $0 } == 2)
        // `value` never answers with an older version.
        #expect(try await cache.value("k", version: 3, make(30)) == 30)
    }

    @Test("slow versions hold per lane for their time")
    func slowVersions() {
        let cache = WebCache()
        #expect(cache.slowVersion(1, seconds: 30) == 1)
        #expect(cache.slowVersion(2, seconds: 30) == 1)
        #expect(cache.slowVersion(2, seconds: 0) == 2)
        #expect(cache.slowVersion(5, seconds: 600, lane: "history") == 5)
        #expect(cache.slowVersion(6, seconds: 600, lane: "history") == 5)
    }
}
