import Foundation
import GRDB
import SmarketingCore

/// Thrown inside the import transaction to roll it back when the bundle has problems.
private struct RollbackImport: Error {}

extension SQLiteStore {
    public func importRows(
        _ sources: [any RowSource],
        options: ImportOptions,
        actor: Actor,
        at: Timestamp,
        progress: @escaping @Sendable (ImportProgress) -> Void
    ) async throws -> ImportReport {
        let state = ImportState()
        do {
            // Every reference in a bundle is checked by the import itself (against the bundle and
            // the database, with line and column), so SQLite's own foreign-key bookkeeping — four
            // parent lookups per touchpoint — is switched off for this one transaction. It must be
            // set outside a transaction; it is switched back on before the connection is reused.
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
                try db.inTransaction {
                    try Self.dropKPITriggers(db)
                    let bulk = try SQLiteSearch.suspendForBulkLoad(db)
                    try self.importAll(db, sources, options: options, actor: actor, at: at, state: state, progress: progress)
                    try SQLiteSearch.rebuild(db, bulk)
                    // Imported stage history is history: it opens no handovers and sends no webhooks.
                    try db.execute(sql: "UPDATE transition_cursor SET seq = coalesce((SELECT max(seq) FROM lifecycle_transitions), 0) WHERE id = 1")
                    try self.restoreKPITriggersAndRebuild(db)
                    return .commit
                }
            }
            return state.committedReport
        } catch is RollbackImport {
            return state.rolledBackReport
        }
    }

    private func importAll(
        _ db: Database,
        _ sources: [any RowSource],
        options: ImportOptions,
        actor: Actor,
        at: Timestamp,
        state: ImportState,
        progress: @escaping @Sendable (ImportProgress) -> Void
    ) throws {
        for source in sources {
            try importFile(db, source, options: options, state: state, progress: progress)
        }
        if !state.problems.isEmpty, !options.skipInvalid { throw RollbackImport() }
        // One record per person (docs/IDENTITY.md): contacts that share an email key, from this
        // bundle or with the database, become one, the earliest created kept; each merge audited.
        if sources.contains(where: { $0.resource == .contacts }) {
            state.countMerges(try mergeSameEmail(db, actor: actor, at: at, reason: "import"))
        }
        for (resource, detail) in state.auditEntries { try Self.audit(db, actor, at, "import", resource, "", detail) }
    }

    private func importFile(
        _ db: Database,
        _ source: any RowSource,
        options: ImportOptions,
        state: ImportState,
        progress: @escaping @Sendable (ImportProgress) -> Void
    ) throws {
        let r = source.resource
        let schema = r.schema
        let file = r.fileName
        let started = DispatchTime.now().uptimeNanoseconds
        var summary = FileSummary(file: file)
        summary.warnings = source.warnings
        let countBefore = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(r.rawValue)") ?? 0
        let cols = Self.insertColumns(r)
        let updatable = cols.filter { $0 != "id" }
        let upsert = try RawStatement(
            db,
            """
            INSERT INTO \(r.rawValue) (\(cols.joined(separator: ", "))) VALUES (\(cols.map { _ in "?" }.joined(separator: ", ")))
            ON CONFLICT(id) DO UPDATE SET \(updatable.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
            WHERE \(updatable.map { "\($0) IS NOT excluded.\($0)" }.joined(separator: " OR "))
            """
        )
        let history = r == .contacts ? try ImportedHistory(db) : nil
        let tracksIDs = Resource.allCases.contains { other in other.schema.fields.contains { $0.references == r } }
        var seenStrings: Set<String> = []
        var seenHashes: Set<Int> = []
        var deferredSelfRefs: [(line: Int, field: FieldSpec, id: String, recordID: String, raw: [String])] = []
        var changes = 0
        let refFields = schema.fields.enumerated().filter { $0.element.references != nil }
        let contactRefFields = refFields.filter { $0.element.references == .contacts }
        let merges = (r == .contacts || !contactRefFields.isEmpty) ? try MergedContacts(db) : nil
        var anyProblem = !state.problems.isEmpty

        func reject(_ problem: BundleProblem, _ raw: [String]) {
            state.add(problem, raw: raw)
            anyProblem = true
        }

        while true {
            let chunk = source.nextChunk(limit: options.chunkSize)
            if chunk.isEmpty { break }
            rows: for original in chunk {
                var row = original
                summary.rows += 1
                if !row.problems.isEmpty {
                    summary.rejected += 1
                    for p in row.problems { state.add(p, raw: row.raw) }
                    anyProblem = true
                    continue
                }
                // A contact merged away earlier (one record per person) stays merged: its row
                // changes nothing, and rows that name it name the contact it was merged into.
                if let merges {
                    if r == .contacts, case .text(let own) = row.values[0] {
                        if let kept = try merges.keptID(own) {
                            summary.mergedAway += 1
                            if tracksIDs { state.imported(r, kept) }
                            continue
                        }
                        // A kept contact keeps what its merges gave it: the row's values win,
                        // its blanks keep the stored values, as in the merge itself.
                        if try merges.keptOthers(own), let stored = try Self.fetch(db, .contacts, id: own) {
                            row.values = ContactMerge.merge(keep: row.values, duplicate: stored.values)
                        }
                    }
                    for (i, _) in contactRefFields {
                        if case .text(let refID) = row.values[i], let kept = try merges.keptID(refID) { row.values[i] = .text(kept) }
                    }
                }
                let id = schema.recordID(row.values)
                let fresh = tracksIDs ? seenStrings.insert(id).inserted : seenHashes.insert(id.hashValue).inserted
                if !fresh {
                    summary.rejected += 1
                    let keyName = schema.key.joined(separator: ", ")
                    reject(
                        BundleProblem(
                            file: file,
                            line: row.line,
                            column: source.column(of: schema.key[0]),
                            columnName: keyName,
                            message: "\(keyName) \"\(id)\" appears more than once in the file"
                        ),
                        row.raw
                    )
                    continue
                }
                for (i, spec) in refFields {
                    guard case .text(let refID) = row.values[i] else { continue }
                    let target = spec.references!
                    if target == r {
                        deferredSelfRefs.append((row.line, spec, refID, id, row.raw))
                        continue
                    }
                    if !(try state.known(db, target, refID)) {
                        summary.rejected += 1
                        reject(
                            BundleProblem(
                                file: file,
                                line: row.line,
                                column: source.column(of: spec.name),
                                columnName: spec.name,
                                message: "\"\(refID)\" names no \(target.rawValue) record (in this bundle or the database)"
                            ),
                            row.raw
                        )
                        continue rows
                    }
                }
                // Once the import is known to fail, only keep checking.
                if anyProblem, !options.skipInvalid {
                    if tracksIDs { state.imported(r, id) }
                    continue
                }
                do {
                    upsert.bindInsert(r, row.values)
                    let changed = try upsert.execute()
                    changes += changed
                    if changed > 0, let history { try history.record(id, row.values) }
                    if tracksIDs { state.imported(r, id) }
                } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                    summary.rejected += 1
                    reject(
                        BundleProblem(
                            file: file,
                            line: row.line,
                            column: 0,
                            columnName: nil,
                            message: Self.constraintMessage(error, r)
                        ),
                        row.raw
                    )
                }
            }
            progress(ImportProgress(file: file, rows: summary.rows, fraction: source.fraction))
        }
        for ref in deferredSelfRefs {
            if seenStrings.contains(ref.id) { continue }
            if try Self.exists(db, r, id: ref.id) { continue }
            summary.rejected += 1
            reject(
                BundleProblem(
                    file: file,
                    line: ref.line,
                    column: source.column(of: ref.field.name),
                    columnName: ref.field.name,
                    message: "\"\(ref.id)\" names no \(r.rawValue) record (in this bundle or the database)"
                ),
                ref.raw
            )
            if options.skipInvalid {
                try db.execute(sql: "DELETE FROM \(r.rawValue) WHERE id = ?", arguments: [ref.recordID])
                changes -= 1
            }
        }
        let countAfter = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(r.rawValue)") ?? 0
        summary.inserted = countAfter - countBefore
        summary.updated = max(0, changes - summary.inserted)
        summary.unchanged = summary.rows - summary.rejected - summary.inserted - summary.updated - summary.mergedAway
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        state.summaries.append(summary)
    }

    static func constraintMessage(_ error: DatabaseError, _ r: Resource) -> String {
        let m = error.message ?? ""
        if m.contains("external_id") { return "source and external_id are already used by another \(r.rawValue) record" }
        if m.contains("email_key") { return "another user has this email" }
        return "violates a constraint of \(r.rawValue): \(m)"
    }

    public func exportRecords(_ resource: Resource, chunkSize: Int, _ body: @escaping @Sendable ([Record]) throws -> Void) async throws {
        try await pool.read { db in
            let cursor = try Row.fetchCursor(
                db,
                sql: "SELECT \(SQLiteValue.columns(resource)) FROM \(resource.rawValue) ORDER BY id"
            )
            var chunk: [Record] = []
            chunk.reserveCapacity(chunkSize)
            while let row = try cursor.next() {
                chunk.append(SQLiteValue.record(resource, row))
                if chunk.count == chunkSize {
                    try body(chunk)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            if !chunk.isEmpty { try body(chunk) }
        }
    }
}

/// What an import has seen so far. Used only inside the import's write transaction.
final class ImportState: @unchecked Sendable {
    var summaries: [FileSummary] = []
    var problems: [BundleProblem] = []
    var rejected: [(problem: BundleProblem, raw: [String])] = []
    var importedIDs: [Resource: Set<String>] = [:]
    var knownInDatabase: [Resource: Set<String>] = [:]
    /// Problems kept in full; beyond this only counted, so a garbage file cannot exhaust memory.
    let problemLimit = 100_000
    var droppedProblems = 0
    /// Contacts merged into an earlier one with the same email key.
    var mergedContacts = 0

    func add(_ p: BundleProblem, raw: [String]) {
        if problems.count < problemLimit {
            problems.append(p)
            rejected.append((p, raw))
        } else {
            droppedProblems += 1
        }
    }

    func imported(_ r: Resource, _ id: String) { importedIDs[r, default: []].insert(id) }

    /// Counts `merged` same-email contacts as merged away rather than inserted or updated.
    func countMerges(_ merged: Int) {
        mergedContacts = merged
        guard let i = summaries.firstIndex(where: { $0.file == Resource.contacts.fileName }) else { return }
        let fromInserted = min(merged, summaries[i].inserted)
        summaries[i].inserted -= fromInserted
        summaries[i].updated = max(0, summaries[i].updated - (merged - fromInserted))
        summaries[i].mergedAway += merged
    }

    /// The audit entries of an import, one per file: (resource, detail).
    var auditEntries: [(String, String)] {
        summaries.map {
            (
                $0.file.replacingOccurrences(of: ".csv", with: ""),
                "{\"inserted\":\($0.inserted),\"updated\":\($0.updated),\"unchanged\":\($0.unchanged),\"rejected\":\($0.rejected)}"
            )
        }
    }

    /// The report of a committed import.
    var committedReport: ImportReport {
        ImportReport(files: summaries, problems: problems, rejectedRows: rejected, committed: true, moreProblems: droppedProblems, mergedContacts: mergedContacts)
    }

    /// The report of an import that wrote nothing: every problem, no counts of writes.
    var rolledBackReport: ImportReport {
        var files = summaries
        for i in files.indices {
            files[i].inserted = 0
            files[i].updated = 0
            files[i].unchanged = 0
        }
        return ImportReport(files: files, problems: problems, rejectedRows: rejected, committed: false, moreProblems: droppedProblems)
    }

    func known(_ db: Database, _ r: Resource, _ id: String) throws -> Bool {
        if importedIDs[r]?.contains(id) == true || knownInDatabase[r]?.contains(id) == true { return true }
        if try SQLiteStore.exists(db, r, id: id) {
            knownInDatabase[r, default: []].insert(id)
            return true
        }
        return false
    }
}

/// Writes a contact's imported stage history (`became_*_at`, `recycled_at`) as transitions by
/// the importer, replacing what an earlier import of the same contact wrote. Imported history is
/// kept as it happened in the source system, never re-derived.
struct ImportedHistory {
    let remove: RawStatement
    let insert: RawStatement
    let columns: [(LifecycleStage, Int)]
    let reasonIndex: Int

    init(_ db: Database) throws {
        remove = try RawStatement(db, "DELETE FROM lifecycle_transitions WHERE contact_id = ? AND actor = 'import'")
        insert = try RawStatement(
            db,
            "INSERT INTO lifecycle_transitions(contact_id, from_stage, to_stage, at, actor, reason) VALUES (?, ?, ?, ?, 'import', ?)"
        )
        let schema = Resource.contacts.schema
        columns = LifecycleStage.allCases.compactMap { stage in stage.historyColumn.flatMap { schema.index[$0] }.map { (stage, $0) } }
        reasonIndex = schema.index["recycle_reason"]!
    }

    func record(_ contactID: String, _ values: [FieldValue]) throws {
        var times: [LifecycleStage: Timestamp] = [:]
        for (stage, i) in columns { if let t = values[i].timestamp { times[stage] = t } }
        remove.bind(1, contactID)
        _ = try remove.execute()
        for t in Lifecycle.importedHistory(times, recycleReason: values[reasonIndex].text) {
            insert.bind(1, contactID)
            insert.bind(2, t.from?.rawValue)
            insert.bind(3, t.to.rawValue)
            insert.bind(4, .timestamp(t.at))
            insert.bind(5, t.reason)
            _ = try insert.execute()
        }
    }
}

/// Contacts merged away before this import, looked up by id (nil when there are none).
struct MergedContacts {
    let lookup: RawStatement
    let kept: RawStatement

    init?(_ db: Database) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM contact_merges)") == true else { return nil }
        lookup = try RawStatement(db, "SELECT kept_id FROM contact_merges WHERE removed_id = ?")
        kept = try RawStatement(db, "SELECT 1 FROM contact_merges WHERE kept_id = ? LIMIT 1")
    }

    /// Whether another contact was merged into `id`.
    func keptOthers(_ id: String) throws -> Bool {
        kept.bind(1, id)
        return try kept.hasRow()
    }

    /// The contact `id` was merged into, if it was merged away.
    func keptID(_ id: String) throws -> String? {
        lookup.bind(1, id)
        return try lookup.text()
    }
}
