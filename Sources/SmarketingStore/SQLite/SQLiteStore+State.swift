import Foundation
import GRDB

/// The workspace's state beyond its records, read and replaced table by table (`db copy`).
extension SQLiteStore {
    public func readState(_ table: StateTable, chunkSize: Int, _ body: @escaping @Sendable ([[StateValue]]) throws -> Void) async throws {
        try await pool.read { db in
            let cursor = try Row.fetchCursor(
                db,
                sql: "SELECT \(table.columnList) FROM \(table.name) ORDER BY \(table.orderSQL(writeOrderColumn: "rowid"))"
            )
            var chunk: [[StateValue]] = []
            let size = max(1, chunkSize)
            chunk.reserveCapacity(size)
            while let row = try cursor.next() {
                chunk.append(table.columns.indices.map { Self.stateValue(row[$0] as DatabaseValue) })
                if chunk.count == size {
                    try body(chunk)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            if !chunk.isEmpty { try body(chunk) }
        }
    }

    public func replaceState(_ tables: [StateTable], from source: any StateRowSource) async throws {
        try await pool.write { db in
            try source.rewind()
            // The aggregates are rebuilt once at the end (as after an import).
            try Self.dropKPITriggers(db)
            for table in tables.reversed() where table.mode == .replace {
                try db.execute(sql: "DELETE FROM \(table.name)")
            }
            for table in tables {
                let names = table.columnNames
                let statement: Statement
                switch table.mode {
                case .replace:
                    statement = try db.makeStatement(
                        sql: "INSERT INTO \(table.name) (\(table.columnList)) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
                    )
                case .update:
                    statement = try db.makeStatement(
                        sql: "UPDATE \(table.name) SET \(names.dropFirst().map { "\"\($0)\" = ?" }.joined(separator: ", ")) WHERE \(names[0]) = ?"
                    )
                }
                while true {
                    let chunk = try source.nextChunk(of: table)
                    if chunk.isEmpty { break }
                    for row in chunk {
                        guard row.count == names.count else { throw StoreError.invalid("a \(table.name) row has \(row.count) values, not \(names.count)") }
                        var values = row.map(Self.databaseValue)
                        if table.mode == .update { values = Array(values.dropFirst()) + [values[0]] }
                        try statement.execute(arguments: StatementArguments(values))
                    }
                }
            }
            try self.restoreKPITriggersAndRebuild(db)
        }
    }

    static func stateValue(_ v: DatabaseValue) -> StateValue {
        switch v.storage {
        case .null: return .null
        case .int64(let i): return .int(i)
        case .double(let d): return .real(d)
        case .string(let s): return .text(s)
        case .blob(let b): return .blob([UInt8](b))
        }
    }

    static func databaseValue(_ v: StateValue) -> DatabaseValue {
        switch v {
        case .null: return .null
        case .int(let i): return i.databaseValue
        case .real(let d): return d.databaseValue
        case .text(let s): return s.databaseValue
        case .blob(let b): return Data(b).databaseValue
        }
    }
}
