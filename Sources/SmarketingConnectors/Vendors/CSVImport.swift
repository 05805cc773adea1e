import Foundation
import SmarketingCore
import SmarketingStore
import Yams

/// Reads a column mapping file for `import csv --map` (docs/INTEGRATIONS.md, "CSV presets"):
///
///     object: people            # people, companies or deals
///     source: tradeshow-2026    # the name its records are linked under
///     columns:
///       email: E-Mail
///       first_name: Vorname
public enum CSVMappingFile {
    public static func read(_ text: String) -> Result<CSVPreset, ModelFileProblems> {
        ScoringModelFile.readYAML(text, incomplete: "the mapping is incomplete") { reader, root in
            guard let e = reader.entries(root, "the mapping file", allowed: ["object", "source", "columns"]) else { return nil }
            guard let objectNode = e["object"]?.value, let objectText = objectNode.scalar?.string,
                let object = SyncObject(rawValue: objectText), CSVPreset.fields[object] != nil
            else {
                reader.problem(e["object"]?.value ?? root, "object must be people, companies or deals")
                return nil
            }
            var source = "csv"
            if let s = e["source"]?.value {
                if let t = s.scalar?.string, ConnectionServiceNames.valid(t) { source = t } else {
                    reader.problem(s, "source must be 1 to 64 lower-case letters, digits, - or _, starting with a letter")
                }
            }
            guard let columnsNode = e["columns"]?.value, let mapping = columnsNode.mapping else {
                reader.problem(e["columns"]?.value ?? root, "columns must map fields to column headers")
                return nil
            }
            let allowed = CSVPreset.fields[object] ?? []
            var columns: [String: [String]] = [:]
            for (k, v) in mapping {
                let field = k.string ?? ""
                guard allowed.contains(field) else {
                    reader.problem(k, "unknown field \"\(field)\" for \(objectText) (allowed: \(allowed.joined(separator: ", ")))")
                    continue
                }
                guard let header = v.scalar?.string, !header.isEmpty else {
                    reader.problem(v, "\(field) must name a column header")
                    continue
                }
                columns[field] = [header]
            }
            if object == .people, columns["email"] == nil, columns["id"] == nil {
                reader.problem(columnsNode, "people need an email or an id column")
            }
            return CSVPreset(name: source, vendor: nil, object: object, vendorObject: "csv-" + objectText, columns: columns)
        }
    }
}

enum ConnectionServiceNames {
    static func valid(_ s: String) -> Bool { ConnectionService.validName(s) }
}

/// What a CSV import did.
public struct CSVImportReport: Sendable, Codable {
    public var file: String
    public var rows: Int
    public var counts: SyncCounts
    /// Rows refused before the import (bad values), with line and column.
    public var rejected: [CSVRowProblem]
    /// Rows the store skipped (e.g. a deal without a company), with why.
    public var skipped: [SyncSkip]
    public var committed: Bool
    /// Columns of the file no field of the preset reads.
    public var unusedColumns: [String]
}

/// Imports a vendor's CSV export (or any spreadsheet with a mapping) through the sync's identity
/// rules: one record per person, linked under the preset's source, merges audited.
public struct CSVImporter: Sendable {
    let store: any SyncStore
    let clock: any WorkspaceClock

    public init(store: any SyncStore, clock: any WorkspaceClock) {
        self.store = store
        self.clock = clock
    }

    /// Checks every row first; with any bad row nothing is imported unless `skipInvalid`.
    public func run(
        path: String,
        preset: CSVPreset,
        skipInvalid: Bool,
        actor: Actor,
        progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws -> CSVImportReport {
        let reader: CSVReader
        do {
            reader = try CSVReader(path: path)
        } catch {
            throw ConnectionError("cannot read \(path): \(error)")
        }
        var items: [SyncItem] = []
        var rejected: [CSVRowProblem] = []
        var header: [String] = []
        var idx: [String: Int] = [:]
        var rows = 0
        let source = preset.vendor?.rawValue ?? preset.name
        do {
            while let (line, fields) = try reader.next() {
                if header.isEmpty {
                    header = fields
                    idx = preset.resolve(header: header)
                    let needed = preset.object == .people ? ["email", "id"] : preset.object == .companies ? ["name", "domain", "id"] : ["id"]
                    if !needed.contains(where: { idx[$0] != nil }) {
                        let names = needed.flatMap { preset.columns[$0] ?? [] }
                        throw ConnectionError("\(path): line 1 names none of the columns \(names.map { "\"\($0)\"" }.joined(separator: ", ")) that \(preset.name) needs")
                    }
                    continue
                }
                if fields.count == 1, fields[0].isEmpty { continue }
                rows += 1
                switch preset.record(fields, columns: idx, line: line, connection: source) {
                case .success(let item): items.append(item)
                case .failure(let p): if rejected.count < 100_000 { rejected.append(p) }
                }
                if rows % 5000 == 0 { progress(rows) }
            }
        } catch let e as CSVReader.SyntaxError {
            throw ConnectionError("\(path): \(e.description)")
        }
        let used = Set(idx.values)
        let unused = header.enumerated().filter { !used.contains($0.offset) }.map(\.element)
        if !rejected.isEmpty, !skipInvalid {
            return CSVImportReport(file: path, rows: rows, counts: SyncCounts(), rejected: rejected, skipped: [], committed: false, unusedColumns: unused)
        }
        let connection = "csv-" + source
        let mapping = preset.vendor.map(SyncMapping.defaults) ?? SyncMapping(vendor: .hubspot, lifecycle: [:], dealStages: [:], activities: [:], precedence: SyncMapping.defaultPrecedence, writeback: [:])
        let runID = try await store.startSyncRun(connection: connection, full: true, at: clock.now())
        var counts = SyncCounts()
        var skipped: [SyncSkip] = []
        // Pages of 1,000 rows, each one transaction (a stopped import re-run changes nothing twice).
        for start in stride(from: 0, to: items.count, by: 1000) {
            let page = SyncPage(object: preset.object, items: Array(items[start..<min(start + 1000, items.count)]), nextCursor: nil, watermark: nil)
            let (c, s) = try await store.applySyncPage(page, connection: connection, mapping: mapping, runID: runID, actor: actor, at: clock.now())
            counts = counts + c
            skipped += s
            progress(min(start + 1000, items.count))
        }
        try await store.finishSyncRun(id: runID, status: "ok", counts: [preset.object.rawValue: counts], error: nil, at: clock.now())
        return CSVImportReport(file: path, rows: rows, counts: counts, rejected: rejected, skipped: skipped, committed: true, unusedColumns: unused)
    }
}
