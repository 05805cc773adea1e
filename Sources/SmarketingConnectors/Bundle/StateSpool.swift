import Foundation
import SmarketingStore
import Synchronization

/// The workspace's state tables (`StateTable.all`) written to files and read back: what
/// `smarketing db copy` carries beside the bundle. One CSV file per table (`<table>.csv`,
/// a header of column names, then one line per row), every value tagged with its kind so it
/// reads back exactly: empty for NULL, `i` and the integer, `r` and the double's 64 bits in hex,
/// `t` and the text, `b` and the bytes in base64. Two databases with the same state give the
/// same files byte for byte.
public enum StateSpool {
    /// Writes every state table of `store` into `directory`; `transform` may change a row on
    /// its way (re-sealing vendor credentials under another key). Returns the rows per table.
    public static func write(
        from store: any StateStore,
        to directory: String,
        transform: @escaping @Sendable (StateTable, [StateValue]) throws -> [StateValue] = { $1 },
        progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> [String: Int] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var counts: [String: Int] = [:]
        for table in StateTable.all {
            let writer = try CSVWriter(path: path(directory, table))
            writer.write(table.columnNames)
            let box = SpoolBox(writer: writer)
            try await store.readState(table, chunkSize: 5_000) { rows in
                for row in rows { box.writer.write(try transform(table, row).map(encode)) }
                box.count += rows.count
                progress(table.name, box.count)
            }
            try writer.close()
            counts[table.name] = box.count
        }
        return counts
    }

    static func path(_ directory: String, _ table: StateTable) -> String {
        (directory as NSString).appendingPathComponent(table.name + ".csv")
    }

    static func encode(_ v: StateValue) -> String {
        switch v {
        case .null: return ""
        case .int(let i): return "i" + String(i)
        case .real(let d): return "r" + String(d.bitPattern, radix: 16)
        case .text(let s): return "t" + s
        case .blob(let b): return "b" + Data(b).base64EncodedString()
        }
    }

    static func decode(_ s: String) -> StateValue? {
        guard let tag = s.first else { return .null }
        let rest = String(s.dropFirst())
        switch tag {
        case "i": return Int64(rest).map(StateValue.int)
        case "r": return UInt64(rest, radix: 16).map { .real(Double(bitPattern: $0)) }
        case "t": return .text(rest)
        case "b": return Data(base64Encoded: rest).map { .blob([UInt8]($0)) }
        default: return nil
        }
    }

    /// Reads the files `write` made, table by table, for `StateStore.replaceState`.
    public final class Reader: StateRowSource {
        private let directory: String
        private let open = Mutex<[String: CSVReaderBox]>([:])

        public init(directory: String) { self.directory = directory }

        public func rewind() throws { open.withLock { $0.removeAll() } }

        public func nextChunk(of table: StateTable) throws -> [[StateValue]] {
            try open.withLock { readers in
                let box: CSVReaderBox
                if let existing = readers[table.name] {
                    box = existing
                } else {
                    let file = StateSpool.path(directory, table)
                    guard FileManager.default.fileExists(atPath: file) else { return [] }
                    let reader = try CSVReader(path: file)
                    guard let header = try reader.next(), header.fields == table.columnNames else {
                        throw StateSpoolError("\(file) does not start with the columns of \(table.name)")
                    }
                    box = CSVReaderBox(reader)
                    readers[table.name] = box
                }
                var rows: [[StateValue]] = []
                while rows.count < 5_000, let (line, fields) = try box.reader.next() {
                    var row: [StateValue] = []
                    row.reserveCapacity(fields.count)
                    for field in fields {
                        guard let v = StateSpool.decode(field) else { throw StateSpoolError("\(table.name).csv line \(line): a value is not in the spool's form") }
                        row.append(v)
                    }
                    rows.append(row)
                }
                return rows
            }
        }
    }
}

/// A reader owned by one spool reader (which serializes access with its lock).
final class CSVReaderBox: @unchecked Sendable {
    let reader: CSVReader
    init(_ reader: CSVReader) { self.reader = reader }
}

/// The spool writer, handed to the store's read closure (one task at a time).
private final class SpoolBox: @unchecked Sendable {
    let writer: CSVWriter
    var count = 0
    init(writer: CSVWriter) { self.writer = writer }
}

/// A spool file that is not what `StateSpool.write` makes.
public struct StateSpoolError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
