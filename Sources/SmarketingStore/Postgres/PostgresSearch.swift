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
}
