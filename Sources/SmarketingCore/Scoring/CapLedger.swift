/// Caps on one engagement rule's points: per UTC day, per ISO week (Monday 00:00 UTC), in total.
public struct PointCaps: Sendable, Hashable, Codable {
    public var perDay: Double?
    public var perWeek: Double?
    public var total: Double?

    /// Creates caps (nil: no cap).
    public init(perDay: Double? = nil, perWeek: Double? = nil, total: Double? = nil) {
        self.perDay = perDay
        self.perWeek = perWeek
        self.total = total
    }

    /// Whether any cap is set.
    public var isEmpty: Bool { perDay == nil && perWeek == nil && total == nil }
}

/// The capped points of one rule for one contact, independent of arrival order.
///
/// Definition: the rule's events are taken in time order (ties: the smaller stable hash of the
/// event id, `CapLedger.key`, so that a stored ledger needs no id text); each gets its
/// points, cut to what is left under every cap of its day, its week and the total. An event that
/// arrives late (earlier than events already counted) can change what later events got; the
/// ledger returns every change as (time, delta) so an `EngagementScore` stays exact. Events after
/// all others — the usual case — cost constant time. A re-sent event (same id and time) changes
/// nothing.
public struct CapLedger: Sendable, Hashable, Codable {
    public struct Entry: Sendable, Hashable, Codable {
        public var at: Timestamp
        /// `CapLedger.key(eventID)`.
        public var id: UInt64
        public var points: Double
        public var granted: Double
    }

    /// A stable 64-bit key of an event id (FNV-1a; Swift's own hash is seeded per process).
    public static func key(_ id: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0100_0000_01b3
        }
        return h
    }

    public let caps: PointCaps
    public private(set) var entries: [Entry] = []
    /// The positive points granted so far (what the total cap limits).
    private var positiveTotal = 0.0

    /// Creates an empty ledger.
    public init(caps: PointCaps) { self.caps = caps }

    /// A stored ledger (entries in time order).
    init(caps: PointCaps, entries: [Entry]) {
        self.caps = caps
        self.entries = entries
        positiveTotal = entries.reduce(0) { $0 + max(0, $1.granted) }
    }

    static let day: Int64 = 86_400_000

    /// Floor division (days before 1970 count down).
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func dayIndex(_ t: Timestamp) -> Int64 { floorDiv(t.milliseconds, day) }

    /// ISO weeks start on Monday; 1970-01-01 was a Thursday.
    static func weekIndex(_ t: Timestamp) -> Int64 { floorDiv(dayIndex(t) + 3, 7) }

    /// The points granted so far.
    public var grantedTotal: Double { entries.reduce(0) { $0 + $1.granted } }

    /// Counts an event; returns the changes to the granted points as (time, delta), the new event's
    /// own grant included.
    public mutating func record(id eventID: String, at: Timestamp, points: Double) -> [(Timestamp, Double)] {
        var changes: [(Timestamp, Double)] = []
        record(id: eventID, at: at, points: points) { changes.append(($0, $1)) }
        return changes
    }

    /// Counts an event and hands each change to `change` (nothing for a re-sent event); the
    /// usual in-order event costs no allocation.
    public mutating func record(id eventID: String, at: Timestamp, points: Double, _ change: (Timestamp, Double) -> Void) {
        let id = Self.key(eventID)
        let entry = Entry(at: at, id: id, points: points, granted: 0)
        // Touches mostly arrive in time order: look for the place from the end.
        var position = entries.count
        while position > 0, (entries[position - 1].at, entries[position - 1].id) > (at, id) { position -= 1 }
        // A re-sent touch sits right before its place (same time and id).
        if position > 0, entries[position - 1].at == at, entries[position - 1].id == id { return }
        entries.append(entry)
        if position == entries.count - 1 {
            change(at, grantLast())
            return
        }
        entries.removeLast()
        entries.insert(entry, at: position)
        for (t, delta) in regrant(from: position) { change(t, delta) }
    }

    /// The usual case in constant time per window: the new entry is the latest, so only what its
    /// day and week already hold, and the running total, limit it.
    private mutating func grantLast() -> Double {
        let last = entries.count - 1
        let e = entries[last]
        var grant = e.points
        if grant > 0 {
            let d = Self.dayIndex(e.at)
            let w = Self.weekIndex(e.at)
            var dayUsed = 0.0
            var weekUsed = 0.0
            if caps.perDay != nil || caps.perWeek != nil {
                var i = last - 1
                while i >= 0, Self.weekIndex(entries[i].at) == w {
                    let g = max(0, entries[i].granted)
                    weekUsed += g
                    if Self.dayIndex(entries[i].at) == d { dayUsed += g }
                    i -= 1
                }
            }
            if let cap = caps.perDay { grant = min(grant, max(0, cap - dayUsed)) }
            if let cap = caps.perWeek { grant = min(grant, max(0, cap - weekUsed)) }
            if let cap = caps.total { grant = min(grant, max(0, cap - positiveTotal)) }
            positiveTotal += grant
        }
        entries[last].granted = grant
        return grant
    }

    /// Recomputes the grants from `start` on (earlier entries are unaffected).
    private mutating func regrant(from start: Int) -> [(Timestamp, Double)] {
        var dayUsed: [Int64: Double] = [:]
        var weekUsed: [Int64: Double] = [:]
        var totalUsed = 0.0
        // Caps limit what is earned: negative points never make room under a cap.
        for e in entries[..<start] where e.granted > 0 {
            dayUsed[Self.dayIndex(e.at), default: 0] += e.granted
            weekUsed[Self.weekIndex(e.at), default: 0] += e.granted
            totalUsed += e.granted
        }
        var changes: [(Timestamp, Double)] = []
        for i in start..<entries.count {
            let e = entries[i]
            let d = Self.dayIndex(e.at)
            let w = Self.weekIndex(e.at)
            var grant = e.points
            if grant > 0 {
                if let cap = caps.perDay { grant = min(grant, max(0, cap - dayUsed[d, default: 0])) }
                if let cap = caps.perWeek { grant = min(grant, max(0, cap - weekUsed[w, default: 0])) }
                if let cap = caps.total { grant = min(grant, max(0, cap - totalUsed)) }
            }
            if grant > 0 {
                dayUsed[d, default: 0] += grant
                weekUsed[w, default: 0] += grant
                totalUsed += grant
            }
            if grant != e.granted || i == start {
                changes.append((e.at, grant - e.granted))
                entries[i].granted = grant
            }
        }
        positiveTotal = totalUsed
        return changes
    }

    public static func == (a: CapLedger, b: CapLedger) -> Bool { a.caps == b.caps && a.entries == b.entries }
    private enum CodingKeys: String, CodingKey { case caps, entries, positiveTotal }
    public func hash(into h: inout Hasher) {
        h.combine(caps)
        h.combine(entries)
    }
}
