import Foundation
import GRDB
import SmarketingCore

extension SQLiteStore {
    /// The column list of the INSERT for a resource: synthetic id, fields, store-only columns.
    static func insertColumns(_ r: Resource) -> [String] {
        var cols = r.schema.hasOwnID ? [] : ["id"]
        cols += r.schema.fields.map(\.name)
        if r == .contacts || r == .users { cols.append("email_key") }
        return cols
    }

    /// The INSERT arguments of a record, in `insertColumns` order.
    static func insertArguments(_ record: Record) -> [DatabaseValue] {
        var args: [DatabaseValue] = []
        args.reserveCapacity(record.values.count + 2)
        let schema = record.resource.schema
        if !schema.hasOwnID { args.append(schema.recordID(record.values).databaseValue) }
        for v in record.values { args.append(SQLiteValue.database(v)) }
        if record.resource == .contacts || record.resource == .users {
            let email = record["email"].text ?? ""
            args.append((EmailAddress.key(email) ?? email.lowercased()).databaseValue)
        }
        return args
    }

    static func fetch(_ db: Database, _ r: Resource, id: String) throws -> Record? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(SQLiteValue.columns(r)) FROM \(r.rawValue) WHERE id = ?"),
            arguments: [id]
        ).map { SQLiteValue.record(r, $0) }
    }

    static func exists(_ db: Database, _ r: Resource, id: String) throws -> Bool {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM \(r.rawValue) WHERE id = ?"), arguments: [id]) != nil
    }

    /// Throws `reference` when a field names a record that does not exist.
    static func checkReferences(_ db: Database, _ record: Record) throws {
        for f in record.resource.schema.fields {
            guard let ref = f.references, let id = record[f.name].text else { continue }
            if !(try exists(db, ref, id: id)) {
                throw StoreError.reference("\(f.name) \"\(id)\" names no \(ref.rawValue) record")
            }
        }
    }

    /// Throws `reference` when other records still name this one.
    static func checkNotReferenced(_ db: Database, _ r: Resource, id: String) throws {
        for (other, field) in RecordRules.referencing(r) {
            if try Row.fetchOne(db, sql: "SELECT 1 FROM \(other.rawValue) WHERE \(field) = ? LIMIT 1", arguments: [id]) != nil {
                throw RecordRules.stillReferenced(r, id, by: other, field: field)
            }
        }
    }

    static func auditJSON(_ record: Record) -> String { RecordRules.auditJSON(record) }

    public func get(_ resource: Resource, id: String) async throws -> Record? {
        try await pool.read { db in try Self.fetch(db, resource, id: id) }
    }

    public func count(_ resource: Resource) async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(resource.rawValue)") ?? 0 }
    }

    public func create(_ record: Record, actor: Actor, at: Timestamp) async throws {
        try Self.checkRanges(record)
        try await writeRefreshingKPIs { db in try self.insertRecord(db, record, actor: actor, at: at, detail: nil) }
    }

    /// Creates a record inside the caller's transaction (the API, web forms and syncs share it):
    /// checks, lifecycle reactions and the audit entry (`detail` added to it when given).
    func insertRecord(_ db: Database, _ record: Record, actor: Actor, at: Timestamp, detail: String?) throws {
        let id = record.id
        if try Self.exists(db, record.resource, id: id) {
            throw StoreError.conflict("a \(record.resource.rawValue) record with id \"\(id)\" exists")
        }
        try Self.checkReferences(db, record)
        try Self.checkUnique(db, record, exceptID: nil)
        let cols = Self.insertColumns(record.resource)
        try db.execute(
            sql: "INSERT INTO \(record.resource.rawValue) (\(cols.joined(separator: ", "))) VALUES (\(cols.map { _ in "?" }.joined(separator: ", ")))",
            arguments: StatementArguments(Self.insertArguments(record))
        )
        try self.afterWrite(db, record.resource, old: nil, new: record, actor: actor, at: at)
        try self.reactToTransitions(db, at: at)
        var json = Self.auditJSON(record)
        if let detail { json = "{\"record\":" + json + ",\"via\":" + JSONValue.string(detail).compactText + "}" }
        try Self.audit(db, actor, at, "create", record.resource.rawValue, id, json)
    }

    static func checkRanges(_ record: Record) throws { try RecordRules.checkRanges(record) }

    /// Unique rules beyond the id: user emails, (source, external_id).
    static func checkUnique(_ db: Database, _ record: Record, exceptID: String?) throws {
        let r = record.resource
        if r == .users, let key = EmailAddress.key(record["email"].text ?? ""),
            let other = try String.fetchOne(db, sql: "SELECT id FROM users WHERE email_key = ?", arguments: [key]), other != exceptID
        {
            throw StoreError.conflict("user \"\(other)\" already has the email \(key)")
        }
        if r.schema.index["external_id"] != nil, let ext = record["external_id"].text {
            let source = record["source"].text
            if let other = try String.fetchOne(
                db,
                sql: "SELECT id FROM \(r.rawValue) WHERE source IS ? AND external_id = ?",
                arguments: [source, ext]
            ),
                other != exceptID
            {
                throw StoreError.conflict("\(r.rawValue) \"\(other)\" already has external id \"\(ext)\" from \(source ?? "(no source)")")
            }
        }
    }

    public func update(_ resource: Resource, id: String, fields: [String: FieldValue], actor: Actor, at: Timestamp) async throws -> Record {
        try await writeRefreshingKPIs { db in try self.updateRecord(db, resource, id: id, fields: fields, actor: actor, at: at, detail: nil) }
    }

    /// Changes fields inside the caller's transaction (shared by the API and syncs); audited
    /// with what changed (and `detail` when given).
    func updateRecord(
        _ db: Database,
        _ resource: Resource,
        id: String,
        fields: [String: FieldValue],
        actor: Actor,
        at: Timestamp,
        detail: String?
    ) throws -> Record {
        guard let old = try Self.fetch(db, resource, id: id) else { throw StoreError.notFound(resource, id) }
        let schema = resource.schema
        let (record, applied) = try RecordRules.apply(fields, to: old)
        var changed = applied
        guard !changed.isEmpty else { return record }
        try Self.checkReferences(db, record)
        try Self.checkUnique(db, record, exceptID: id)
        let cols = Self.insertColumns(resource).filter { $0 != "id" }
        var args = Self.insertArguments(record)
        if !schema.hasOwnID { args.removeFirst() } else if let i = schema.index["id"] { args.remove(at: i) }
        args.append(id.databaseValue)
        try db.execute(
            sql: "UPDATE \(resource.rawValue) SET \(cols.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?",
            arguments: StatementArguments(args)
        )
        try self.afterWrite(db, resource, old: old, new: record, actor: actor, at: at)
        try self.reactToTransitions(db, at: at)
        if let detail { changed["via"] = .string(detail) }
        try Self.audit(db, actor, at, "update", resource.rawValue, id, JSONValue.object(changed).compactText)
        return try Self.fetch(db, resource, id: id) ?? record
    }

    public func delete(_ resource: Resource, id: String, actor: Actor, at: Timestamp) async throws {
        try await writeRefreshingKPIs { db in
            guard let record = try Self.fetch(db, resource, id: id) else { throw StoreError.notFound(resource, id) }
            try Self.checkNotReferenced(db, resource, id: id)
            if resource == .users {
                try db.execute(sql: "DELETE FROM api_tokens WHERE user_id = ?", arguments: [id])
            }
            try db.execute(sql: "DELETE FROM \(resource.rawValue) WHERE id = ?", arguments: [id])
            if resource == .contacts {
                try db.execute(sql: "DELETE FROM contact_scores WHERE contact_id = ?", arguments: [id])
            }
            try self.afterWrite(db, resource, old: record, new: nil, actor: actor, at: at)
            try self.reactToTransitions(db, at: at)
            try Self.audit(db, actor, at, "delete", resource.rawValue, id, Self.auditJSON(record))
        }
    }

    public func list(_ resource: Resource, _ query: ListQuery) async throws -> Page {
        let schema = resource.schema
        var conditions: [String] = []
        var args: [DatabaseValue] = []
        for (name, value) in query.equals.sorted(by: { $0.key < $1.key }) {
            guard schema.index[name] != nil else { throw StoreError.invalid("\(resource.rawValue) has no field \"\(name)\"") }
            if value.isNull {
                conditions.append("\(name) IS NULL")
            } else {
                conditions.append("\(name) = ?")
                args.append(SQLiteValue.database(value))
            }
        }
        if let tf = schema.timeField {
            if let from = query.from {
                conditions.append("\(tf) >= ?")
                args.append(SQLiteValue.database(from))
            }
            if let to = query.to {
                conditions.append("\(tf) < ?")
                args.append(SQLiteValue.database(to))
            }
        }
        if let q = query.search, !q.isEmpty, !schema.searchFields.isEmpty {
            let pattern = RecordRules.likePattern(q)
            var ors = schema.searchFields.map { "\($0) LIKE ? ESCAPE '\\'" }
            args += Array(repeating: pattern.databaseValue, count: ors.count)
            if resource == .contacts, let match = SQLiteSearch.match(q, in: .api), let accountMatch = SQLiteSearch.match(q, in: .accounts) {
                // The trigram indexes find the candidates; LIKE decides. With many candidates
                // the list walks its sort index (id, created_at) instead (`+` keeps the
                // candidate sets from being used as the way in). See SQLiteSearch.
                let sort = query.sort ?? "id"
                let limit = max(1, min(query.limit, 1000))
                var walk = false
                if sort == "id" || sort == "created_at" { walk = try await pool.read { db in try SQLiteSearch.walksSortIndex(db, match: match, page: limit) } }
                let by = walk ? "+" : ""
                let own = "(\(by)rowid IN (SELECT rowid FROM contacts_search WHERE contacts_search MATCH ?) AND (" + ors.joined(separator: " OR ") + "))"
                args.insert(match.databaseValue, at: args.count - ors.count)
                let account =
                    "\(by)account_id IN (SELECT id FROM accounts WHERE rowid IN (SELECT rowid FROM accounts_search WHERE accounts_search MATCH ?) AND name LIKE ? ESCAPE '\\')"
                args += [accountMatch.databaseValue, pattern.databaseValue]
                conditions.append("(" + own + " OR " + account + ")")
            } else {
                if resource == .contacts {
                    ors.append("account_id IN (SELECT id FROM accounts WHERE name LIKE ? ESCAPE '\\')")
                    args.append(pattern.databaseValue)
                }
                conditions.append("(" + ors.joined(separator: " OR ") + ")")
            }
        }
        let sortField = query.sort ?? "id"
        guard sortField == "id" || schema.index[sortField] != nil else {
            throw StoreError.invalid("\(resource.rawValue) cannot be sorted by \"\(sortField)\"")
        }
        let sortType = schema.field(sortField)?.type ?? .text
        let sentinel = SQLiteSchema.columnType(sortType) == "TEXT" ? "''" : "-9223372036854775807"
        // Required fields are sorted by the bare column so that an index on it is used; others
        // put nulls first through a sentinel, which keeps keyset paging exact.
        let sortExpr = sortField == "id" || schema.field(sortField)?.required == true ? sortField : "coalesce(\(sortField), \(sentinel))"
        let dir = query.descending ? "DESC" : "ASC"
        let cmp = query.descending ? "<" : ">"
        if let cursor = query.cursor {
            let (key, lastID) = try RecordRules.decodeCursor(cursor)
            let last: DatabaseValue
            switch key {
            case .text(let t): last = t.databaseValue
            case .int(let i): last = i.databaseValue
            case .double(let d): last = d.databaseValue
            case .null: last = .null
            }
            if sortField == "id" {
                conditions.append("id \(cmp) ?")
                args.append(lastID.databaseValue)
            } else {
                conditions.append("(\(sortExpr) \(cmp) ? OR (\(sortExpr) = ? AND id \(cmp) ?))")
                args += [last, last, lastID.databaseValue]
            }
        }
        let limit = max(1, min(query.limit, 1000))
        var sql = "SELECT \(SQLiteValue.columns(resource)), \(sortExpr), id FROM \(resource.rawValue)"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY \(sortExpr) \(dir), id \(dir) LIMIT \(limit + 1)"
        let finalSQL = sql
        let finalArgs = args
        return try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: finalSQL, arguments: StatementArguments(finalArgs))
            let n = schema.fields.count
            var records = rows.prefix(limit).map { SQLiteValue.record(resource, $0) }
            var next: String?
            if rows.count > limit, let lastRow = rows.prefix(limit).last {
                let key: DatabaseValue = lastRow[n]
                let cursorKey: RecordRules.CursorKey
                switch key.storage {
                case .int64(let i): cursorKey = .int(i)
                case .double(let d): cursorKey = .double(d)
                case .string(let t): cursorKey = .text(t)
                default: cursorKey = .null
                }
                let idValue: String = lastRow[n + 1]
                next = RecordRules.encodeCursor(cursorKey, idValue)
            }
            if records.count > limit { records.removeLast() }
            return Page(records: records, nextCursor: next)
        }
    }
}
