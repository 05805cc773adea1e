import Foundation
import PostgresNIO
import SmarketingCore

/// Thrown inside the import transaction to roll it back when the bundle has problems.
private struct RollbackImport: Error {}

/// The touchpoint months an import knows to have a partition, and whether it still makes them.
struct MonthPartitions {
    var made: Set<Int>
    var enabled = true
    init(_ made: Set<Int>) { self.made = made }
}

/// Bundle import and export on PostgreSQL. The rules are the SQLite import's (docs/BUNDLE.md):
/// every problem with file, line and column; nothing written when any row fails (unless
/// `skipInvalid`); contacts merged away stay merged; same-email contacts become one; imported
/// stage history kept as it happened. The way is PostgreSQL's: rows are checked a chunk at a
/// time (references looked up with one `= ANY` query per chunk), written with `COPY` into a
/// staging table and moved with one `INSERT … ON CONFLICT DO UPDATE … WHERE … IS DISTINCT FROM`.
extension PostgresStore: BundleStore {
    public func importRows(
        _ sources: [any RowSource],
        options: ImportOptions,
        actor: Actor,
        at: Timestamp,
        progress: @escaping @Sendable (ImportProgress) -> Void
    ) async throws -> ImportReport {
        let state = ImportState()
        do {
            try await write { c in
                // One import at a time per database (two would race on the same-email merges).
                try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.importLock)])
                // An import does not score (the caller rescores after it); while an apply runs,
                // every contact is scored again when it switches.
                let passRunning = try await Self.shareScoring(c)
                // Rows are not noted one by one: the aggregates are rebuilt once at the commit.
                try await c.execute("SELECT set_config('smarketing.kpi_bulk', 'on', true)")
                try await c.execute("UPDATE kpi_state SET built_with = NULL WHERE id = 1")
                for source in sources {
                    try await self.importFile(c, source, options: options, state: state, progress: progress)
                }
                if !state.problems.isEmpty, !options.skipInvalid { throw RollbackImport() }
                if sources.contains(where: { $0.resource == .contacts }) {
                    state.countMerges(try await self.mergeSameEmail(c, actor: actor, at: at, reason: "import"))
                }
                if passRunning {
                    try await c.execute("INSERT INTO scoring_dirty(contact_id) SELECT id FROM contacts ON CONFLICT (contact_id) DO NOTHING")
                }
                for (resource, detail) in state.auditEntries { try await Self.audit(c, actor, at, "import", resource, "", detail) }
                // Imported stage history is history: it opens no handovers and sends no webhooks.
                try await c.execute("UPDATE transition_cursor SET seq = coalesce((SELECT max(seq) FROM lifecycle_transitions), 0) WHERE id = 1")
            }
            // Imported months without a partition went to the default one: each moves into its
            // own now (after the commit, a month per transaction). The import is committed either
            // way; what fails here stays in the default partition until the next housekeeping.
            if sources.contains(where: { $0.resource == .touchpoints }) { _ = try? await housekeeping(at: at) }
            return state.committedReport
        } catch is RollbackImport {
            return state.rolledBackReport
        }
    }

    public func afterBulkLoad() async throws {
        // Fresh statistics, so the first queries after a big import plan with the real sizes; the
        // month roll-ups vacuumed, so the dashboard reads them from the index alone (a VACUUM
        // runs outside a transaction, hence one statement per call).
        try await read { c in
            try await c.script("VACUUM kpi_months")
            try await c.script("ANALYZE")
        }
    }

    static let importLock: Int64 = 0x736D_6B5F_696D_7074  // "smk_impt"

    /// A row that passed the checks of its own, waiting for its references to be looked up.
    private struct Candidate {
        var row: ParsedRow
        var id: String
    }

    private func importFile(
        _ c: PGConn,
        _ source: any RowSource,
        options: ImportOptions,
        state: ImportState,
        progress: @escaping @Sendable (ImportProgress) -> Void
    ) async throws {
        let r = source.resource
        let schema = r.schema
        let file = r.fileName
        let started = DispatchTime.now().uptimeNanoseconds
        var summary = FileSummary(file: file)
        summary.warnings = source.warnings
        // Touchpoints are counted by their id registry: a count of the partitioned table would
        // lock every partition for the rest of the import, and a month partition made meanwhile
        // (below) needs the default partition free of other transactions' locks.
        let countTable = r == .touchpoints ? "touchpoint_ids" : r.rawValue
        let countBefore = try await c.one("SELECT count(*) FROM \(countTable)")?.int(0) ?? 0
        var months = r == .touchpoints
            ? MonthPartitions(Set(try await Self.touchpointPartitions(c, countDefault: false).compactMap { $0.from?.utcDate.monthIndex }))
            : nil
        let cols = Self.insertColumns(r)
        let updatable = cols.filter { $0 != "id" }
        try await c.script("CREATE TEMP TABLE IF NOT EXISTS import_stage_\(r.rawValue) (LIKE \(r.rawValue)) ON COMMIT DROP")
        let stage = "import_stage_\(r.rawValue)"
        let tracksIDs = Resource.allCases.contains { other in other.schema.fields.contains { $0.references == r } }
        var seen: Set<String> = []
        var deferredSelfRefs: [(line: Int, field: FieldSpec, id: String, recordID: String, raw: [String])] = []
        var changes = 0
        let refFields = schema.fields.enumerated().filter { $0.element.references != nil }
        let contactRefFields = refFields.filter { $0.element.references == .contacts }
        // Contacts merged away earlier (few): read once.
        var mergedInto: [String: String] = [:]
        var keptOthers: Set<String> = []
        if r == .contacts || !contactRefFields.isEmpty {
            for row in try await c.rows("SELECT removed_id, kept_id FROM contact_merges") {
                guard let removed = row.text(0), let kept = row.text(1) else { continue }
                mergedInto[removed] = kept
                keptOthers.insert(kept)
            }
        }
        var anyProblem = !state.problems.isEmpty
        func reject(_ problem: BundleProblem, _ raw: [String]) {
            state.add(problem, raw: raw)
            anyProblem = true
        }

        while true {
            let chunk = source.nextChunk(limit: options.chunkSize)
            if chunk.isEmpty { break }
            var candidates: [Candidate] = []
            candidates.reserveCapacity(chunk.count)
            var lookups: [Resource: Set<String>] = [:]
            for original in chunk {
                var row = original
                summary.rows += 1
                if !row.problems.isEmpty {
                    summary.rejected += 1
                    for p in row.problems { state.add(p, raw: row.raw) }
                    anyProblem = true
                    continue
                }
                if !mergedInto.isEmpty {
                    if r == .contacts, case .text(let own) = row.values[0] {
                        if let kept = mergedInto[own] {
                            summary.mergedAway += 1
                            if tracksIDs { state.imported(r, kept) }
                            continue
                        }
                        if keptOthers.contains(own), let stored = try await Self.fetch(c, .contacts, id: own) {
                            row.values = ContactMerge.merge(keep: row.values, duplicate: stored.values)
                        }
                    }
                    for (i, _) in contactRefFields {
                        if case .text(let refID) = row.values[i], let kept = mergedInto[refID] { row.values[i] = .text(kept) }
                    }
                }
                let id = schema.recordID(row.values)
                guard seen.insert(id).inserted else {
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
                    guard case .text(let refID) = row.values[i], let target = spec.references, target != r else { continue }
                    if !state.knownLocally(target, refID) { lookups[target, default: []].insert(refID) }
                }
                candidates.append(Candidate(row: row, id: id))
            }
            // One lookup per referenced resource for the whole chunk.
            for (target, ids) in lookups {
                let found = try await c.rows("SELECT id FROM \(target.rawValue) WHERE id = ANY(?::text[])", [.textArray(Array(ids))])
                for f in found { if let id = f.text(0) { state.knownInDatabase[target, default: []].insert(id) } }
            }
            var writable: [Candidate] = []
            writable.reserveCapacity(candidates.count)
            rows: for cand in candidates {
                for (i, spec) in refFields {
                    guard case .text(let refID) = cand.row.values[i], let target = spec.references else { continue }
                    if target == r {
                        deferredSelfRefs.append((cand.row.line, spec, refID, cand.id, cand.row.raw))
                        continue
                    }
                    if !state.knownLocally(target, refID) {
                        summary.rejected += 1
                        reject(
                            BundleProblem(
                                file: file,
                                line: cand.row.line,
                                column: source.column(of: spec.name),
                                columnName: spec.name,
                                message: "\"\(refID)\" names no \(target.rawValue) record (in this bundle or the database)"
                            ),
                            cand.row.raw
                        )
                        continue rows
                    }
                }
                if tracksIDs { state.imported(r, cand.id) }
                writable.append(cand)
            }
            // Once the import is known to fail, only keep checking.
            if !(anyProblem && !options.skipInvalid), !writable.isEmpty {
                if var m = months, let at = schema.index["occurred_at"] {
                    await makeMonthPartitions(&m, writable.compactMap { $0.row.values[at].timestamp })
                    months = m
                }
                let (changed, rejectedRows) = try await writeChunk(
                    c,
                    r,
                    stage: stage,
                    cols: cols,
                    updatable: updatable,
                    writable,
                    file: file,
                    tableWasEmpty: countBefore == 0
                )
                for (cand, message) in rejectedRows {
                    summary.rejected += 1
                    reject(BundleProblem(file: file, line: cand.row.line, column: 0, columnName: nil, message: message), cand.row.raw)
                }
                changes += changed.count
                if r == .contacts, !changed.isEmpty {
                    let byID = Dictionary(writable.map { ($0.id, $0.row.values) }, uniquingKeysWith: { a, _ in a })
                    try await Self.recordImportedHistory(c, changed.compactMap { id in byID[id].map { (id, $0) } })
                }
            }
            progress(ImportProgress(file: file, rows: summary.rows, fraction: source.fraction))
        }
        for ref in deferredSelfRefs {
            if seen.contains(ref.id) { continue }
            if try await Self.exists(c, r, id: ref.id) { continue }
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
                try await c.execute("DELETE FROM \(r.rawValue) WHERE id = ?", [.text(ref.recordID)])
                changes -= 1
            }
        }
        let countAfter = try await c.one("SELECT count(*) FROM \(countTable)")?.int(0) ?? 0
        summary.inserted = Int(clamping: countAfter - countBefore)
        summary.updated = max(0, changes - summary.inserted)
        summary.unchanged = summary.rows - summary.rejected - summary.inserted - summary.updated - summary.mergedAway
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        state.summaries.append(summary)
    }

    /// Writes a chunk: COPY into the staging table, then one upsert that changes only rows
    /// whose values differ; returns the ids written (inserted or changed). A unique rule broken by
    /// some rows (an external id or a user email used elsewhere) rejects those rows alone: the
    /// chunk is written again row by row under savepoints.
    private func writeChunk(
        _ c: PGConn,
        _ r: Resource,
        stage: String,
        cols: [String],
        updatable: [String],
        _ rows: [Candidate],
        file: String,
        tableWasEmpty: Bool
    ) async throws -> (changed: [String], rejected: [(Candidate, String)]) {
        let upsert: String
        if r == .touchpoints {
            // Partitioned (no unique index on id alone): changed rows updated, new ones inserted.
            upsert = """
                WITH changed AS (
                  UPDATE touchpoints t SET \(updatable.map { "\($0) = s.\($0)" }.joined(separator: ", ")) FROM \(stage) s
                  WHERE t.id = s.id AND (\(updatable.map { "t.\($0)" }.joined(separator: ", "))) IS DISTINCT FROM (\(updatable.map { "s.\($0)" }.joined(separator: ", ")))
                  RETURNING t.id
                ), added AS (
                  INSERT INTO touchpoints (\(cols.joined(separator: ", "))) SELECT \(cols.map { "s.\($0)" }.joined(separator: ", ")) FROM \(stage) s
                  WHERE NOT EXISTS (SELECT 1 FROM touchpoint_ids i WHERE i.id = s.id)
                  RETURNING id
                )
                SELECT id FROM changed UNION ALL SELECT id FROM added
                """
        } else {
            upsert = """
                INSERT INTO \(r.rawValue) (\(cols.joined(separator: ", "))) SELECT \(cols.joined(separator: ", ")) FROM \(stage)
                ON CONFLICT (id) DO UPDATE SET \(updatable.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
                WHERE (\(updatable.map { "\(r.rawValue).\($0)" }.joined(separator: ", "))) IS DISTINCT FROM (\(updatable.map { "excluded.\($0)" }.joined(separator: ", ")))
                RETURNING id
                """
        }
        try await c.execute("SAVEPOINT import_chunk")
        do {
            let ids = rows.map(\.id)
            let idTable = r == .touchpoints ? "touchpoint_ids" : r.rawValue
            // Into a table that was empty when its file began (a first load) no look is needed:
            // the file's ids are distinct, and one an ingest added meanwhile breaks the key.
            let existing = tableWasEmpty ? nil : try await c.one("SELECT 1 FROM \(idTable) WHERE id = ANY(?::text[]) LIMIT 1", [.textArray(ids)])
            if existing == nil {
                // None of the chunk's rows is stored yet (a first load): straight into the table,
                // written once. (Imports hold the import lock; a row an ingest adds meanwhile
                // breaks the key, and the chunk is then written row by row below.) Touchpoint ids
                // are registered with one insert for the chunk, not by the trigger row by row.
                if r == .touchpoints {
                    try await c.execute("SELECT set_config('smarketing.ids_bulk', 'on', true)")
                    try await c.execute("INSERT INTO touchpoint_ids SELECT unnest(?::text[])", [.textArray(ids)])
                }
                try await c.copy(r.rawValue, cols, rows.map { Self.insertArguments(Record(r, values: $0.row.values)) })
                if r == .touchpoints { try await c.execute("SELECT set_config('smarketing.ids_bulk', '', true)") }
                try await c.execute("RELEASE SAVEPOINT import_chunk")
                return (ids, [])
            }
            try await c.copy(stage, cols, rows.map { Self.insertArguments(Record(r, values: $0.row.values)) })
            let changed = try await c.rows(upsert).compactMap { $0.text(0) }
            try await c.script("TRUNCATE \(stage)")
            try await c.execute("RELEASE SAVEPOINT import_chunk")
            return (changed, [])
        } catch {
            guard case .uniqueViolation = PGErrorClass.of(error) else { throw error }
            try await c.execute("ROLLBACK TO SAVEPOINT import_chunk")
        }
        var changed: [String] = []
        var rejected: [(Candidate, String)] = []
        for cand in rows {
            try await c.execute("SAVEPOINT import_row")
            do {
                try await c.copy(stage, cols, [Self.insertArguments(Record(r, values: cand.row.values))])
                changed += try await c.rows(upsert).compactMap { $0.text(0) }
                try await c.script("TRUNCATE \(stage)")
                try await c.execute("RELEASE SAVEPOINT import_row")
            } catch {
                guard case .uniqueViolation(let constraint) = PGErrorClass.of(error) else { throw error }
                try await c.execute("ROLLBACK TO SAVEPOINT import_row")
                try await c.script("TRUNCATE \(stage)")
                rejected.append((cand, Self.constraintMessage(constraint ?? "", r)))
            }
        }
        return (changed, rejected)
    }

    /// Makes the month partitions a chunk's touchpoints need before the chunk is written, so its
    /// rows go straight into their month (instead of into the default partition and a second
    /// write when housekeeping moves them after the commit). Each month is made in a short
    /// transaction of its own on another connection, as housekeeping makes them: attaching a
    /// partition locks the default partition, which the import never touches. That transaction
    /// waits at most 2 s for a lock (an ingest writing into the default partition meanwhile); if
    /// it cannot, the import stops making months and its remaining rows of months without a
    /// partition take the old way (housekeeping after the commit).
    private func makeMonthPartitions(_ months: inout MonthPartitions, _ times: [Timestamp]) async {
        guard months.enabled else { return }
        var needed: Set<Int> = []
        for t in times {
            let month = t.utcDate
            // A partition name needs a four-digit year (as `touchpoint_months_due`).
            guard (1000...9998).contains(month.year), !months.made.contains(month.monthIndex) else { continue }
            needed.insert(month.monthIndex)
        }
        for index in needed.sorted() {
            let first = LocalDate(monthIndex: index).text + " 00:00:00"
            do {
                try await client.withConnection(timeout: connectionWait) { connection in
                    let side = PGConn(connection: connection, logger: logger)
                    try await side.script("BEGIN")
                    do {
                        try await side.execute("SET LOCAL lock_timeout = '2s'")
                        try await side.execute("SELECT touchpoint_month_partition(?::timestamp)", [.text(first)])
                        try await side.script("COMMIT")
                    } catch {
                        try? await side.script("ROLLBACK")
                        throw error
                    }
                }
                months.made.insert(index)
            } catch {
                months.enabled = false
                return
            }
        }
    }

    static func constraintMessage(_ constraint: String, _ r: Resource) -> String {
        if constraint.contains("external") { return "source and external_id are already used by another \(r.rawValue) record" }
        if constraint.contains("email") { return "another user has this email" }
        return "violates a constraint of \(r.rawValue): \(constraint)"
    }

    /// Replaces the importer's stage history of these contacts with the one their row gives.
    static func recordImportedHistory(_ c: PGConn, _ contacts: [(String, [FieldValue])]) async throws {
        let schema = Resource.contacts.schema
        let columns = LifecycleStage.allCases.compactMap { stage in stage.historyColumn.flatMap { schema.index[$0] }.map { (stage, $0) } }
        guard let reasonIndex = schema.index["recycle_reason"] else { return }
        try await c.execute(
            "DELETE FROM lifecycle_transitions WHERE actor = 'import' AND contact_id = ANY(?::text[])",
            [.textArray(contacts.map(\.0))]
        )
        var rows: [[PGValue]] = []
        for (id, values) in contacts {
            var times: [LifecycleStage: Timestamp] = [:]
            for (stage, i) in columns { if let t = values[i].timestamp { times[stage] = t } }
            for t in Lifecycle.importedHistory(times, recycleReason: values[reasonIndex].text) {
                rows.append([.text(id), .of(t.from?.rawValue), .text(t.to.rawValue), .int(t.at.milliseconds), .text("import"), .of(t.reason)])
            }
        }
        if !rows.isEmpty { try await c.copy("lifecycle_transitions", ["contact_id", "from_stage", "to_stage", "at", "actor", "reason"], rows) }
    }

    public func exportRecords(_ resource: Resource, chunkSize: Int, _ body: @escaping @Sendable ([Record]) throws -> Void) async throws {
        // A cursor in one read-only transaction at REPEATABLE READ: one snapshot for the whole
        // export, streamed, never the whole table in memory.
        try await read { c in
            try await c.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            do {
                try await c.script("DECLARE export_cursor NO SCROLL CURSOR FOR SELECT \(Self.columns(resource)) FROM \(resource.rawValue) ORDER BY id")
                let size = max(1, min(chunkSize, 100_000))
                while true {
                    let rows = try await c.rows("FETCH \(size) FROM export_cursor")
                    if rows.isEmpty { break }
                    try body(rows.map { Self.record(resource, $0) })
                }
                try await c.script("COMMIT")
            } catch {
                try? await c.script("ROLLBACK")
                throw error
            }
        }
    }
}

extension ImportState {
    /// Whether an id is known without asking the database (imported earlier in this import, or
    /// found by an earlier lookup).
    func knownLocally(_ r: Resource, _ id: String) -> Bool {
        importedIDs[r]?.contains(id) == true || knownInDatabase[r]?.contains(id) == true
    }
}
