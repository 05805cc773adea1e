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
