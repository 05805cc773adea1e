import Foundation

/// A condition on one attribute of a contact or its account.
public enum AttributeCondition: Sendable, Hashable {
    /// Equal to one of the values (case-insensitive).
    case oneOf([String])
    /// A number at least this.
    case atLeast(Double)
    /// A number at most this.
    case atMost(Double)
    /// Text matching a pattern: `*` stands for any text, matching is case-insensitive
    /// (`*chief*`, `vp *`, `head of*`).
    case matches(String)
    /// The attribute is empty.
    case isEmpty

    /// Whether `value` (the attribute's text, nil when empty) meets the condition.
    public func holds(for value: String?) -> Bool {
        switch self {
        case .isEmpty: return value == nil || value!.isEmpty
        case .oneOf(let options):
            guard let v = value?.lowercased() else { return false }
            return options.contains { $0.lowercased() == v }
        case .atLeast(let n):
            guard let v = value.flatMap(Double.init) else { return false }
            return v >= n
        case .atMost(let n):
            guard let v = value.flatMap(Double.init) else { return false }
            return v <= n
        case .matches(let pattern):
            guard let v = value else { return false }
            return Glob.matches(pattern.lowercased(), v.lowercased())
        }
    }
}

/// Case-insensitive `*` patterns (callers lower-case both sides). Compares UTF-8 bytes: this runs
/// for every touch and rule, and Foundation's `range(of:)` costs more than the whole rule.
public enum Glob {
    /// Whether `text` matches `pattern`, where `*` matches any run of characters.
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        GlobPattern(pattern).matches(Array(text.utf8))
    }
}

/// A `*` pattern split once into its literal parts, for matching many texts.
public struct GlobPattern: Sendable, Hashable {
    let parts: [ArraySlice<UInt8>]
    let whole: [UInt8]

    /// Compiles a (lower-cased) pattern.
    public init(_ pattern: String) {
        whole = Array(pattern.utf8)
        parts = whole.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false)
    }

    /// Whether the (lower-cased) UTF-8 text matches.
    public func matches(_ t: [UInt8]) -> Bool {
        if parts.count == 1 { return whole == t }
        let first = parts[0]
        let last = parts[parts.count - 1]
        guard t.count >= first.count + last.count, t.starts(with: first) else { return false }
        var from = first.count
        let end = t.count - last.count
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let at = Glob.find(part, in: t, from: from, before: end) else { return false }
            from = at + part.count
        }
        return t[end...].elementsEqual(last)
    }
}

extension Glob {
    static func find(_ needle: ArraySlice<UInt8>, in hay: [UInt8], from: Int, before end: Int) -> Int? {
        guard needle.count <= end - from else { return nil }
        var i = from
        while i + needle.count <= end {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// A fit rule: points when an attribute meets a condition.
public struct FitRule: Sendable, Hashable {
    public var id: String
    /// `contact.<field>` or `account.<field>` (also `contact.persona_id`, `contact.properties.<key>`).
    public var attribute: String
    public var condition: AttributeCondition
    public var points: Double

    /// Creates a rule.
    public init(id: String, attribute: String, condition: AttributeCondition, points: Double) {
        self.id = id
        self.attribute = attribute
        self.condition = condition
        self.points = points
    }
}

/// Fit points → grade: the first band whose minimum the points reach, else the last grade.
public struct GradeBands: Sendable, Hashable {
    /// (grade, minimum points), best first, e.g. [("A", 60), ("B", 40), ("C", 20)].
    public var bands: [(grade: String, minimum: Double)]
    /// The grade below every band.
    public var lowest: String

    /// Creates bands.
    public init(_ bands: [(grade: String, minimum: Double)], lowest: String = "D") {
        self.bands = bands.sorted { $0.minimum > $1.minimum }
        self.lowest = lowest
    }

    /// The grade for fit points.
    public func grade(for points: Double) -> String { bands.first { points >= $0.minimum }?.grade ?? lowest }

    public static func == (a: GradeBands, b: GradeBands) -> Bool {
        a.lowest == b.lowest && a.bands.map(\.grade) == b.bands.map(\.grade) && a.bands.map(\.minimum) == b.bands.map(\.minimum)
    }
    public func hash(into h: inout Hasher) {
        h.combine(lowest)
        for b in bands {
            h.combine(b.grade)
            h.combine(b.minimum)
        }
    }
}

/// One fit rule's part in a grade: whether it matched, and what it gave.
public struct FitContribution: Sendable, Hashable {
    public var ruleID: String
    public var attribute: String
    /// The attribute's value as seen (nil when empty).
    public var value: String?
    public var matched: Bool
    public var points: Double
}

/// A contact's fit: the points, the grade, and every rule's part in it.
public struct FitEvaluation: Sendable, Hashable {
    public var points: Double
    public var grade: String
    public var contributions: [FitContribution]
}

/// The fit part of a scoring model.
public struct FitModel: Sendable, Hashable {
    public var rules: [FitRule]
    public var bands: GradeBands

    /// Creates a fit model.
    public init(rules: [FitRule], bands: GradeBands) {
        self.rules = rules
        self.bands = bands
    }

    /// Grades a contact whose attributes are looked up by `attribute` names (`contact.title`,
    /// `account.employees`, …); nil or empty means the attribute is empty.
    public func evaluate(_ attribute: (String) -> String?) -> FitEvaluation {
        var total = 0.0
        var parts: [FitContribution] = []
        for rule in rules {
            let value = attribute(rule.attribute).flatMap { $0.isEmpty ? nil : $0 }
            let matched = rule.condition.holds(for: value)
            if matched { total += rule.points }
            parts.append(FitContribution(ruleID: rule.id, attribute: rule.attribute, value: value, matched: matched, points: matched ? rule.points : 0))
        }
        return FitEvaluation(points: total, grade: bands.grade(for: total), contributions: parts)
    }
}
