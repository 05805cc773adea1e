import SmarketingCore
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
        _ = fill()
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
            discarded += pos
            pos = 0
        }
        buffer.append(contentsOf: data)
        return true
    }

    /// `""` → `"` (Foundation's `replacingOccurrences` costs several times more per field).
    static func unescapeQuotes(_ s: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var previousQuote = false
        for c in s.utf8 {
            if c == 34, previousQuote {
                previousQuote = false
                continue
            }
            previousQuote = c == 34
            bytes.append(c)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private var discarded = 0

    /// Bytes of the file read into records so far.
    public var position: Int { discarded + pos }

    /// The line on which the next record starts (1-based).
    public var currentLine: Int { line }

    /// Where a field of the current record lies in the buffer.
    public struct Span: Sendable {
        var start: Int
        var end: Int
        /// Quoted with `""` inside: the bytes need unescaping.
        var escaped: Bool
    }

    /// The fields of the record read last by `nextSpans()`; valid until the next read.
    public private(set) var spans: [Span] = []

    /// Reads the next record: its first line and its fields. Nil at end of file. A blank line
    /// is skipped. Invalid UTF-8 is a syntax error.
    public func next() throws(SyntaxError) -> (line: Int, fields: [String])? {
        guard let startLine = try nextSpans() else { return nil }
        var fields: [String] = []
        fields.reserveCapacity(spans.count)
        for i in spans.indices { fields.append(try string(i, line: startLine)) }
        return (startLine, fields)
    }

    /// Reads the next record into `spans` without making strings; returns its first line.
    public func nextSpans() throws(SyntaxError) -> Int? {
        while true {
            switch try parse() {
            case .record(let startLine, let consumed, let lines):
                recordStart = pos
                pos = consumed
                line += lines
                if spans.count == 1, spans[0].end == spans[0].start { continue }
                return startLine
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

    private var recordStart = 0

    /// Calls `body` with the raw bytes of field `i` of the current record (escapes not undone).
    public func withBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let span = spans[i]
        return buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[span.start..<span.end])) }
    }

    /// Whether field `i` of the current record had `""` escapes.
    public func isEscaped(_ i: Int) -> Bool { spans[i].escaped }

    /// Field `i` of the current record as a string; invalid UTF-8 is an error naming line and column.
    public func string(_ i: Int, line startLine: Int) throws(SyntaxError) -> String {
        let span = spans[i]
        let result: String? = buffer.withUnsafeBufferPointer { b in
            let slice = UnsafeBufferPointer(rebasing: b[span.start..<span.end])
            var ascii = true
            for byte in slice where byte >= 0x80 {
                ascii = false
                break
            }
            let s = ascii ? String(decoding: slice, as: UTF8.self) : String(validating: slice, as: UTF8.self)
            guard let s else { return nil }
            return span.escaped ? CSVReader.unescapeQuotes(s) : s
        }
        guard let result else {
            var bad = span.start
            while bad < span.end, buffer[bad] < 0x80 { bad += 1 }
            var lineStart = bad
            while lineStart > recordStart, buffer[lineStart - 1] != 10 { lineStart -= 1 }
            let newlines = buffer[recordStart..<bad].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            throw SyntaxError(
                line: startLine + newlines,
                column: i + 1,
                message:
                    "is not valid UTF-8 (byte 0x\(String(buffer[bad], radix: 16, uppercase: true)) at position \(bad - lineStart + 1) of the line); save the file as UTF-8"
            )
        }
        return result
    }

    private enum Step {
        case record(Int, Int, Int)
        case needMore
        case end
    }

    private func parse() throws(SyntaxError) -> Step {
        let n = buffer.count
        if pos >= n { return eof ? .end : .needMore }
        spans.removeAll(keepingCapacity: true)
        let startLine = line
        let eof = self.eof
        var spans = self.spans
        defer { self.spans = spans }
        return try buffer.withUnsafeBufferPointer { b throws(SyntaxError) -> Step in
            var i = pos
            var lines = 0
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
                    spans.append(Span(start: i + 1, end: j, escaped: hasEscapes))
                    lines += innerLines
                    i = j + 1
                    if i >= n { return .needMore }
                    if b[i] == 44 {
                        i += 1
                        continue
                    }
                    if b[i] == 13, i + 1 < n, b[i + 1] == 10 { i += 1 }
                    if b[i] == 10 { return .record(startLine, i + 1, lines + 1) }
                    if b[i] == 13 { return .needMore }
                    throw SyntaxError(
                        line: startLine + lines,
                        column: spans.count,
                        message: "unexpected character after a closing quote (a quote inside a quoted field is written \"\")"
                    )
                } else {
                    var j = i
                    while j < n, b[j] != 44, b[j] != 10, b[j] != 13 {
                        if b[j] == 34 {
                            throw SyntaxError(
                                line: startLine + lines,
                                column: spans.count + 1,
                                message: "a quote inside an unquoted field (quote the whole field and write the quote as \"\")"
                            )
                        }
                        j += 1
                    }
                    if j >= n { return .needMore }
                    spans.append(Span(start: i, end: j, escaped: false))
                    if b[j] == 44 {
                        i = j + 1
                        continue
                    }
                    if b[j] == 13 {
                        if j + 1 >= n { return .needMore }
                        if b[j + 1] == 10 { return .record(startLine, j + 2, lines + 1) }
                        return .record(startLine, j + 1, lines + 1)
                    }
                    return .record(startLine, j + 1, lines + 1)
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
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
        out.reserveCapacity(1 << 20)
    }

    /// Appends one record.
    /// Writes one row; every cell goes through `SpreadsheetSafe.escape`.
    public func write(_ fields: [String]) {
        for (i, cell) in fields.enumerated() {
            let f = SpreadsheetSafe.escape(cell)
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
