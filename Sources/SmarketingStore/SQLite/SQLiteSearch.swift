import Foundation
import GRDB
import SmarketingCore

/// The text search of contacts and accounts (`q=` of the API, the web app's lead search): FTS5
/// trigram indexes kept by triggers, which narrow a search to the rows that contain the text
/// before the exact `LIKE` conditions run on those rows alone (a scan of every contact took
/// 0.7 s at 1M leads).
///
/// The index is FTS5's own (a trigram index is what substring search needs; writing one by
/// hand would copy FTS5). Its documents are external content, read through the view
/// `contacts_search_doc` and keyed by the contact's rowid: first name, last name and email (the
/// API's fields; a phrase never spans columns, so the API's candidates are its matches) and the
/// full name `first_name || ' ' || last_name` (the lead search's); accounts by name. FTS5 folds
/// case over all of Unicode and `LIKE` over ASCII only, so every row `LIKE` matches is among
/// the rows the index finds: the index narrows, the result is `LIKE`'s. A text under three
/// characters has no trigram; it is searched by the scan as before.
///
/// Two plans, chosen per search by how many contacts contain the text (`walksSortIndex`): few
/// (a person, a company) — read those rows and sort them; many (a common name, a mail domain)
/// — walk the list's sort index and keep the rows in the index's set, which finds a page after
/// a few thousand rows instead of reading and sorting tens of thousands.
enum SQLiteSearch {
    static let schema = """
        CREATE VIEW contacts_search_doc AS
          SELECT rowid AS rid, first_name, last_name, coalesce(first_name, '') || ' ' || coalesce(last_name, '') AS name, email FROM contacts;
        CREATE VIRTUAL TABLE contacts_search USING fts5(
          first_name, last_name, name, email, content='contacts_search_doc', content_rowid='rid', tokenize='trigram');
        CREATE VIRTUAL TABLE accounts_search USING fts5(name, content='accounts', tokenize='trigram');
        INSERT INTO contacts_search(contacts_search) VALUES ('rebuild');
        INSERT INTO accounts_search(accounts_search) VALUES ('rebuild');
        """ + triggers["contacts", default: ""] + triggers["accounts", default: ""]

    /// The triggers that keep each table's index, by table.
    static let triggers: [String: String] = [
        "contacts": """
            CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
              INSERT INTO contacts_search(rowid, first_name, last_name, name, email)
                VALUES (new.rowid, new.first_name, new.last_name, coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''), new.email);
            END;
            CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
              INSERT INTO contacts_search(contacts_search, rowid, first_name, last_name, name, email)
                VALUES ('delete', old.rowid, old.first_name, old.last_name, coalesce(old.first_name, '') || ' ' || coalesce(old.last_name, ''), old.email);
            END;
            CREATE TRIGGER contacts_search_update AFTER UPDATE OF first_name, last_name, email ON contacts BEGIN
              INSERT INTO contacts_search(contacts_search, rowid, first_name, last_name, name, email)
                VALUES ('delete', old.rowid, old.first_name, old.last_name, coalesce(old.first_name, '') || ' ' || coalesce(old.last_name, ''), old.email);
              INSERT INTO contacts_search(rowid, first_name, last_name, name, email)
                VALUES (new.rowid, new.first_name, new.last_name, coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''), new.email);
            END;

            """,
        "accounts": """
            CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts BEGIN
              INSERT INTO accounts_search(rowid, name) VALUES (new.rowid, new.name);
            END;
            CREATE TRIGGER accounts_search_delete AFTER DELETE ON accounts BEGIN
              INSERT INTO accounts_search(accounts_search, rowid, name) VALUES ('delete', old.rowid, old.name);
            END;
            CREATE TRIGGER accounts_search_update AFTER UPDATE OF name ON accounts BEGIN
              INSERT INTO accounts_search(accounts_search, rowid, name) VALUES ('delete', old.rowid, old.name);
              INSERT INTO accounts_search(rowid, name) VALUES (new.rowid, new.name);
            END;

            """,
    ]

    /// For a bulk load (a bundle import): the tables that are empty now lose their index
    /// triggers until `rebuild`, so rows are indexed once at the end in one pass instead of one
    /// at a time (at 100k leads the triggers made the import 4.5 s slower, 14.6 s to 19.1 s).
    /// Inside the import's transaction: a rolled-back import leaves the triggers as they were.
    static func suspendForBulkLoad(_ db: Database) throws -> [String] {
        var suspended: [String] = []
        for table in triggers.keys.sorted() where try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(table))") != true {
            for what in ["insert", "delete", "update"] { try db.execute(sql: "DROP TRIGGER IF EXISTS \(table)_search_\(what)") }
            suspended.append(table)
        }
        return suspended
    }

    /// Indexes every row of the suspended tables and puts their triggers back.
    static func rebuild(_ db: Database, _ tables: [String]) throws {
        for table in tables {
            try db.execute(sql: "INSERT INTO \(table)_search(\(table)_search) VALUES ('rebuild')")
            try db.execute(sql: triggers[table, default: ""])
        }
    }

    /// Where a search looks: the API's fields, or the lead search's full name and email.
    enum Fields: String {
        case api = "{first_name last_name email}"
        case leads = "{name email}"
        case accounts = "{name}"
    }

    /// The FTS5 query for rows whose `fields` contain `text` (one phrase, quotes doubled), or nil
    /// when the text is too short for a trigram (the caller scans instead).
    static func match(_ text: String, in fields: Fields) -> String? {
        guard RecordRules.hasTrigram(text) else { return nil }
        return fields.rawValue + " : \"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Whether so many contacts contain the text that walking the sort index beats reading and
    /// sorting them (`RecordRules.walkBound`; the largest rowid stands for the number of
    /// contacts), counted no further than that.
    static func walksSortIndex(_ db: Database, match: String, page: Int) throws -> Bool {
        let contacts = try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM contacts") ?? 0
        let bound = RecordRules.walkBound(page: page, contacts: Double(contacts))
        let found =
            try Int.fetchOne(
                db,
                sql: "SELECT count(*) FROM (SELECT 1 FROM contacts_search WHERE contacts_search MATCH ? LIMIT ?)",
                arguments: [match, bound]
            ) ?? 0
        return found >= bound
    }
}
