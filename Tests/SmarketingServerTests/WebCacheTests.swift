import Foundation
import HTTPTypes
import SmarketingCore
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

    @Test("a later version's value answers an earlier ask, and a slow refresh never replaces it")
    func laterVersionsWin() async throws {
        let cache = WebCache()
        let calls = Mutex(0)
        #expect(try await cache.value("k", version: 1) { "one" } == "one")
        // A refresh for version 2 that takes its time, while a request computes version 3.
        let started = Mutex(false)
        #expect(
            try await cache.latest("k", version: 2) { @Sendable () async throws -> String in
                started.withLock { $0 = true }
                calls.withLock { $0 += 1 }
                try await Task.sleep(for: .milliseconds(300))
                return "two"
            } == "one"
        )
        #expect(try await cache.value("k", version: 3) { "three" } == "three")
        // Once the slow refresh has ended, version 3's value is still there, and it answers
        // asks for version 2 without computing again.
        for _ in 0..<100 where !(started.withLock { $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await cache.latest("k", version: 2) { "again" } == "three")
        #expect(try await cache.value("k", version: 3) { "again" } == "three")
        #expect(cache.isCurrent("k", version: 2) && cache.isCurrent("k", version: 3) && !cache.isCurrent("k", version: 4))
        #expect(calls.withLock { $0 } == 1)
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

@Suite("The API's attribution cache and the allocator")
struct AttributionCacheTests {
    @Test("Cache-Control: no-cache or max-age=0 asks for the data as it is now; anything else takes the cached report")
    func cacheControl() {
        func current(_ values: [String]) -> Bool {
            var headers = HTTPFields()
            for v in values { headers.append(HTTPField(name: .cacheControl, value: v)) }
            return APIHandlers.asksForCurrent(headers)
        }
        #expect(current(["no-cache"]) && current(["No-Cache"]) && current(["max-age=0"]) && current(["private, no-cache"]))
        #expect(current(["max-stale", "no-cache"]))
        #expect(!current([]) && !current(["max-age=30"]) && !current(["no-store"]) && !current(["no-cachex"]) && !current(["max-age=00x"]))
    }

    @Test("an attribution's cache key names every input")
    func attributionKeys() {
        let period = KPIPeriod(from: LocalDate(year: 2025, month: 1, day: 1), to: LocalDate(year: 2025, month: 4, day: 1))
        let base = AttributionAsk(period: period, by: .channel, models: [.linear], lookbackDays: 365, halfLifeDays: 7)
        var asks = [base]
        var a = base
        a.period.to = LocalDate(year: 2025, month: 7, day: 1)
        asks.append(a)
        a = base
        a.by = .campaign
        asks.append(a)
        a = base
        a.models = [.linear, .markov]
        asks.append(a)
        a = base
        a.lookbackDays = 90
        asks.append(a)
        a = base
        a.halfLifeDays = 7.5
        asks.append(a)
        #expect(Set(asks.map(\.key)).count == asks.count)
        #expect(base.key == AttributionAsk(period: period, by: .channel, models: [.linear], lookbackDays: 365, halfLifeDays: 7).key)
    }

    @Test("the allocator's arenas are capped at start unless MALLOC_ARENA_MAX chose already")
    func arenas() {
        #expect(!ProcessAllocator.limitArenas(environment: ["MALLOC_ARENA_MAX": "4"]))
        #expect(!ProcessAllocator.limitArenas(0, environment: [:]))
        // A cap above glibc's own (eight per core) leaves this test process as it was.
        #expect(ProcessAllocator.limitArenas(64, environment: [:]))
    }
}
