import Foundation
import SmarketingCore

/// Reads and parses a file's next chunks on a second thread while the store writes the current
/// one, so parsing and SQLite work overlap on two cores. At most `depth` chunks wait in memory;
/// when the reader is dropped early (an import that failed), the thread stops.
public final class ReadAheadSource: RowSource, @unchecked Sendable {
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var queue: [[ParsedRow]] = []
        var finished = false
        var cancelled = false
    }

    private let inner: any RowSource
    private let depth: Int
    private let shared = Shared()
    private var started = false

    /// Wraps a source.
    public init(_ inner: any RowSource, depth: Int = 4) {
        self.inner = inner
        self.depth = depth
    }

    deinit {
        shared.condition.lock()
        shared.cancelled = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    public var resource: Resource { inner.resource }
    public var warnings: [String] { inner.warnings }
    public func column(of field: String) -> Int { inner.column(of: field) }
    /// Where the consumer is: the reader's position less what waits in the queue is not known
    /// exactly, so this reports the reader's position (at most `depth` chunks ahead).
    public var fraction: Double? { inner.fraction }

    public func nextChunk(limit: Int) -> [ParsedRow] {
        let s = shared
        if !started {
            started = true
            let (inner, depth) = (self.inner, self.depth)
            let thread = Thread { ReadAheadSource.produce(inner, s, depth: depth, limit: limit) }
            thread.name = "smarketing-read-ahead"
            thread.start()
        }
        s.condition.lock()
        defer { s.condition.unlock() }
        while s.queue.isEmpty, !s.finished { s.condition.wait() }
        let chunk = s.queue.isEmpty ? [] : s.queue.removeFirst()
        s.condition.broadcast()
        return chunk
    }

    private static func produce(_ inner: any RowSource, _ s: Shared, depth: Int, limit: Int) {
        while true {
            let chunk = inner.nextChunk(limit: limit)
            s.condition.lock()
            while s.queue.count >= depth, !s.cancelled { s.condition.wait() }
            if s.cancelled {
                s.condition.unlock()
                return
            }
            if chunk.isEmpty { s.finished = true } else { s.queue.append(chunk) }
            s.condition.broadcast()
            s.condition.unlock()
            if chunk.isEmpty { return }
        }
    }
}

extension Bundle {
    /// `open(_:)` with each file read ahead on a second thread.
    public static func openReadingAhead(_ directory: String) throws(BundleProblem) -> [any RowSource] {
        try open(directory).map { ReadAheadSource($0) }
    }
}
