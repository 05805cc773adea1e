/// The text search of contacts on PostgreSQL: one trigram index (migration 10) on a document
/// of the contact's name and email narrows a search to the rows containing the text; the exact
/// conditions (`ILIKE` per field for the API, the lead search's name-or-email match) then decide
/// on those rows alone. Every row an exact condition matches contains the text in the document
/// (case-insensitively), so the narrowing never loses one. A text under three characters has no
/// trigram: the index would be read whole, so such a search is not narrowed and the planner
/// walks the list's order instead.
enum PostgresSearch {
    /// The indexed expression, on the table `alias` (queries write it exactly so, or the planner
    /// does not match it to the index).
    static func document(alias: String? = nil) -> String {
        let p = alias.map { $0 + "." } ?? ""
        return "(coalesce(\(p)first_name, '') || ' ' || coalesce(\(p)last_name, '') || ' ' || \(p)email)"
    }

    /// Whether so many contacts contain the text (`like`, a `%…%` pattern) that the list should
    /// walk its order and test each row rather than read every candidate from the index and sort
    /// them (`RecordRules.walkBound`, at most 2,000: each counted candidate is a row read). A
    /// common name has tens of thousands at 1M leads: reading them took 100 ms and more, walking
    /// finds a page in a few thousand rows. One statement: the table's size estimate (none before
    /// its first ANALYZE: then the cap) and the candidates, counted up to the cap.
    static func many(_ c: PGConn, like: String, page: Int) async throws -> Bool {
        let cap = 2000
        let row = try await c.rows(
            """
            SELECT (SELECT reltuples::float8 FROM pg_class WHERE oid = 'contacts'::regclass),
                   (SELECT count(*) FROM (SELECT 1 FROM contacts c WHERE \(document(alias: "c")) ILIKE ? LIMIT ?) x)
            """,
            [.text(like), .int(Int64(cap))]
        ).first
        let estimate = row?.double(0) ?? -1
        let bound = estimate < 0 ? cap : RecordRules.walkBound(page: page, contacts: estimate, cap: cap)
        return (row?.int(1) ?? 0) >= Int64(bound)
    }
}
