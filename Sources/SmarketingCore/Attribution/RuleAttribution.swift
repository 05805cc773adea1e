import Foundation

/// The rule-based attribution models of PRODUCT.md.
public enum RuleModel: String, Sendable, Hashable, CaseIterable, Codable {
    case firstTouch = "first_touch"
    case lastTouch = "last_touch"
    case leadCreation = "lead_creation"
    case linear
    case uShaped = "u_shaped"
    case wShaped = "w_shaped"
    case fullPath = "full_path"
    case timeDecay = "time_decay"
}

/// A deal's path as the position rules see it: its marketing touches in time order (ties by
/// id), the positions of its lead-creation (LC) and opportunity-creation (OC) touches, and the
/// touch times and close for time decay. First touch (FT) is the first of the path, closed-won
/// (CW) the last (`../shared/bench/README.md`, "Attribution positions").
public struct AttributionPath: Sendable, Hashable {
    public var times: [Timestamp]
    public var leadCreation: Int
    public var opportunityCreation: Int
    public var close: Timestamp

    /// Creates a path; positions are clamped into the path.
    public init(times: [Timestamp], leadCreation: Int, opportunityCreation: Int, close: Timestamp) {
        self.times = times
        let last = max(0, times.count - 1)
        self.leadCreation = min(max(0, leadCreation), last)
        self.opportunityCreation = min(max(0, opportunityCreation), last)
        self.close = close
    }
}

/// Weights of the rule-based models: one per touch, summing to exactly 1 (empty for an empty
/// path, whose deal is reported as unattributed).
public enum RuleAttribution {
    /// Default time-decay half-life: 7 days.
    public static let defaultHalfLife: Int64 = 7 * 86_400_000

    /// The weights of `model` over `path`.
    public static func weights(_ model: RuleModel, _ path: AttributionPath, halfLife: Int64 = defaultHalfLife) -> [Double] {
        let n = path.times.count
        guard n > 0 else { return [] }
        if n == 1 { return [1] }
        var w = [Double](repeating: 0, count: n)
        switch model {
        case .firstTouch: w[0] = 1
        case .lastTouch: w[n - 1] = 1
        case .leadCreation: w[path.leadCreation] = 1
        case .linear: w = [Double](repeating: 1 / Double(n), count: n)
        case .uShaped: w = positional([(0, 0.4), (path.leadCreation, 0.4)], rest: 0.2, n: n)
        case .wShaped: w = positional([(0, 0.3), (path.leadCreation, 0.3), (path.opportunityCreation, 0.3)], rest: 0.1, n: n)
        case .fullPath:
            w = positional(
                [(0, 0.225), (path.leadCreation, 0.225), (path.opportunityCreation, 0.225), (n - 1, 0.225)],
                rest: 0.1,
                n: n
            )
        case .timeDecay:
            let hl = Double(max(1, halfLife))
            w = path.times.map { exp2(-Double(path.close.milliseconds - $0.milliseconds) / hl) }
            let sum = w.reduce(0, +)
            w = w.map { $0 / sum }
        }
        return w
    }

    /// Special positions get their shares (adding up where they coincide); the rest is split
    /// equally over the other touches, or, when there are none, over the special touches in
    /// proportion to their shares.
    static func positional(_ specials: [(Int, Double)], rest: Double, n: Int) -> [Double] {
        var w = [Double](repeating: 0, count: n)
        for (i, share) in specials { w[i] += share }
        let others = (0..<n).filter { w[$0] == 0 }
        if others.isEmpty {
            let special = w.reduce(0, +)
            return w.map { $0 / special }
        }
        for i in others { w[i] = rest / Double(others.count) }
        return w
    }
}
