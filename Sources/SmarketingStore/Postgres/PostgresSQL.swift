import Foundation
import Logging
import PostgresNIO
import SmarketingCore

/// A value bound to a PostgreSQL statement. The store keeps SQLite's representations
/// (timestamps as epoch milliseconds, booleans as 0/1, dates as ISO text), so one codec serves both
/// backends and a bundle exported from either is byte-equal.
enum PGValue: Sendable, Hashable {
    case null
    case text(String)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    /// A text[] parameter (for `= ANY(?::text[])`).
    case textArray([String])
    /// A bigint[] parameter (for `unnest(?::text[], ?::bigint[])`).
    case intArray([Int64])

    init(_ v: FieldValue) {
        switch v {
        case .null: self = .null
        case .text(let s), .json(let s): self = .text(s)
        case .integer(let i): self = .int(i)
        case .number(let d): self = .double(d)
        case .bool(let b): self = .int(b ? 1 : 0)
        case .timestamp(let t): self = .int(t.milliseconds)
        case .date(let d): self = .text(d.text)
        }
    }

    static func of(_ s: String?) -> PGValue { s.map { .text($0) } ?? .null }
    static func of(_ i: Int64?) -> PGValue { i.map { .int($0) } ?? .null }
    static func of(_ d: Double?) -> PGValue { d.map { .double($0) } ?? .null }
}

extension PGValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    init(stringLiteral value: String) { self = .text(value) }
    init(integerLiteral value: Int64) { self = .int(value) }
}

/// One row of a result, read by column index.
struct PGRow: Sendable {
    let cells: [PGValue]

    subscript(_ i: Int) -> PGValue { i < cells.count ? cells[i] : .null }
    func text(_ i: Int) -> String? {
        if case .text(let s) = self[i] { return s }
        return nil
    }
    func int(_ i: Int) -> Int64? {
        switch self[i] {
        case .int(let v): return v
        case .double(let d): return Int64(exactly: d)
        default: return nil
        }
    }
    func double(_ i: Int) -> Double? {
        switch self[i] {
        case .double(let d): return d
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    func bytes(_ i: Int) -> [UInt8]? {
        if case .bytes(let b) = self[i] { return b }
        return nil
    }

    /// Reads the row's cells by the types PostgreSQL sent.
    init(_ row: PostgresRow) throws {
        var out: [PGValue] = []
        for cell in row {
            guard cell.bytes != nil else {
                out.append(.null)
                continue
            }
            switch cell.dataType {
            case .int8: out.append(.int(try cell.decode(Int64.self)))
            case .int4: out.append(.int(Int64(try cell.decode(Int32.self))))
            case .int2: out.append(.int(Int64(try cell.decode(Int16.self))))
            case .float8, .float4: out.append(.double(try cell.decode(Double.self)))
            case .numeric:
                // sum() of BIGINT is NUMERIC (binary: base-10000 digits, which String would read
                // as garbage); the aggregates stay within Int64 (checked at the edge).
                let d = try cell.decode(Decimal.self)
                var whole = Decimal()
                var copy = d
                NSDecimalRound(&whole, &copy, 0, .plain)
                let number = NSDecimalNumber(decimal: d)
                if whole == d, let i = Int64(exactly: number.doubleValue), Decimal(i) == d {
                    out.append(.int(i))
                } else {
                    out.append(.double(number.doubleValue))
                }
            case .bool: out.append(.int(try cell.decode(Bool.self) ? 1 : 0))
            case .bytea:
                var buffer = try cell.decode(ByteBuffer.self)
                out.append(.bytes(buffer.readBytes(length: buffer.readableBytes) ?? []))
            default: out.append(.text(try cell.decode(String.self)))
            }
        }
        cells = out
    }

    init(cells: [PGValue]) { self.cells = cells }
}

/// SQL written with `?` placeholders (as the SQLite store writes it), numbered for PostgreSQL.
enum PGSQL {
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var inString = false
        for ch in sql {
            if ch == "'" { inString.toggle() }
            if ch == "?" && !inString {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
        }
        return out
    }

    static func query(_ sql: String, _ args: [PGValue]) throws -> PostgresQuery {
        var binds = PostgresBindings(capacity: args.count)
        for a in args {
            switch a {
            case .null: binds.appendNull()
            case .text(let s): try binds.append(s)
            case .int(let i): try binds.append(i)
            case .double(let d): try binds.append(d)
            case .bytes(let b): try binds.append(ByteBuffer(bytes: b))
            case .textArray(let a): try binds.append(a)
            case .intArray(let a): try binds.append(a)
            }
        }
        return PostgresQuery(unsafeSQL: numbered(sql), binds: binds)
    }
}

/// A connection inside one of the store's transactions (or a plain read).
struct PGConn {
    let connection: PostgresConnection
    let logger: Logger

    /// Every row of a statement.
    func rows(_ sql: String, _ args: [PGValue] = []) async throws -> [PGRow] {
        let seq = try await connection.query(PGSQL.query(sql, args), logger: logger)
        var out: [PGRow] = []
        for try await row in seq { out.append(try PGRow(row)) }
        return out
    }

    /// Hands each row of a statement to `body` as it arrives (a walk over millions of rows holds
    /// one at a time).
    func forEachRow(_ sql: String, _ args: [PGValue] = [], _ body: (PGRow) throws -> Void) async throws {
        let seq = try await connection.query(PGSQL.query(sql, args), logger: logger)
        for try await row in seq { try body(try PGRow(row)) }
    }

    /// The first row, if any.
    func one(_ sql: String, _ args: [PGValue] = []) async throws -> PGRow? {
        try await rows(sql, args).first
    }

    /// Runs a statement; returns how many rows it returned (use `RETURNING 1` to count changes).
    @discardableResult
    func execute(_ sql: String, _ args: [PGValue] = []) async throws -> Int {
        let seq = try await connection.query(PGSQL.query(sql, args), logger: logger)
        var n = 0
        for try await _ in seq { n += 1 }
        return n
    }

    /// Writes rows into a table with COPY (text format). Values are written as PostgreSQL reads
    /// them back: integers and doubles in their shortest exact form, NULL as `\N`, and tabs,
    /// newlines and backslashes escaped.
    func copy(_ table: String, _ columns: [String], _ rows: [[PGValue]]) async throws {
        guard !rows.isEmpty else { return }
        try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(64 * 1024)
            for row in rows {
                for (i, v) in row.enumerated() {
                    if i > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                    Self.writeCopyValue(v, into: &buffer)
                }
                buffer.writeInteger(UInt8(ascii: "\n"))
                if buffer.readableBytes >= 60 * 1024 {
                    try await writer.write(buffer)
                    buffer.clear()
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
    }

    static func writeCopyValue(_ v: PGValue, into buffer: inout ByteBuffer) {
        switch v {
        case .null: buffer.writeString("\\N")
        case .int(let i): buffer.writeString(String(i))
        case .double(let d): buffer.writeString(d.isFinite ? "\(d)" : (d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity")))
        case .text(let s):
            for byte in s.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeString("\\\\")
                case UInt8(ascii: "\t"): buffer.writeString("\\t")
                case UInt8(ascii: "\n"): buffer.writeString("\\n")
                case UInt8(ascii: "\r"): buffer.writeString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        case .bytes(let b):
            buffer.writeString("\\\\x")
            for byte in b { buffer.writeString(String(format: "%02x", byte)) }
        case .textArray(let a):
            // (No column of the store is an array; written as an array literal, escaped as text.)
            let literal = "{" + a.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
            writeCopyValue(.text(literal), into: &buffer)
        case .intArray(let a):
            writeCopyValue(.text("{" + a.map(String.init).joined(separator: ",") + "}"), into: &buffer)
        }
    }

    /// Runs statements without parameters, separated by `;` at a line's end (a migration's DDL;
    /// the extended protocol takes one statement at a time).
    func script(_ sql: String) async throws {
        // A dollar-quoted body (a PL/pgSQL function) keeps its own `;` line ends.
        var statements: [String] = []
        var pending = ""
        for piece in sql.components(separatedBy: ";\n") {
            pending += pending.isEmpty ? piece : ";\n" + piece
            if pending.components(separatedBy: "$$").count % 2 == 1 {
                statements.append(pending)
                pending = ""
            }
        }
        if !pending.isEmpty { statements.append(pending) }
        for statement in statements {
            let text = statement.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            try await connection.query(PostgresQuery(unsafeSQL: text.hasSuffix(";") ? String(text.dropLast()) : text), logger: logger).consume()
        }
    }
}

extension PostgresRowSequence {
    func consume() async throws { for try await _ in self {} }
}

/// PostgreSQL's error classes the store reacts to.
enum PGErrorClass {
    /// A serialization failure or a deadlock: the transaction is run again.
    case retry
    /// A unique constraint said no (a concurrent writer got there first).
    case uniqueViolation(constraint: String?)
    /// The server or the connection went away.
    case unavailable
    /// A text value PostgreSQL cannot hold (the NUL character).
    case badText
    case other

    static func of(_ error: any Error) -> PGErrorClass {
        if error is ConnectionWaitTimeout { return .unavailable }
        guard let e = error as? PSQLError else {
            // The pool's own errors (it could not open a connection) are not public types.
            return "\(error)".contains("ConnectionPoolError") ? .unavailable : .other
        }
        if let state = e.serverInfo?[.sqlState] {
            switch state {
            case "40001", "40P01": return .retry
            case "23505": return .uniqueViolation(constraint: e.serverInfo?[.constraintName])
            case "57P01", "57P02", "57P03", "08000", "08003", "08006": return .unavailable
            case "22021", "22P05": return .badText
            default: return .other
            }
        }
        switch e.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed: return .unavailable
        default: return .other
        }
    }
}
