/// The text search of contacts on PostgreSQL: one trigram index (migration 10) on a document
/// of the contact's name and email narrows a search to the rows containing the text; the exact
/// conditions (`ILIKE` per field for the API, the lead search's name-or-email match) then decide
/// on those rows alone. Every row an exact condition matches contains the text in the document
/// (case-insensitively), so the narrowing never loses one. A text under three characters has no
/// trigram: the index would be read whole, so such a search is not narrowed and the planner
/// walks the list's order instead.
enum PostgresSearch {
    /// Whether `text` has a trigram for the index to look up.
    static func narrows(_ text: String) -> Bool { text.unicodeScalars.count >= 3 }

    /// The indexed expression, on the table `alias` (queries write it exactly so, or the planner
    /// does not match it to the index).
    static func document(alias: String? = nil) -> String {
        let p = alias.map { $0 + "." } ?? ""
        return "(coalesce(\(p)first_name, '') || ' ' || coalesce(\(p)last_name, '') || ' ' || \(p)email)"
    }

    /// Whether so many contacts contain the text (`like`, a `%…%` pattern) that the list should
    /// walk its order and test each row rather than read every candidate from the index and sort
    /// them: at least √(page × contacts) candidates (where the two costs meet), at most 2,000
    /// (each counted candidate is a row read), counted no further. A common name has tens of
    /// thousands at 1M leads: reading them took 100 ms and more, walking finds a page in a few
    /// thousand rows.
    static func many(_ c: PGConn, like: String, page: Int) async throws -> Bool {
        let estimate = try await c.rows("SELECT reltuples::float8 FROM pg_class WHERE oid = 'contacts'::regclass").first?.double(0) ?? -1
        let bound = estimate < 0 ? 2000 : max(1, min(2000, Int((Double(max(1, page)) * min(estimate, 1e12)).squareRoot())))
        let found = try await c.rows(
            "SELECT count(*) FROM (SELECT 1 FROM contacts c WHERE \(document(alias: "c")) ILIKE ? LIMIT ?) x",
            [.text(like), .int(Int64(bound))]
        ).first?.int(0) ?? 0
        return found >= Int64(bound)
    }
}
