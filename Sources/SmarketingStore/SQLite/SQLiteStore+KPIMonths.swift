import Foundation
import GRDB
import SmarketingCore

/// Month roll-ups of the metrics the KPI set reads, so a read of whole months touches one row per
/// metric, cut value and month instead of one per day (and one per distinct sample value).
///
/// `kpi_months` holds the counters (count and total per label); `kpi_month_samples` holds, per
/// sample metric (response times, velocity), the month's tally and *all* its sample values as one
/// sorted, delta-encoded run — percentiles stay exact. Both are derived from the same cell deltas
/// as `kpi_cells`, in the same transaction; a rebuild recomputes them, and `verifyKPIs` compares
/// them too. A period reads its whole months here and its partial months' days from `kpi_cells`.
extension SQLiteStore {
    static let kpiMonthSchema = """
        CREATE TABLE kpi_months (
            metric TEXT NOT NULL, dim TEXT NOT NULL, month INTEGER NOT NULL, key TEXT NOT NULL, label TEXT NOT NULL,
            n INTEGER NOT NULL, total INTEGER NOT NULL,
            PRIMARY KEY (metric, dim, month, key, label)) WITHOUT ROWID;
        CREATE TABLE kpi_month_samples (
            metric TEXT NOT NULL, dim TEXT NOT NULL, month INTEGER NOT NULL, key TEXT NOT NULL,
            n INTEGER NOT NULL, total INTEGER NOT NULL, samples BLOB NOT NULL,
            PRIMARY KEY (metric, dim, month, key)) WITHOUT ROWID;
        """

    /// Months are numbered as `LocalDate.monthIndex`.
    static func month(ofDay day: Int64) -> Int64 { KPIRules.month(ofDay: day) }

    static func firstDay(ofMonth m: Int64) -> Int64 { KPIRules.firstDay(ofMonth: m) }

    /// The metrics rolled up: those the KPI set reads over a period, and the sales-idle days its
    /// stale leads count before a cut-off.
    static let rolledUp = KPIRules.rolledUp

    /// A period as its leading partial days, its whole months and its trailing partial days.
    static func split(_ p: KPIPeriod) -> (days: [(Int64, Int64)], months: (Int64, Int64)?) { KPIRules.split(p) }

    /// Fills the (empty) month roll-ups from the day cells in one ordered pass — a rebuild's
    /// end: each roll-up row written once, in key order, so the tables stay compact (rewriting
    /// a month's sample run once per chunk scattered its pages).
    static func rollUpMonths(_ db: Database) throws {
        func bytes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        let counterInsert = try RawStatement(db, "INSERT INTO kpi_months(metric, dim, month, key, label, n, total) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let sampleInsert = try RawStatement(
            db,
            "INSERT INTO kpi_month_samples(metric, dim, month, key, n, total, samples) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        let read = try db.makeStatement(sql: "SELECT day, key, label, value, n, total FROM kpi_cells WHERE metric = ? AND dim = ?")
        for metric in rolledUp.sorted(by: { bytes($0.rawValue, $1.rawValue) }) {
            for dim in KPIDimension.allCases.sorted(by: { bytes($0.rawValue, $1.rawValue) }) {
                var month: Int64?
                var counters: [String: [String: KPITally]] = [:]
                var samples: [String: (KPITally, [Int64])] = [:]
                func flush() throws {
                    guard let month else { return }
                    for key in counters.keys.sorted(by: bytes) {
                        for (label, t) in counters[key]!.sorted(by: { bytes($0.key, $1.key) }) where !t.isZero {
                            counterInsert.bind(1, metric.rawValue)
                            counterInsert.bind(2, dim.rawValue)
                            counterInsert.bind(3, month)
                            counterInsert.bind(4, key)
                            counterInsert.bind(5, label)
                            counterInsert.bind(6, t.count)
                            counterInsert.bind(7, t.total)
                            _ = try counterInsert.execute()
                        }
                    }
                    for key in samples.keys.sorted(by: bytes) {
                        let (t, values) = samples[key]!
                        sampleInsert.bind(1, metric.rawValue)
                        sampleInsert.bind(2, dim.rawValue)
                        sampleInsert.bind(3, month)
                        sampleInsert.bind(4, key)
                        sampleInsert.bind(5, t.count)
                        sampleInsert.bind(6, t.total)
                        sampleInsert.bind(7, blob: SortedRuns.encode(values.sorted()))
                        _ = try sampleInsert.execute()
                    }
                    counters.removeAll(keepingCapacity: true)
                    samples.removeAll(keepingCapacity: true)
                }
                let rows = try Row.fetchCursor(read, arguments: [metric.rawValue, dim.rawValue])  // in day order (the primary key's)
                var lastDay: Int64?
                while let r = try rows.next() {
                    let day: Int64 = r[0]
                    if day != lastDay {
                        lastDay = day
                        let m = self.month(ofDay: day)
                        if m != month {
                            try flush()
                            month = m
                        }
                    }
                    let key: String = r[1]
                    let t = KPITally(count: r[4], total: r[5])
                    if metric.isSample {
                        var entry = samples[key] ?? (KPITally(), [])
                        entry.0 = entry.0 + t
                        entry.1.append(contentsOf: repeatElement(r[3] as Int64, count: Int(max(0, t.count))))
                        samples[key] = entry
                    } else {
                        counters[key, default: [:]][r[2], default: KPITally()] = counters[key, default: [:]][r[2], default: KPITally()] + t
                    }
                }
                try flush()
            }
        }
    }

    /// Every month roll-up as comparable text (for `verifyKPIs`).
    static func allMonths(_ db: Database) throws -> [String: (KPITally, String)] {
        var out: [String: (KPITally, String)] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT metric, dim, month, key, label, n, total FROM kpi_months") {
            let k = KPIRules.monthKey(r[0], r[1], r[2], r[3], r[4])
            out[k] = (KPITally(count: r[5], total: r[6]), "")
        }
        for r in try Row.fetchAll(db, sql: "SELECT metric, dim, month, key, n, total, samples FROM kpi_month_samples") {
            let k = KPIRules.monthKey(r[0], r[1], r[2], r[3], "(samples)")
            let blob: Data = r[6]
            out[k] = (KPITally(count: r[4], total: r[5]), blob.base64EncodedString())
        }
        return out
    }
}

/// The month roll-up changes of a cell delta.
struct KPIMonthDelta {
    struct CounterKey: Hashable {
        var metric: KPIMetric
        var dim: KPIDimension
        var month: Int64
        var key: String
        var label: String
    }
    struct SampleKey: Hashable {
        var metric: KPIMetric
        var dim: KPIDimension
        var month: Int64
        var key: String
    }
    var counters: [CounterKey: KPITally] = [:]
    var samples: [SampleKey: (tally: KPITally, changes: [Int64: Int64])] = [:]

    init(_ cells: [KPIKey: KPITally]) {
        var months: [Int64: Int64] = [:]
        for (k, v) in cells where !v.isZero && SQLiteStore.rolledUp.contains(k.metric) {
            let m: Int64
            if let known = months[k.day] {
                m = known
            } else {
                m = SQLiteStore.month(ofDay: k.day)
                months[k.day] = m
            }
            if k.metric.isSample {
                let key = SampleKey(metric: k.metric, dim: k.dimension, month: m, key: k.key)
                var entry = samples[key] ?? (KPITally(), [:])
                entry.tally = entry.tally + v
                entry.changes[k.value, default: 0] += v.count
                samples[key] = entry
            } else {
                let key = CounterKey(metric: k.metric, dim: k.dimension, month: m, key: k.key, label: k.label)
                counters[key] = (counters[key] ?? KPITally()) + v
            }
        }
    }

    func write(_ db: Database) throws {
        let upsert = try RawStatement(
            db,
            """
            INSERT INTO kpi_months(metric, dim, month, key, label, n, total) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(metric, dim, month, key, label) DO UPDATE SET n = n + excluded.n, total = total + excluded.total
            RETURNING n = 0 AND total = 0
            """
        )
        let prune = try db.cachedStatement(
            sql: "DELETE FROM kpi_months WHERE metric = ? AND dim = ? AND month = ? AND key = ? AND label = ? AND n = 0 AND total = 0"
        )
        for (k, v) in counters where !v.isZero {
            upsert.bind(1, k.metric.rawValue)
            upsert.bind(2, k.dim.rawValue)
            upsert.bind(3, k.month)
            upsert.bind(4, k.key)
            upsert.bind(5, k.label)
            upsert.bind(6, v.count)
            upsert.bind(7, v.total)
            let emptied: Int64? = try upsert.firstRow { (row: RawStatement.Row) -> Int64 in row.int64(0) ?? 0 }
            if emptied == 1 { try prune.execute(arguments: [k.metric.rawValue, k.dim.rawValue, k.month, k.key, k.label]) }
        }
        let read = try db.cachedStatement(sql: "SELECT n, total, samples FROM kpi_month_samples WHERE metric = ? AND dim = ? AND month = ? AND key = ?")
        let insert = try db.cachedStatement(
            sql: "INSERT INTO kpi_month_samples(metric, dim, month, key, n, total, samples) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        // An update in place (REPLACE would delete the row and insert it again).
        let update = try db.cachedStatement(
            sql: "UPDATE kpi_month_samples SET n = ?5, total = ?6, samples = ?7 WHERE metric = ?1 AND dim = ?2 AND month = ?3 AND key = ?4"
        )
        let delete = try db.cachedStatement(sql: "DELETE FROM kpi_month_samples WHERE metric = ? AND dim = ? AND month = ? AND key = ?")
        for (k, change) in samples where !change.tally.isZero || change.changes.contains(where: { $0.value != 0 }) {
            let args: StatementArguments = [k.metric.rawValue, k.dim.rawValue, k.month, k.key]
            var tally = KPITally()
            var run: [Int64] = []
            let row = try Row.fetchOne(read, arguments: args)
            if let row {
                tally = KPITally(count: row[0], total: row[1])
                run = try row.withUnsafeData(atIndex: 2) { data in data.map { d in d.withUnsafeBytes { SortedRuns.decode($0) } } ?? [] }
            }
            tally = tally + change.tally
            run = SortedRuns.apply(run, change.changes)
            if tally.isZero && run.isEmpty {
                if row != nil { try delete.execute(arguments: args) }
            } else {
                try (row == nil ? insert : update).execute(arguments: args + [tally.count, tally.total, Data(SortedRuns.encode(run))])
            }
        }
    }
}
