import Foundation
import SmarketingCore

/// The text search of contacts and accounts (`q=` of the API, the web app's lead search): FTS5
/// trigram indexes kept by triggers, which narrow a search to the rows that contain the text
/// before the exact `LIKE` conditions run on those rows alone (a scan of every contact took
/// 0.7 s at 1M leads).
///
/// The index is FTS5's own (a trigram index is what substring search needs; writing one by
/// hand would copy FTS5). Its documents are external content: the contact's name
/// (`first_name || ' ' || last_name`, as the lead search matches it) and email, read through
/// the view `contacts_search_doc`, keyed by the contact's rowid; accounts by name. FTS5 folds
/// case over all of Unicode and `LIKE` over ASCII only, so every row `LIKE` matches is among
/// the rows the index finds: the index narrows, the result is `LIKE`'s. A text under three
/// characters has no trigram; it is searched by the scan as before.
enum SQLiteSearch {
    static let schema = """
        CREATE VIEW contacts_search_doc AS
          SELECT rowid AS rid, coalesce(first_name, '') || ' ' || coalesce(last_name, '') AS name, email FROM contacts;
        CREATE VIRTUAL TABLE contacts_search USING fts5(name, email, content='contacts_search_doc', content_rowid='rid', tokenize='trigram');
        INSERT INTO contacts_search(contacts_search) VALUES ('rebuild');
        CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
          INSERT INTO contacts_search(rowid, name, email)
            VALUES (new.rowid, coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''), new.email);
        END;
        CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
          INSERT INTO contacts_search(contacts_search, rowid, name, email)
            VALUES ('delete', old.rowid, coalesce(old.first_name, '') || ' ' || coalesce(old.last_name, ''), old.email);
        END;
        CREATE TRIGGER contacts_search_update AFTER UPDATE OF first_name, last_name, email ON contacts BEGIN
          INSERT INTO contacts_search(contacts_search, rowid, name, email)
            VALUES ('delete', old.rowid, coalesce(old.first_name, '') || ' ' || coalesce(old.last_name, ''), old.email);
          INSERT INTO contacts_search(rowid, name, email)
            VALUES (new.rowid, coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''), new.email);
        END;
        CREATE VIRTUAL TABLE accounts_search USING fts5(name, content='accounts', tokenize='trigram');
        INSERT INTO accounts_search(accounts_search) VALUES ('rebuild');
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
        """

    /// The FTS5 query for rows containing `text` (one phrase, quotes doubled), or nil when the
    /// text is too short for a trigram (the caller scans instead).
    static func phrase(_ text: String) -> String? {
        guard text.unicodeScalars.count >= 3 else { return nil }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
