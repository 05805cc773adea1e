import Foundation

/// A streaming RFC 4180 reader that reports positions.
///
/// Hand-written because the CSV packages available (SwiftCSV, CSV.swift) either load the whole
/// file into memory or do not report line numbers of malformed input; a bundle's
/// touchpoints.csv can be gigabytes and every error must name its line and column.
public final class CSVReader {
    /// A problem with the file's syntax or encoding.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var message: String
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    private let handle: FileHandle?
    private var buffer: [UInt8] = []
    private var pos = 0
    private var eof = false
    private var line = 1
    private var finalNewlineAdded = false
    private let chunkSize: Int

    /// Opens a file for reading. A UTF-8 byte order mark is skipped.
    public init(path: String, chunkSize: Int = 1 << 22) throws {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
        self.chunkSize = chunkSize
        fill()
        skipBOM()
    }

    /// Reads from bytes in memory (tests, HTTP bodies).
    public init(bytes: [UInt8]) {
        handle = nil
        chunkSize = 0
        buffer = bytes
        eof = true
        skipBOM()
    }

    deinit { try? handle?.close() }

    private func skipBOM() {
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { pos = 3 }
    }

    /// Reads more bytes, keeping the unread tail. Returns false at end of file.
    private func fill() -> Bool {
        guard let handle, !eof else { return false }
        let data = handle.readData(ofLength: chunkSize)
        if data.isEmpty {
            eof = true
            return false
        }
        if pos > 0 {
            buffer.removeFirst(pos)
            pos = 0
        }
        buffer.append(contentsOf: data)
        return true
    }

    /// The line on which the next record starts (1-based).
    public var currentLine: Int { line }

    /// Reads the next record: its first line and its fields. Nil at end of file. A blank line
    /// is skipped.
    public func next() throws(SyntaxError) -> (line: Int, fields: [String])? {
        while true {
            switch try parse() {
            case .record(let startLine, let fields, let consumed, let lines):
                pos = consumed
                line += lines
                if fields.count == 1, fields[0].isEmpty { continue }
                return (startLine, fields)
            case .needMore:
                if finalNewlineAdded {
                    throw SyntaxError(line: line, column: 1, message: "a quoted field is not closed before the end of the file")
                }
                if !fill() {
                    finalNewlineAdded = true
                    // The final record lacks its line break: parse it as if it had one.
                    buffer.append(10)
                    eof = true
                }
            case .end:
                return nil
            }
        }
    }

    private enum Step {
        case record(Int, [String], Int, Int)
        case needMore
        case end
    }

    private func parse() throws(SyntaxError) -> Step {
        let n = buffer.count
        if pos >= n { return eof ? .end : .needMore }
        return try buffer.withUnsafeBufferPointer { b throws(SyntaxError) -> Step in
            var i = pos
            var fields: [String] = []
            var lines = 0
            var lineStart = pos
            func field(_ start: Int, _ end: Int, unescape: Bool) throws(SyntaxError) -> String {
                let slice = UnsafeBufferPointer(rebasing: b[start..<end])
                var ascii = true
                for byte in slice where byte >= 0x80 {
                    ascii = false
                    break
                }
                var s: String
                if ascii {
                    s = String(decoding: slice, as: UTF8.self)
                } else {
                    guard let v = String(validating: slice, as: UTF8.self) else {
                        var bad = start
                        while bad < end, b[bad] < 0x80 { bad += 1 }
                        throw SyntaxError(
                            line: line + lines, column: fields.count + 1,
                            message: "is not valid UTF-8 (byte 0x\(String(b[bad], radix: 16, uppercase: true)) at offset \(bad - lineStart + 1) of the line); save the file as UTF-8")
                    }
                    s = v
                }
                if unescape { s = s.replacingOccurrences(of: "\"\"", with: "\"") }
                return s
            }
            while true {
                if i >= n { return eof ? .end : .needMore }
                if b[i] == 34 {  // quoted field
                    var j = i + 1
                    var innerLines = 0
                    var hasEscapes = false
                    while true {
                        if j >= n { return .needMore }
                        if b[j] == 34 {
                            if j + 1 >= n { if !eof { return .needMore } else { break } }
                            if b[j + 1] == 34 {
                                hasEscapes = true
                                j += 2
                                continue
                            }
                            break
                        }
                        if b[j] == 10 { innerLines += 1 }
                        j += 1
                    }
                    fields.append(try field(i + 1, j, unescape: hasEscapes))
                    lines += innerLines
                    i = j + 1
                    if i >= n { return .needMore }
                    if b[i] == 44 {
                        i += 1
                        continue
                    }
                    if b[i] == 13, i + 1 < n, b[i + 1] == 10 { i += 1 }
                    if b[i] == 10 { return .record(line, fields, i + 1, lines + 1) }
                    if b[i] == 13 { return .needMore }
                    throw SyntaxError(
                        line: line + lines, column: fields.count,
                        message: "unexpected character after a closing quote (a quote inside a quoted field is written \"\")")
                } else {
                    var j = i
                    while j < n, b[j] != 44, b[j] != 10, b[j] != 13 {
                        if b[j] == 34 {
                            throw SyntaxError(
                                line: line + lines, column: fields.count + 1,
                                message: "a quote inside an unquoted field (quote the whole field and write the quote as \"\")")
                        }
                        j += 1
                    }
                    if j >= n { return .needMore }
                    fields.append(try field(i, j, unescape: false))
                    if b[j] == 44 {
                        i = j + 1
                        continue
                    }
                    if b[j] == 13 {
                        if j + 1 >= n { return .needMore }
                        if b[j + 1] == 10 { return .record(line, fields, j + 2, lines + 1) }
                        return .record(line, fields, j + 1, lines + 1)
                    }
                    _ = lineStart
                    lineStart = j + 1
                    return .record(line, fields, j + 1, lines + 1)
                }
            }
        }
    }
}

/// Writes RFC 4180 CSV with `\n` line ends, quoting only where needed.
public final class CSVWriter {
    private let handle: FileHandle
    private var out: [UInt8] = []

    /// Creates (or truncates) the file at `path`.
    public init(path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
        out.reserveCapacity(1 << 20)
    }

    /// Appends one record.
    public func write(_ fields: [String]) {
        for (i, f) in fields.enumerated() {
            if i > 0 { out.append(44) }
            var needsQuotes = false
            for c in f.utf8 where c == 44 || c == 34 || c == 10 || c == 13 {
                needsQuotes = true
                break
            }
            if needsQuotes {
                out.append(34)
                for c in f.utf8 {
                    if c == 34 { out.append(34) }
                    out.append(c)
                }
                out.append(34)
            } else {
                out.append(contentsOf: f.utf8)
            }
        }
        out.append(10)
        if out.count >= 1 << 20 { flush() }
    }

    private func flush() {
        handle.write(Data(out))
        out.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered and closes the file.
    public func close() throws {
        flush()
        try handle.synchronize()
        try handle.close()
    }
}
