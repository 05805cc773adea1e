/// A complete scoring model: fit rules and grades, engagement rules with decay and caps, and
/// the MQL rule. Built from the model file (`ScoringModelFile` in the connectors).
public struct ScoringModel: Sendable {
    public var fit: FitModel
    public var engagement: EngagementModel
    public var mql: MQLRule
    /// The MQL rule as written.
    public var mqlText: String

    /// Creates a model.
    public init(fit: FitModel, engagement: EngagementModel, mql: MQLRule, mqlText: String) {
        self.fit = fit
        self.engagement = engagement
        self.mql = mql
        self.mqlText = mqlText
    }

    /// Touch types the engine knows by default (BUNDLE.md); rules may name only these.
    public static let knownTouchTypes: Set<String> = [
        "page_view", "email_open", "email_click", "form_submit", "content_download", "webinar_registered", "webinar_attended",
        "ad_click", "event_visit", "chat", "meeting_booked", "unsubscribe", "call", "email_sent", "meeting", "sales_accept",
        "sales_reject",
    ]

    /// Whether a fit attribute names something a contact or its account has.
    public static func isKnownAttribute(_ name: String) -> Bool {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return false }
        switch parts[0] {
        case "contact": return Resource.contacts.schema.index[parts[1]] != nil
        case "account": return Resource.accounts.schema.index[parts[1]] != nil
        default: return false
        }
    }

    /// The shortest and longest duration a file or a parameter may give: one minute to 100,000
    /// weeks (beyond, a half-life or horizon is a typo, and milliseconds would leave Int64).
    public static let durationRange: ClosedRange<Double> = 60_000...(100_000 * 7 * 86_400_000)

    /// Reads a duration such as `7d`, `36h`, `90m`, `2w` into milliseconds; nil for anything
    /// else, and for durations outside `durationRange`.
    public static func duration(_ text: String) -> Int64? {
        guard let unit = text.last, let n = Double(text.dropLast()), n.isFinite, n > 0 else { return nil }
        let ms: Double
        switch unit {
        case "w": ms = n * 7 * 86_400_000
        case "d": ms = n * 86_400_000
        case "h": ms = n * 3_600_000
        case "m": ms = n * 60_000
        default: return nil
        }
        guard durationRange.contains(ms) else { return nil }
        return Int64(ms)
    }
}
