import Foundation
import GRDB
import SmarketingCore

/// Cell changes collected over a refresh and written at its end.
struct KPICellDelta {
    var cells: [KPIKey: KPITally] = [:]
    /// A rebuild writes its cells whenever there are more than this many (nil: at the end).
    var flushLimit: Int? = nil

    /// Writes the cells so far (adding to what is stored) when there are more than the limit.
    mutating func flushIfLarge(_ db: Database) throws {
        guard let flushLimit, cells.count > flushLimit else { return }
        try insertAll(db)
        cells.removeAll(keepingCapacity: true)
    }

    /// new − old straight into the accumulator (cells present in both cancel out there).
    mutating func add(from old: KPIContribution?, to new: KPIContribution?) {
        for (k, v) in new?.entries ?? [] { cells[k, default: KPITally()] = cells[k, default: KPITally()] + v }
        for (k, v) in old?.entries ?? [] { cells[k, default: KPITally()] = cells[k, default: KPITally()] - v }
    }

    /// Writes a rebuild's cells in key order, adding to cells an earlier chunk wrote (inserts in
    /// key order mostly append to the B-tree instead of searching for each).
    func insertAll(_ db: Database) throws {
        // Bound by hand: GRDB's argument arrays cost more than the insert itself at this volume.
        let insert = try RawStatement(
            db,
            """
            INSERT INTO kpi_cells(metric, dim, day, key, label, value, n, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(metric, dim, day, key, label, value) DO UPDATE SET n = n + excluded.n, total = total + excluded.total
            """
        )
        let rows = sortedCells()
        for (k, v) in rows {
            Self.bind(insert, k, v)
            _ = try insert.execute()
        }
        // (The month roll-ups are filled from the cells at the rebuild's end.)
        if !rows.isEmpty { try db.cachedStatement(sql: "UPDATE kpi_state SET version = version + 1 WHERE id = 1").execute() }
    }

    /// The non-zero cells in the stores' key order (metric, dim, day, key, label, value; text by
    /// its bytes, as SQLite's BINARY and PostgreSQL's "C" collation compare): written in that
    /// order, inserts append to the B-tree instead of searching for each (PostgreSQL, 1.1M cells:
    /// 6.2 s in random order, 2.5 s sorted). Swift's String < is Unicode-aware, far slower, and
    /// orders differently, hence the ranks and byte comparisons.
    func sortedCells() -> [(key: KPIKey, value: KPITally)] {
        var metricRank: [KPIMetric: Int] = [:]
        for (i, m) in KPIMetric.allCases.sorted(by: { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }).enumerated() { metricRank[m] = i }
        var dimRank: [KPIDimension: Int] = [:]
        for (i, d) in KPIDimension.allCases.sorted(by: { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }).enumerated() { dimRank[d] = i }
        return cells.filter { !$0.value.isZero }.map { (m: metricRank[$0.key.metric] ?? 0, d: dimRank[$0.key.dimension] ?? 0, cell: $0) }.sorted { a, b in
            if a.m != b.m { return a.m < b.m }
            if a.d != b.d { return a.d < b.d }
            let x = a.cell.key
            let y = b.cell.key
            if x.day != y.day { return x.day < y.day }
            if x.key != y.key { return x.key.utf8.lexicographicallyPrecedes(y.key.utf8) }
            if x.label != y.label { return x.label.utf8.lexicographicallyPrecedes(y.label.utf8) }
            return x.value < y.value
        }.map { (key: $0.cell.key, value: $0.cell.value) }
    }

    /// Binds a cell to the eight parameters (metric, dim, day, key, label, value, n, total).
    static func bind(_ statement: RawStatement, _ k: KPIKey, _ v: KPITally) {
        statement.bind(1, k.metric.rawValue)
        statement.bind(2, k.dimension.rawValue)
        statement.bind(3, k.day)
        statement.bind(4, k.key)
        statement.bind(5, k.label)
        statement.bind(6, k.value)
        statement.bind(7, v.count)
        statement.bind(8, v.total)
    }

    func write(_ db: Database) throws {
        // Bound by hand; RETURNING tells whether a cell fell to zero, so emptied cells are removed
        // without a second search for every negative delta.
        let upsert = try RawStatement(
            db,
            """
            INSERT INTO kpi_cells(metric, dim, day, key, label, value, n, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(metric, dim, day, key, label, value) DO UPDATE SET n = n + excluded.n, total = total + excluded.total
            RETURNING n = 0 AND total = 0
            """
        )
        let prune = try db.cachedStatement(
            sql: "DELETE FROM kpi_cells WHERE metric = ? AND dim = ? AND day = ? AND key = ? AND label = ? AND value = ? AND n = 0 AND total = 0"
        )
        var changed = false
        for (k, v) in cells where !v.isZero {
            Self.bind(upsert, k, v)
            let emptied: Int64? = try upsert.firstRow { (row: RawStatement.Row) -> Int64 in row.int64(0) ?? 0 }
            if emptied == 1 { try prune.execute(arguments: [k.metric.rawValue, k.dimension.rawValue, k.day, k.key, k.label, k.value]) }
            changed = true
        }
        try KPIMonthDelta(cells).write(db)
        // Live dashboards poll this number (one row read) to know when to read the KPIs again.
        if changed { try db.cachedStatement(sql: "UPDATE kpi_state SET version = version + 1 WHERE id = 1").execute() }
    }
}
