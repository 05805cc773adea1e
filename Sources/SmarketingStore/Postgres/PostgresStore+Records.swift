import Foundation
import SmarketingCore

extension PostgresStore {
    // MARK: Columns and values

    static func insertColumns(_ r: Resource) -> [String] {
        var cols = r.schema.hasOwnID ? [] : ["id"]
        cols += r.schema.fields.map(\.name)
        if RecordRules.hasEmailKey(r) { cols.append("email_key") }
        return cols
    }

    static func insertArguments(_ record: Record) -> [PGValue] {
        var args: [PGValue] = []
        args.reserveCapacity(record.values.count + 2)
        if !record.resource.schema.hasOwnID { args.append(.text(record.id)) }
        for v in record.values { args.append(PGValue(v)) }
        if RecordRules.hasEmailKey(record.resource) { args.append(.text(RecordRules.emailKey(record))) }
        return args
    }

    static func field(_ v: PGValue, _ type: FieldType) -> FieldValue {
        switch v {
        case .null, .bytes, .textArray, .intArray: return .null
        case .int(let i): return StoredValue.field(int: i, type)
        case .double(let d): return .number(d)
        case .text(let s): return StoredValue.field(text: s, type)
        }
    }

    static func record(_ r: Resource, _ row: PGRow) -> Record {
        let fields = r.schema.fields
        var values = [FieldValue]()
        values.reserveCapacity(fields.count)
        for (i, f) in fields.enumerated() { values.append(field(row[i], f.type)) }
        return Record(r, values: values)
    }

    static func columns(_ r: Resource) -> String { r.schema.fields.map(\.name).joined(separator: ", ") }

    static func fetch(_ c: PGConn, _ r: Resource, id: String, lock: Bool = false) async throws -> Record? {
        try await c.one("SELECT \(columns(r)) FROM \(r.rawValue) WHERE id = ?" + (lock ? " FOR UPDATE" : ""), [.text(id)]).map { record(r, $0) }
    }

    static func exists(_ c: PGConn, _ r: Resource, id: String) async throws -> Bool {
        try await c.one("SELECT 1 FROM \(r.rawValue) WHERE id = ?", [.text(id)]) != nil
    }

    static func checkReferences(_ c: PGConn, _ record: Record) async throws {
        for f in record.resource.schema.fields {
            guard let ref = f.references, let id = record[f.name].text else { continue }
            // FOR KEY SHARE: the named record cannot be deleted by another transaction before this commits.
            if try await c.one("SELECT 1 FROM \(ref.rawValue) WHERE id = ? FOR KEY SHARE", [.text(id)]) == nil {
                throw StoreError.reference("\(f.name) \"\(id)\" names no \(ref.rawValue) record")
            }
        }
    }

    static func checkNotReferenced(_ c: PGConn, _ r: Resource, id: String) async throws {
        for (other, field) in RecordRules.referencing(r) {
            if try await c.one("SELECT 1 FROM \(other.rawValue) WHERE \(field) = ? LIMIT 1", [.text(id)]) != nil {
                throw RecordRules.stillReferenced(r, id, by: other, field: field)
            }
        }
    }

    static func checkUnique(_ c: PGConn, _ record: Record, exceptID: String?) async throws {
        let r = record.resource
        if r == .users, let key = EmailAddress.key(record["email"].text ?? ""),
            let other = try await c.one("SELECT id FROM users WHERE email_key = ?", [.text(key)])?.text(0), other != exceptID
        {
            throw StoreError.conflict("user \"\(other)\" already has the email \(key)")
        }
        if r.schema.index["external_id"] != nil, let ext = record["external_id"].text {
            let source = record["source"].text
            if let other = try await c.one(
                "SELECT id FROM \(r.rawValue) WHERE source IS NOT DISTINCT FROM ? AND external_id = ?",
                [.of(source), .text(ext)]
            )?.text(0), other != exceptID {
                throw StoreError.conflict("\(r.rawValue) \"\(other)\" already has external id \"\(ext)\" from \(source ?? "(no source)")")
            }
        }
    }

    // MARK: Records

    public func get(_ resource: Resource, id: String) async throws -> Record? {
        try await read { c in try await Self.fetch(c, resource, id: id) }
    }

    public func count(_ resource: Resource) async throws -> Int {
        try await read { c in Int(clamping: try await c.one("SELECT count(*) FROM \(resource.rawValue)")?.int(0) ?? 0) }
    }

    public func create(_ record: Record, actor: Actor, at: Timestamp) async throws {
        try RecordRules.checkRanges(record)
        try await write { c in try await self.insertRecord(c, record, actor: actor, at: at, detail: nil) }
    }

    func insertRecord(_ c: PGConn, _ record: Record, actor: Actor, at: Timestamp, detail: String?) async throws {
        let id = record.id
        try await Self.checkReferences(c, record)
        try await Self.checkUnique(c, record, exceptID: nil)
        let cols = Self.insertColumns(record.resource)
        // ON CONFLICT DO NOTHING: a concurrent insert of the same id is a conflict, not an abort.
        // (Touchpoints are partitioned: their id trigger skips a stored id the same way.)
        let onConflict = record.resource == .touchpoints ? "" : " ON CONFLICT (id) DO NOTHING"
        let inserted = try await c.execute(
            "INSERT INTO \(record.resource.rawValue) (\(cols.joined(separator: ", "))) VALUES (\(cols.map { _ in "?" }.joined(separator: ", ")))\(onConflict) RETURNING 1",
            Self.insertArguments(record)
        )
        guard inserted == 1 else { throw StoreError.conflict("a \(record.resource.rawValue) record with id \"\(id)\" exists") }
        try await afterWrite(c, record.resource, old: nil, new: record, actor: actor, at: at)
        try await reactToTransitions(c, at: at)
        var json = RecordRules.auditJSON(record)
        if let detail { json = "{\"record\":" + json + ",\"via\":" + JSONValue.string(detail).compactText + "}" }
        try await Self.audit(c, actor, at, "create", record.resource.rawValue, id, json)
    }

    public func update(_ resource: Resource, id: String, fields: [String: FieldValue], actor: Actor, at: Timestamp) async throws -> Record {
        try await write { c in try await self.updateRecord(c, resource, id: id, fields: fields, actor: actor, at: at, detail: nil) }
    }

    func updateRecord(
        _ c: PGConn,
        _ resource: Resource,
        id: String,
        fields: [String: FieldValue],
        actor: Actor,
        at: Timestamp,
        detail: String?
    ) async throws -> Record {
        // The row lock orders two writers of one record: the second reads the first one's result.
        guard let old = try await Self.fetch(c, resource, id: id, lock: true) else { throw StoreError.notFound(resource, id) }
        let (record, applied) = try RecordRules.apply(fields, to: old)
        var changed = applied
        guard !changed.isEmpty else { return record }
        try await Self.checkReferences(c, record)
        try await Self.checkUnique(c, record, exceptID: id)
        let schema = resource.schema
        let cols = Self.insertColumns(resource).filter { $0 != "id" }
        var args = Self.insertArguments(record)
        if !schema.hasOwnID { args.removeFirst() } else if let i = schema.index["id"] { args.remove(at: i) }
        args.append(.text(id))
        try await c.execute("UPDATE \(resource.rawValue) SET \(cols.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?", args)
        if resource == .touchpoints, let contact = record["contact_id"].text {
            // A touchpoint moved to another month's partition fires the delete and insert
            // triggers, not the update one: the new contact's KPI note is written here.
            try await c.execute("INSERT INTO kpi_dirty VALUES ('c', ?)", [.text(contact)])
            try await c.execute("INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = ?", [.text(contact)])
        }
        try await afterWrite(c, resource, old: old, new: record, actor: actor, at: at)
        try await reactToTransitions(c, at: at)
        if let detail { changed["via"] = .string(detail) }
        try await Self.audit(c, actor, at, "update", resource.rawValue, id, JSONValue.object(changed).compactText)
        return try await Self.fetch(c, resource, id: id) ?? record
    }

    public func delete(_ resource: Resource, id: String, actor: Actor, at: Timestamp) async throws {
        try await write { c in
            if RecordRules.referencing(resource).contains(where: { $0.0 == .touchpoints }) {
                // A bundle import checks its touchpoints' references without row locks (there may
                // be millions): a record touchpoints name is not deleted while one runs.
                try await c.execute("SELECT pg_advisory_xact_lock_shared(?)", [.int(Self.importLock)])
            }
            guard let record = try await Self.fetch(c, resource, id: id, lock: true) else { throw StoreError.notFound(resource, id) }
            try await Self.checkNotReferenced(c, resource, id: id)
            if resource == .users { try await c.execute("DELETE FROM api_tokens WHERE user_id = ?", [.text(id)]) }
            try await c.execute("DELETE FROM \(resource.rawValue) WHERE id = ?", [.text(id)])
            if resource == .contacts { try await c.execute("DELETE FROM contact_scores WHERE contact_id = ?", [.text(id)]) }
            try await self.afterWrite(c, resource, old: record, new: nil, actor: actor, at: at)
            try await self.reactToTransitions(c, at: at)
            try await Self.audit(c, actor, at, "delete", resource.rawValue, id, RecordRules.auditJSON(record))
        }
    }

    public func list(_ resource: Resource, _ query: ListQuery) async throws -> Page {
        let schema = resource.schema
        var conditions: [String] = []
        var args: [PGValue] = []
        for (name, value) in query.equals.sorted(by: { $0.key < $1.key }) {
            guard schema.index[name] != nil else { throw StoreError.invalid("\(resource.rawValue) has no field \"\(name)\"") }
            if value.isNull {
                conditions.append("\(name) IS NULL")
            } else {
                conditions.append("\(name) = ?")
                args.append(PGValue(value))
            }
        }
        if let tf = schema.timeField {
            if let from = query.from {
                conditions.append("\(tf) >= ?")
                args.append(PGValue(from))
            }
            if let to = query.to {
                conditions.append("\(tf) < ?")
                args.append(PGValue(to))
            }
        }
        if let q = query.search, !q.isEmpty, !schema.searchFields.isEmpty {
            let pattern = PGValue.text(RecordRules.likePattern(q))
            // ILIKE: SQLite's LIKE ignores ASCII case; PostgreSQL's does not.
            let ors = schema.searchFields.map { "\($0) ILIKE ? ESCAPE '\\'" }
            args += Array(repeating: pattern, count: ors.count)
            if resource == .contacts, RecordRules.hasTrigram(q) {
                // The trigram index on the name-and-email document finds the candidates, the
                // per-field conditions decide (PostgresSearch); `= ANY(ARRAY(…))` lets the
                // account branch join the same bitmap scan.
                let own = "(\(PostgresSearch.document()) ILIKE ? ESCAPE '\\' AND (" + ors.joined(separator: " OR ") + "))"
                args.insert(pattern, at: args.count - ors.count)
                args.append(pattern)
                conditions.append("(" + own + " OR account_id = ANY(ARRAY(SELECT id FROM accounts WHERE name ILIKE ? ESCAPE '\\')))")
            } else if resource == .contacts {
                conditions.append("(" + ors.joined(separator: " OR ") + " OR account_id IN (SELECT id FROM accounts WHERE name ILIKE ? ESCAPE '\\'))")
                args.append(pattern)
            } else {
                conditions.append("(" + ors.joined(separator: " OR ") + ")")
            }
        }
        let sortField = query.sort ?? "id"
        guard sortField == "id" || schema.index[sortField] != nil else {
            throw StoreError.invalid("\(resource.rawValue) cannot be sorted by \"\(sortField)\"")
        }
        let sortType = schema.field(sortField)?.type ?? .text
        let textSort = SQLiteSchema.columnType(sortType) == "TEXT"
        let sentinel = textSort ? "''" : "-9223372036854775807"
        let sortExpr = sortField == "id" || schema.field(sortField)?.required == true ? sortField : "coalesce(\(sortField), \(sentinel))"
        // Text columns compare bytewise (COLLATE "C" in the schema), as in SQLite.
        let orderExpr = sortExpr
        let idExpr = "id"
        let dir = query.descending ? "DESC" : "ASC"
        let cmp = query.descending ? "<" : ">"
        if let cursor = query.cursor {
            let (key, lastID) = try RecordRules.decodeCursor(cursor)
            let last: PGValue
            switch key {
            case .text(let t): last = textSort ? .text(t) : .null
            case .int(let i): last = textSort ? .text(String(i)) : (sortType == .number ? .double(Double(i)) : .int(i))
            case .double(let d): last = textSort ? .null : (sortType == .number ? .double(d) : Int64(exactly: d.rounded(.down)).map { .int($0) } ?? .null)
            case .null: last = .null
            }
            if sortField == "id" {
                conditions.append("\(idExpr) \(cmp) ?")
                args.append(.text(lastID))
            } else {
                conditions.append("(\(orderExpr) \(cmp) ? OR (\(orderExpr) = ? AND \(idExpr) \(cmp) ?))")
                args += [last, last, .text(lastID)]
            }
        }
        let limit = max(1, min(query.limit, 1000))
        var sql = "SELECT \(Self.columns(resource)), \(sortExpr), id FROM \(resource.rawValue)"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY \(orderExpr) \(dir), \(idExpr) \(dir) LIMIT \(limit + 1)"
        let finalSQL = sql
        let finalArgs = args
        return try await read { c in
            let rows = try await c.rows(finalSQL, finalArgs)
            let n = schema.fields.count
            var records = rows.prefix(limit).map { Self.record(resource, $0) }
            var next: String?
            if rows.count > limit, let lastRow = rows.prefix(limit).last {
                let key: RecordRules.CursorKey
                switch lastRow[n] {
                case .int(let i): key = .int(i)
                case .double(let d): key = .double(d)
                case .text(let t): key = .text(t)
                default: key = .null
                }
                next = RecordRules.encodeCursor(key, lastRow.text(n + 1) ?? "")
            }
            if records.count > limit { records.removeLast() }
            return Page(records: records, nextCursor: next)
        }
    }

    // MARK: Reactions

    /// What a record write means for scores and stages, in the write's own transaction: contacts
    /// and accounts are graded again, stage edits go through the lifecycle rules, opportunities
    /// move their contacts, persona edits make every instance reload the definitions.
    func afterWrite(_ c: PGConn, _ resource: Resource, old: Record?, new: Record?, actor: Actor, at: Timestamp) async throws {
        switch resource {
        case .contacts:
            guard let new else { return }
            let oldStage = old.flatMap { LifecycleStage(rawValue: $0["lifecycle_stage"].text ?? "") }
            let newStage = LifecycleStage(rawValue: new["lifecycle_stage"].text ?? "")
            if let newStage, newStage != oldStage {
                switch Lifecycle.move(from: oldStage, to: newStage, at: at, actor: .user(actor.userID), reason: new["recycle_reason"].text) {
                case .success(let t): try await Self.recordTransition(c, new.id, t)
                case .failure(let refusal): throw StoreError.conflict(refusal.description)
                }
            }
            try await rescoreAfterEdit(c, contacts: [new.id], at: at)
        case .accounts:
            guard let new else { return }
            let ids = try await c.rows("SELECT id FROM contacts WHERE account_id = ?", [.text(new.id)]).compactMap { $0.text(0) }
            try await rescoreAfterEdit(c, contacts: ids, at: at)
        case .personas:
            try await Self.bumpPersonas(c)
        case .opportunities:
            guard let new else { return }
            try await opportunityMoves(c, new, at: at)
            if new["is_won"] == .bool(true), old?["is_won"] != .bool(true) {
                var outbox = try await PGOutbox(c)
                try await outbox.emit(HandoverPlan.won(new, by: actor.userID), at: at)
            }
        case .opportunityContacts:
            guard let new, let oppID = new["opportunity_id"].text, let opp = try await Self.fetch(c, .opportunities, id: oppID) else { return }
            try await opportunityMoves(c, opp, at: at)
        default:
            return
        }
    }

    func opportunityMoves(_ c: PGConn, _ opp: Record, at: Timestamp) async throws {
        var contacts = try await c.rows("SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = ?", [.text(opp.id)]).compactMap { $0.text(0) }
        if let primary = opp["primary_contact_id"].text, !contacts.contains(primary) { contacts.append(primary) }
        let created = opp["created_at"].timestamp ?? at
        let won = opp["is_won"] == .bool(true)
        for id in contacts {
            try await Self.moveForward(c, id, to: .opportunity, at: created, actor: .system("opportunity \(opp.id) created"))
            if won {
                try await Self.moveForward(c, id, to: .customer, at: opp["closed_at"].timestamp ?? at, actor: .system("opportunity \(opp.id) won"))
            }
        }
    }

    static func moveForward(_ c: PGConn, _ contactID: String, to target: LifecycleStage, at: Timestamp, actor: LifecycleActor) async throws {
        guard let row = try await c.one("SELECT lifecycle_stage FROM contacts WHERE id = ? FOR UPDATE", [.text(contactID)]) else { return }
        let current = row.text(0).flatMap(LifecycleStage.init(rawValue:))
        if let cr = current?.rank, let t = target.rank, cr >= t { return }
        if case .success(let t) = Lifecycle.move(from: current, to: target, at: at, actor: actor) { try await recordTransition(c, contactID, t) }
    }

    static func recordTransition(_ c: PGConn, _ contactID: String, _ t: LifecycleTransition) async throws {
        // The move waits in transition_pending for its reaction (see reactToTransitions).
        try await c.execute(
            """
            WITH t AS (INSERT INTO lifecycle_transitions(contact_id, from_stage, to_stage, at, actor, reason, model_version)
                       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq)
            INSERT INTO transition_pending(seq) SELECT seq FROM t
            """,
            [.text(contactID), .of(t.from?.rawValue), .text(t.to.rawValue), .int(t.at.milliseconds), .text(t.actor.storedText), .of(t.reason),
             .of(t.modelVersion.map(Int64.init))]
        )
        var sets = ["lifecycle_stage = ?"]
        var args: [PGValue] = [.text(t.to.rawValue)]
        if let column = t.to.historyColumn {
            sets.append(t.to == .recycled ? "\(column) = ?" : "\(column) = coalesce(\(column), ?)")
            args.append(.int(t.at.milliseconds))
        }
        if t.to == .recycled {
            sets.append("recycle_reason = ?")
            args.append(.of(t.reason))
        }
        args.append(.text(contactID))
        try await c.execute("UPDATE contacts SET \(sets.joined(separator: ", ")) WHERE id = ?", args)
    }

    public func transitions(contactID: String) async throws -> [StoredTransition] {
        try await read { c in try await Self.transitions(c, contactID) }
    }

    static func transitions(_ c: PGConn, _ contactID: String) async throws -> [StoredTransition] {
        try await c.rows(
            "SELECT from_stage, to_stage, at, actor, reason, model_version FROM lifecycle_transitions WHERE contact_id = ? ORDER BY at, seq",
            [.text(contactID)]
        ).map {
            StoredTransition(
                from: $0.text(0),
                to: $0.text(1) ?? "",
                at: Timestamp(milliseconds: $0.int(2) ?? 0),
                actor: $0.text(3) ?? "",
                reason: $0.text(4),
                modelVersion: $0.int(5).map { Int(clamping: $0) }
            )
        }
    }

    // MARK: Access

    public func createToken(userID: String, role: AccessRole, name: String, hash: String, actor: Actor, at: Timestamp) async throws -> String {
        let id = makeID("tok")
        try await write { c in
            guard try await Self.exists(c, .users, id: userID) else { throw StoreError.notFound(.users, userID) }
            try await c.execute(
                "INSERT INTO api_tokens(id, user_id, role, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(id), .text(userID), .text(role.rawValue), .text(name), .text(hash), .int(at.milliseconds)]
            )
            try await Self.audit(c, actor, at, "create", "api_tokens", id, "{\"user_id\":\"\(userID)\",\"role\":\"\(role.rawValue)\"}")
        }
        return id
    }

    public func principal(tokenHash: String) async throws -> TokenPrincipal? {
        try await read { c in
            guard let row = try await c.one("SELECT id, user_id, role FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", [.text(tokenHash)]),
                let role = row.text(2).flatMap(AccessRole.init(rawValue:))
            else { return nil }
            return TokenPrincipal(tokenID: row.text(0) ?? "", userID: row.text(1) ?? "", role: role)
        }
    }

    public func revokeToken(id: String, actor: Actor, at: Timestamp) async throws {
        try await write { c in
            let n = try await c.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING 1",
                [.int(at.milliseconds), .text(id)]
            )
            guard n == 1 else { throw StoreError.missing("no active token with id \"\(id)\"") }
            try await Self.audit(c, actor, at, "revoke", "api_tokens", id, "{}")
        }
    }

    public func setPasswordHash(userID: String, hash: String, actor: Actor, at: Timestamp) async throws {
        try await write { c in
            let n = try await c.execute("UPDATE users SET password_hash = ? WHERE id = ? RETURNING 1", [.text(hash), .text(userID)])
            guard n == 1 else { throw StoreError.notFound(.users, userID) }
            try await Self.audit(c, actor, at, "set_password", "users", userID, "{}")
        }
    }

    public func passwordHash(emailKey: String) async throws -> (userID: String, role: AccessRole, hash: String)? {
        try await read { c in
            guard let row = try await c.one("SELECT id, access_role, team, password_hash FROM users WHERE email_key = ?", [.text(emailKey)]),
                let hash = row.text(3), let id = row.text(0)
            else { return nil }
            let role = row.text(1).flatMap(AccessRole.init(rawValue:)) ?? AccessRole.defaultFor(team: row.text(2))
            return (id, role, hash)
        }
    }

    // MARK: Web sessions

    public func createWebSession(_ s: WebSession) async throws {
        try await write { c in
            try await c.execute("DELETE FROM web_sessions WHERE expires_at <= ?", [.int(s.createdAt.milliseconds)])
            try await c.execute(
                "INSERT INTO web_sessions(id_hash, user_id, role, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(s.idHash), .text(s.userID), .text(s.role.rawValue), .text(s.csrf), .int(s.createdAt.milliseconds), .int(s.expiresAt.milliseconds)]
            )
        }
    }

    public func webSession(idHash: String, now: Timestamp) async throws -> WebSession? {
        try await read { c in
            guard
                let row = try await c.one(
                    "SELECT user_id, role, csrf, created_at, expires_at FROM web_sessions WHERE id_hash = ? AND expires_at > ?",
                    [.text(idHash), .int(now.milliseconds)]
                ), let role = row.text(1).flatMap(AccessRole.init(rawValue:))
            else { return nil }
            return WebSession(
                idHash: idHash,
                userID: row.text(0) ?? "",
                role: role,
                csrf: row.text(2) ?? "",
                createdAt: Timestamp(milliseconds: row.int(3) ?? 0),
                expiresAt: Timestamp(milliseconds: row.int(4) ?? 0)
            )
        }
    }

    public func deleteWebSession(idHash: String) async throws {
        try await write { c in try await c.execute("DELETE FROM web_sessions WHERE id_hash = ?", [.text(idHash)]) }
    }

    public func loginFailures(keys: [String], since: Timestamp) async throws -> [String: (count: Int, oldest: Timestamp)] {
        try await read { c in
            var out: [String: (count: Int, oldest: Timestamp)] = [:]
            for key in keys {
                guard let row = try await c.one("SELECT count(*), min(at) FROM login_failures WHERE key = ? AND at > ?", [.text(key), .int(since.milliseconds)]),
                    let oldest = row.int(1)
                else { continue }
                out[key] = (Int(clamping: row.int(0) ?? 0), Timestamp(milliseconds: oldest))
            }
            return out
        }
    }

    public func recordLoginFailure(keys: [String], at: Timestamp, forgetBefore: Timestamp) async throws {
        try await write { c in
            try await c.execute("DELETE FROM login_failures WHERE at <= ?", [.int(forgetBefore.milliseconds)])
            for key in keys { try await c.execute("INSERT INTO login_failures(key, at) VALUES (?, ?)", [.text(key), .int(at.milliseconds)]) }
        }
    }

    public func clearLoginFailures(keys: [String]) async throws {
        try await write { c in
            for key in keys { try await c.execute("DELETE FROM login_failures WHERE key = ?", [.text(key)]) }
        }
    }

    public func tokens() async throws -> [TokenInfo] {
        try await read { c in
            try await c.rows("SELECT id, user_id, role, name, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC, id").compactMap { row in
                guard let role = row.text(2).flatMap(AccessRole.init(rawValue:)) else { return nil }
                return TokenInfo(
                    id: row.text(0) ?? "",
                    userID: row.text(1) ?? "",
                    role: role,
                    name: row.text(3) ?? "",
                    createdAt: Timestamp(milliseconds: row.int(4) ?? 0),
                    revokedAt: row.int(5).map(Timestamp.init(milliseconds:))
                )
            }
        }
    }
}
