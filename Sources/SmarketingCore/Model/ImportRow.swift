import Foundation

/// Where a problem is: file, line, column.
public struct BundleProblem: Error, Sendable, Hashable, CustomStringConvertible, Codable {
    public var file: String
    public var line: Int
    /// 1-based column number, 0 when the problem is the whole row or file.
    public var column: Int
    public var columnName: String?
    public var message: String

    /// Creates a problem.
    public init(file: String, line: Int, column: Int, columnName: String?, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.columnName = columnName
        self.message = message
    }

    public var description: String {
        var s = line > 0 ? "\(file):\(line)" : file
        if column > 0 { s += ":\(column)" }
        if let columnName { s += " (\(columnName))" }
        return s + ": " + message
    }
}

/// One data row of a bundle file, parsed against its schema.
public struct ParsedRow: Sendable {
    /// The line on which the row starts.
    public var line: Int
    /// Values in schema field order; `.null` where a cell is empty or the column is absent.
    public var values: [FieldValue]
    /// Cell problems; a row with problems must not be written.
    public var problems: [BundleProblem]
    /// The raw cells, for the rejected-rows report.
    public var raw: [String]

    /// Creates a row.
    public init(line: Int, values: [FieldValue], problems: [BundleProblem], raw: [String]) {
        self.line = line
        self.values = values
        self.problems = problems
        self.raw = raw
    }
}

/// A file of rows to import, read chunk by chunk (the bundle reader, in the connectors).
public protocol RowSource: AnyObject, Sendable {
    /// The resource the rows are.
    var resource: Resource { get }
    /// Non-fatal notes about the file (ignored columns).
    var warnings: [String] { get }
    /// The 1-based column of a field in the file, 0 when absent (for reference problems).
    func column(of field: String) -> Int
    /// Up to `limit` rows; empty at the end.
    func nextChunk(limit: Int) -> [ParsedRow]
    /// How much of the file has been read (0…1), when known.
    var fraction: Double? { get }
}

extension RowSource {
    public var fraction: Double? { nil }
}

/// Rows of one file that repeat a key of a resource that adds them up (`ResourceSchema.summedField`:
/// a cost line per ad set, invoice or day part — several lines of one date, category and campaign).
public enum RepeatedKeyRows {
    /// One row per key: every problem-free row whose key an earlier problem-free row has is
    /// merged into that row (its line and cells kept) with `field` summed exactly in decimal (so
    /// 0.1 + 0.2 is 0.3); rows with problems pass unchanged, in place. Lines may be negative
    /// (credit notes; read with `FieldSpec.lineRange`); every key's sum, also a lone line's, is
    /// held to the field's range: outside it, a problem of the first row naming the lines. Also
    /// how many rows were merged away. Re-reading the same file gives the same rows, so an import
    /// stays idempotent.
    public static func sum(_ rows: [ParsedRow], schema: ResourceSchema, field: String, file: String, column: Int) -> (rows: [ParsedRow], merged: Int) {
        guard let index = schema.index[field], let spec = schema.field(field) else { return (rows, 0) }
        var out: [ParsedRow] = []
        out.reserveCapacity(rows.count)
        var first: [String: Int] = [:]
        var totals: [Int: Decimal] = [:]
        var lines: [Int: [Int]] = [:]
        var merged = 0
        for row in rows {
            guard row.problems.isEmpty, row.values.count == schema.fields.count, case .number(let amount) = row.values[index] else {
                out.append(row)
                continue
            }
            let id = schema.recordID(row.values)
            let value = Decimal(string: String(amount)) ?? Decimal(amount)
            if let at = first[id] {
                totals[at, default: 0] += value
                lines[at, default: []].append(row.line)
                merged += 1
            } else {
                first[id] = out.count
                totals[out.count] = value
                out.append(row)
            }
        }
        for (at, total) in totals {
            let more = lines[at] ?? []
            if more.isEmpty {
                // A lone line: the field's own check and message.
                if let p = spec.check(out[at].values[index]) {
                    out[at].problems.append(BundleProblem(file: file, line: out[at].line, column: column, columnName: field, message: p.message))
                }
                continue
            }
            let sum = Double(NSDecimalNumber(decimal: total).stringValue) ?? NSDecimalNumber(decimal: total).doubleValue
            let value = FieldValue.number(sum)
            if let p = spec.check(value) {
                let all = ([out[at].line] + more).map(String.init).joined(separator: ", ")
                out[at].problems.append(
                    BundleProblem(
                        file: file,
                        line: out[at].line,
                        column: column,
                        columnName: field,
                        message: "the \(field)s of lines \(all) (one \(schema.key.joined(separator: ", "))) sum to \(FieldValue.format(sum)), which " + p.message
                    )
                )
            } else {
                out[at].values[index] = value
            }
        }
        return (out, merged)
    }
}
