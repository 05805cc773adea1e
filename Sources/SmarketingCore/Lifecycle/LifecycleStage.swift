/// Where a contact is in the shared funnel.
public enum LifecycleStage: String, Sendable, Hashable, CaseIterable, Codable {
    case subscriber, lead, mql, sal, sql, opportunity, customer
    /// Back to nurturing, with a reason; may qualify again later.
    case recycled
    /// Out of the funnel; only a person can bring the contact back (to lead).
    case disqualified

    /// The funnel order of the main stages (nil for the side states).
    public var rank: Int? {
        switch self {
        case .subscriber: return 0
        case .lead: return 1
        case .mql: return 2
        case .sal: return 3
        case .sql: return 4
        case .opportunity: return 5
        case .customer: return 6
        case .recycled, .disqualified: return nil
        }
    }

    /// The main stages in funnel order.
    public static let funnel: [LifecycleStage] = [.subscriber, .lead, .mql, .sal, .sql, .opportunity, .customer]

    /// The contacts column that records when a contact reached this stage, if any.
    public var historyColumn: String? {
        switch self {
        case .subscriber: return nil
        case .lead: return "became_lead_at"
        case .mql: return "became_mql_at"
        case .sal: return "became_sal_at"
        case .sql: return "became_sql_at"
        case .opportunity: return "became_opportunity_at"
        case .customer: return "became_customer_at"
        case .recycled: return "recycled_at"
        case .disqualified: return nil
        }
    }
}
