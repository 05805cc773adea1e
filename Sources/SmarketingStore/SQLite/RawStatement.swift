import GRDB
import GRDBSQLite
import SmarketingCore

/// A prepared statement bound and stepped through the SQLite C API, on a GRDB connection inside
/// a GRDB transaction.
///
/// Only for the hot paths (bundle import, event ingest, and the analyses that scan every
/// contact's stored facts): GRDB's `StatementArguments` builds an array of `DatabaseValue`s per
/// row and its rows copy every blob, which cost more than SQLite's own work at a million rows.
/// Everything else goes through GRDB.
final class RawStatement {
    private let handle: OpaquePointer
    private let connection: OpaquePointer
    let sql: String
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ db: Database, _ sql: String) throws {
        guard let connection = db.sqliteConnection else { throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "connection closed") }
        self.connection = connection
        self.sql = sql
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
        handle = stmt
    }

    deinit { sqlite3_finalize(handle) }

    func bind(_ index: Int32, _ value: FieldValue) {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case .text(let s), .json(let s): bind(index, s)
        case .integer(let i): sqlite3_bind_int64(handle, index, i)
        case .number(let d): sqlite3_bind_double(handle, index, d)
        case .bool(let b): sqlite3_bind_int64(handle, index, b ? 1 : 0)
        case .timestamp(let t): sqlite3_bind_int64(handle, index, t.milliseconds)
        case .date(let d): bind(index, d.text)
        }
    }

    func bind(_ index: Int32, _ text: String) {
        var s = text
        s.withUTF8 { buffer in
            _ = sqlite3_bind_text(
                handle,
                index,
                UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(buffer.count),
                RawStatement.transient
            )
        }
    }

    func bind(_ index: Int32, _ text: String?) {
        if let text { bind(index, text) } else { sqlite3_bind_null(handle, index) }
    }

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    @discardableResult
    func execute() throws -> Int {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        guard rc == SQLITE_DONE else { throw error(rc) }
        return Int(sqlite3_changes(connection))
    }

    /// Whether the query returns at least one row.
    func hasRow() throws -> Bool {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        guard rc == SQLITE_DONE else { throw error(rc) }
        return false
    }

    /// The first column of the first row as text, if any.
    func text() throws -> String? {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW {
            guard let p = sqlite3_column_text(handle, 0) else { return nil }
            return String(cString: p)
        }
        guard rc == SQLITE_DONE else { throw error(rc) }
        return nil
    }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: Double) { sqlite3_bind_double(handle, index, value) }

    func bind(_ index: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { b in _ = sqlite3_bind_blob(handle, index, b.baseAddress, Int32(b.count), RawStatement.transient) }
    }

    /// Runs a query and hands its first row (if any) to `body`, which reads the columns.
    func firstRow<T>(_ body: (Row) throws -> T) throws -> T? {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return try body(Row(handle: handle)) }
        guard rc == SQLITE_DONE else { throw error(rc) }
        return nil
    }

    /// Runs a query and hands each row to `body` (the bindings stay for the next run).
    func forEachRow(_ body: (Row) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        while true {
            let rc = sqlite3_step(handle)
            guard rc == SQLITE_ROW else {
                guard rc == SQLITE_DONE else { throw error(rc) }
                return
            }
            try body(Row(handle: handle))
        }
    }

    /// The current row of a stepped statement; valid only inside `firstRow` or `forEachRow`.
    struct Row {
        let handle: OpaquePointer

        func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }

        func text(_ i: Int32) -> String? {
            guard let p = sqlite3_column_text(handle, i) else { return nil }
            return String(cString: p)
        }

        func int64(_ i: Int32) -> Int64? { isNull(i) ? nil : sqlite3_column_int64(handle, i) }

        /// The column's bytes (text or blob) without a copy, valid only inside `body`.
        func withBytes<T>(_ i: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
            let n = Int(sqlite3_column_bytes(handle, i))
            guard n > 0, let p = sqlite3_column_blob(handle, i) else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
            return try body(UnsafeRawBufferPointer(start: p, count: n))
        }

        func blob(_ i: Int32) -> [UInt8]? {
            guard !isNull(i) else { return nil }
            let n = Int(sqlite3_column_bytes(handle, i))
            guard n > 0, let p = sqlite3_column_blob(handle, i) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }
    }

    private func error(_ rc: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}

extension RawStatement {
    /// Binds a record in `SQLiteStore.insertColumns` order.
    func bindInsert(_ resource: Resource, _ values: [FieldValue]) {
        let schema = resource.schema
        var i: Int32 = 1
        if !schema.hasOwnID {
            bind(i, schema.recordID(values))
            i += 1
        }
        for v in values {
            bind(i, v)
            i += 1
        }
        if resource == .contacts || resource == .users {
            let email = values[schema.index["email"]!].text ?? ""
            bind(i, EmailAddress.key(email) ?? email.lowercased())
        }
    }
}
