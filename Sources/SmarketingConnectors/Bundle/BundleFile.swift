import Foundation
import SmarketingCore

/// Reads one bundle file (`contacts.csv`, …) in chunks of parsed rows.
/// Used by one task at a time (the import), handed from the CLI to the store's writer.
public final class BundleFileReader: RowSource, @unchecked Sendable {
    public let resource: Resource
    public let path: String
    /// Header problems that are not fatal (unknown columns).
    public private(set) var warnings: [String] = []
    /// The header as read.
    public let header: [String]
    private let reader: CSVReader
    private let schema: ResourceSchema
    /// For each header column, the schema field index (nil: ignored column).
    private let mapping: [Int?]
    private let fileSize: Int

    /// How much of the file has been read, from 0 to 1.
    public var fraction: Double? { fileSize > 0 ? min(1, Double(reader.position) / Double(fileSize)) : nil }

    /// Opens `DIR/<resource>.csv`; throws a problem when the file cannot be read or lacks a
    /// required column.
    public init(directory: String, resource: Resource) throws(BundleProblem) {
        self.resource = resource
        schema = resource.schema
        path = (directory as NSString).appendingPathComponent(resource.fileName)
        let file = resource.fileName
        fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        do {
            reader = try CSVReader(path: path)
        } catch {
            throw BundleProblem(file: file, line: 0, column: 0, columnName: nil, message: "cannot be read")
        }
        let first: (line: Int, fields: [String])?
        do {
            first = try reader.next()
        } catch {
            throw BundleProblem(file: file, line: error.line, column: error.column, columnName: nil, message: error.message)
        }
        guard let first else {
            throw BundleProblem(file: file, line: 1, column: 0, columnName: nil, message: "is empty (a header row is required)")
        }
        header = first.fields.map { $0.trimmingSpaces }
        var mapping: [Int?] = []
        var seen: Set<String> = []
        var warnings: [String] = []
        for (i, name) in header.enumerated() {
            if !seen.insert(name).inserted {
                throw BundleProblem(file: file, line: 1, column: i + 1, columnName: name, message: "column appears twice in the header")
            }
            let idx = schema.index[name]
            if idx == nil { warnings.append("\(file): unknown column \"\(name)\" is ignored") }
            mapping.append(idx)
        }
        for f in schema.fields where f.required && !seen.contains(f.name) {
            throw BundleProblem(file: file, line: 1, column: 0, columnName: f.name, message: "required column \"\(f.name)\" is missing from the header")
        }
        self.mapping = mapping
        self.warnings = warnings
        if let field = schema.summedField {
            // Repeated keys add up (costs): the whole file is read here, once. Cost files are
            // small (a line per day, category and campaign); the rows wait in `summed`.
            var all: [ParsedRow] = []
            while case let chunk = readChunk(limit: 10_000), !chunk.isEmpty { all += chunk }
            let (rows, merged) = RepeatedKeyRows.sum(all, schema: schema, field: field, file: file, column: column(of: field))
            if merged > 0 {
                self.warnings.append(
                    "\(file): \(merged) line\(merged == 1 ? "" : "s") repeat the \(schema.key.joined(separator: ", ")) of an earlier line; their \(field)s are added to it"
                )
            }
            summed = rows[...]
        }
    }

    /// The rows of a file whose repeated keys add up, after `RepeatedKeyRows.sum`.
    private var summed: ArraySlice<ParsedRow>?

    /// Reads up to `limit` rows; an empty array at the end of the file. A syntax error ends the
    /// file: it is returned as a row with that problem, and reading stops.
    public func nextChunk(limit: Int) -> [ParsedRow] {
        guard let rest = summed else { return readChunk(limit: limit) }
        let out = Array(rest.prefix(max(0, limit)))
        summed = rest.dropFirst(out.count)
        return out
    }

    private func readChunk(limit: Int) -> [ParsedRow] {
        var rows: [ParsedRow] = []
        rows.reserveCapacity(limit)
        let file = resource.fileName
        var fields = schema.fields
        // A line of a summed field may be negative (a credit note); the key's sum is held to
        // the field's range (`RepeatedKeyRows.sum`).
        if let name = schema.summedField, let i = schema.index[name] { fields[i].range = FieldSpec.lineRange(of: fields[i]) }
        while rows.count < limit, !finished {
            let startLine: Int
            do {
                guard let l = try reader.nextSpans() else {
                    finished = true
                    break
                }
                startLine = l
            } catch {
                finished = true
                rows.append(syntaxProblem(error))
                break
            }
            var values = [FieldValue](repeating: .null, count: fields.count)
            var problems: [BundleProblem] = []
            let cellCount = reader.spans.count
            if cellCount != header.count {
                problems.append(
                    BundleProblem(
                        file: file,
                        line: startLine,
                        column: 0,
                        columnName: nil,
                        message: "has \(cellCount) cells, the header has \(header.count) (a comma or line break inside a value must be quoted)"
                    )
                )
            } else {
                for col in 0..<cellCount {
                    guard let idx = mapping[col] else { continue }
                    let spec = fields[idx]
                    // Timestamps are read straight from the bytes: a bundle has millions of them.
                    if case .timestamp = spec.type, !reader.isEscaped(col),
                        case .success(let t) = reader.withBytes(col, { Timestamp.parse(bytes: $0) })
                    {
                        values[idx] = .timestamp(t)
                        continue
                    }
                    let cell: String
                    do {
                        let text = try reader.string(col, line: startLine)
                        cell = SpreadsheetSafe.mayBeEscaped(text.utf8.first) ? SpreadsheetSafe.unescape(text) : text
                    } catch {
                        problems.append(BundleProblem(file: file, line: error.line, column: col + 1, columnName: spec.name, message: error.message))
                        continue
                    }
                    switch spec.parse(cell) {
                    case .success(let v):
                        if v.isNull, spec.required {
                            problems.append(
                                BundleProblem(file: file, line: startLine, column: col + 1, columnName: spec.name, message: "is required but empty")
                            )
                        }
                        values[idx] = v
                    case .failure(let p):
                        problems.append(
                            BundleProblem(
                                file: file,
                                line: startLine,
                                column: col + 1,
                                columnName: spec.name,
                                message: "value \"\(cell.prefix(60))\" " + p.message
                            )
                        )
                    }
                }
            }
            // The raw cells are kept only for rows that will be reported.
            var raw: [String] = []
            if !problems.isEmpty {
                raw = (0..<cellCount).map { (try? reader.string($0, line: startLine)) ?? "" }
            }
            rows.append(ParsedRow(line: startLine, values: values, problems: problems, raw: raw))
        }
        return rows
    }

    private func syntaxProblem(_ error: CSVReader.SyntaxError) -> ParsedRow {
        ParsedRow(
            line: error.line,
            values: [],
            problems: [
                BundleProblem(
                    file: resource.fileName,
                    line: error.line,
                    column: error.column,
                    columnName: error.column <= header.count && error.column > 0 ? header[error.column - 1] : nil,
                    message: error.message
                )
            ],
            raw: []
        )
    }

    private var finished = false

    /// The column number (1-based) of a schema field in this file's header, 0 if absent.
    public func column(of field: String) -> Int { (header.firstIndex(of: field) ?? -1) + 1 }
}
