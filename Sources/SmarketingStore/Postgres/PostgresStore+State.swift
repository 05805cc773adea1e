import Foundation
import PostgresNIO

/// The workspace's state beyond its records, read and replaced table by table (`db copy`).
extension PostgresStore {
    public func readState(_ table: StateTable, chunkSize: Int, _ body: @escaping @Sendable ([[StateValue]]) throws -> Void) async throws {
        // One snapshot for the whole table, streamed through a cursor.
        try await read { c in
            try await c.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            do {
                try await c.script(
                    "DECLARE state_cursor NO SCROLL CURSOR FOR SELECT \(table.columnList) FROM \(table.name) ORDER BY \(table.orderSQL(writeOrderColumn: "seq"))"
                )
                let size = max(1, min(chunkSize, 100_000))
                while true {
                    let rows = try await c.rows("FETCH \(size) FROM state_cursor")
                    if rows.isEmpty { break }
                    try body(rows.map { r in table.columns.enumerated().map { i, column in Self.stateValue(r, i, column.kind) } })
                }
                try await c.script("COMMIT")
            } catch {
                try? await c.script("ROLLBACK")
                throw error
            }
        }
    }

    public func replaceState(_ tables: [StateTable], from source: any StateRowSource) async throws {
        try await write(lease: .seconds(60)) { c in
            // A retried transaction starts again from the first row.
            try source.rewind()
            // Changes are not noted one by one: the aggregates are rebuilt once at the commit.
            try await c.execute("SELECT set_config('smarketing.kpi_bulk', 'on', true)")
            try await c.execute("UPDATE kpi_state SET built_with = NULL WHERE id = 1")
            for table in tables.reversed() where table.mode == .replace {
                try await c.execute("DELETE FROM \(table.name)")
            }
            for table in tables {
                let names = table.columnNames
                while true {
                    let chunk = try source.nextChunk(of: table)
                    if chunk.isEmpty { break }
                    for row in chunk where row.count != names.count {
                        throw StoreError.invalid("a \(table.name) row has \(row.count) values, not \(names.count)")
                    }
                    switch table.mode {
                    case .replace:
                        try await c.copy(table.name, names, chunk.map { $0.map(Self.pgValue) })
                    case .update:
                        let sql = "UPDATE \(table.name) SET \(names.dropFirst().map { "\"\($0)\" = ?" }.joined(separator: ", ")) WHERE \(names[0]) = ?"
                        for row in chunk { try await c.execute(sql, (row.dropFirst() + row.prefix(1)).map(Self.pgValue)) }
                    }
                }
                // Generated keys continue after the copied ones.
                if table.mode == .replace, let identity = table.identity, names.contains(identity) {
                    try await c.execute(
                        "SELECT setval(pg_get_serial_sequence('\(table.name)', '\(identity)'), coalesce((SELECT max(\(identity)) FROM \(table.name)), 0) + 1, false)"
                    )
                }
            }
        }
    }

    static func stateValue(_ r: PGRow, _ i: Int, _ kind: StateColumnKind) -> StateValue {
        switch kind {
        case .int: return r.int(i).map(StateValue.int) ?? .null
        case .real: return r.double(i).map(StateValue.real) ?? .null
        case .text: return r.text(i).map(StateValue.text) ?? .null
        case .blob: return r.bytes(i).map(StateValue.blob) ?? .null
        }
    }

    static func pgValue(_ v: StateValue) -> PGValue {
        switch v {
        case .null: return .null
        case .int(let i): return .int(i)
        case .real(let d): return .double(d)
        case .text(let s): return .text(s)
        case .blob(let b): return .bytes(b)
        }
    }
}
