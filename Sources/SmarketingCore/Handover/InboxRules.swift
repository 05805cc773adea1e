import Foundation

/// How a rep's inbox orders its handovers and says why each lead is hot. Every store builds its
/// inbox with these, so the sentences and the order are the same on each backend.
public enum InboxRules {
    /// Most urgent first: the earliest due running clock; handovers without a running clock
    /// last; ties and the rest by handover id (oldest first).
    public static func moreUrgent(_ a: (nextDue: Timestamp?, id: Int64), than b: (nextDue: Timestamp?, id: Int64)) -> Bool {
        switch (a.nextDue, b.nextDue) {
        case (let x?, let y?): return x != y ? x < y : a.id < b.id
        case (.some, nil): return true
        case (nil, .some): return false
        default: return a.id < b.id
        }
    }

    /// The facts behind "why it is hot", in the order they are said: grade (with fit),
    /// engagement, persona, the last touch.
    public static func why(grade: String?, fit: Double?, engagement: Double?, persona: String?, lastTouch: (type: String, at: Timestamp)?) -> [String] {
        var out: [String] = []
        if let grade { out.append("grade \(grade)" + (fit.map { " (fit \(rounded($0)))" } ?? "")) }
        if let engagement { out.append("engagement \(rounded(engagement))") }
        if let persona { out.append("persona \(persona)") }
        if let t = lastTouch { out.append("last touch: \(t.type) at \(t.at.iso8601)") }
        return out
    }

    /// A "why it is hot" sentence with its instant in a reader's zone, named (the API keeps ISO UTC).
    public static func localized(_ sentence: String, in zone: TimeZone) -> String {
        guard sentence.hasPrefix("last touch: "), let at = sentence.range(of: " at ", options: .backwards),
            case .success(let t) = Timestamp.parse(sentence[at.upperBound...])
        else { return sentence }
        return String(sentence[..<at.upperBound]) + LocalTime.minute(t, in: zone)
    }

    /// The sentence of the largest score contribution, and where it goes among the reasons
    /// (after grade and engagement).
    public static func topContribution(rule: String, points: Double) -> String { "top: \(rule) \(points >= 0 ? "+" : "")\(points)" }
    public static func topContributionIndex(in reasons: [String]) -> Int { min(2, reasons.count) }

    /// Said last when the contact meets the MQL rule now.
    public static let mqlRuleHolds = "the MQL rule holds"

    /// A score shown as a whole number (finite values only; a NaN or infinity shows as 0).
    static func rounded(_ v: Double) -> Int {
        guard v.isFinite else { return 0 }
        return Int(exactly: v.rounded()) ?? (v > 0 ? Int.max : Int.min)
    }
}
