/// The rule that makes a lead an MQL, e.g. `engagement >= 50 and grade in [A, B]`.
///
/// Grammar: `or`/`and`/`not` and parentheses over comparisons. Numbers: `engagement`, `fit`
/// with `>= > <= < == !=`. Text: `grade`, `persona` with `== !=` or `in [x, y]`; `grade` also
/// compares by rank (`grade >= B` means B or better). Errors name the column.
public indirect enum MQLRule: Sendable, Hashable {
    case and(MQLRule, MQLRule)
    case or(MQLRule, MQLRule)
    case not(MQLRule)
    case compare(String, Comparison, Double)
    case text(String, Comparison, String)
    case within(String, [String])

    public enum Comparison: String, Sendable, Hashable {
        case ge = ">=", gt = ">", le = "<=", lt = "<", eq = "==", ne = "!="
    }

    /// What a rule is evaluated against.
    public struct Facts: Sendable {
        public var engagement: Double
        public var fit: Double
        public var grade: String
        public var persona: String?
        /// Grades best first (`["A", "B", "C", "D"]`).
        public var gradeOrder: [String]

        /// Creates facts.
        public init(engagement: Double, fit: Double, grade: String, persona: String?, gradeOrder: [String]) {
            self.engagement = engagement
            self.fit = fit
            self.grade = grade
            self.persona = persona
            self.gradeOrder = gradeOrder
        }
    }

    /// A syntax or name error, at a 1-based column of the rule text.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var column: Int
        public var message: String
        public var description: String { "column \(column): \(message)" }
    }

    static let numbers: Set<String> = ["engagement", "fit"]
    static let texts: Set<String> = ["grade", "persona"]

    /// Whether the rule holds, computing the engagement only if a comparison needs it.
    public func holds(_ f: Facts, engagement: () -> Double) -> Bool {
        switch self {
        case .and(let a, let b): return a.holds(f, engagement: engagement) && b.holds(f, engagement: engagement)
        case .or(let a, let b): return a.holds(f, engagement: engagement) || b.holds(f, engagement: engagement)
        case .not(let a): return !a.holds(f, engagement: engagement)
        case .compare(let name, _, _) where name == "engagement":
            var copy = f
            copy.engagement = engagement()
            return holds(copy)
        default: return holds(f)
        }
    }

    /// Whether the rule names the engagement score.
    public var usesEngagement: Bool {
        switch self {
        case .and(let a, let b), .or(let a, let b): return a.usesEngagement || b.usesEngagement
        case .not(let a): return a.usesEngagement
        case .compare(let name, _, _): return name == "engagement"
        case .text, .within: return false
        }
    }

    /// The same rule with, in every `and` / `or`, the side that does not need the engagement
    /// score first (same result; `and`/`or` have no side effects).
    public var cheapFirst: MQLRule {
        switch self {
        case .and(let a, let b):
            return a.usesEngagement && !b.usesEngagement ? .and(b.cheapFirst, a.cheapFirst) : .and(a.cheapFirst, b.cheapFirst)
        case .or(let a, let b):
            return a.usesEngagement && !b.usesEngagement ? .or(b.cheapFirst, a.cheapFirst) : .or(a.cheapFirst, b.cheapFirst)
        case .not(let a): return .not(a.cheapFirst)
        default: return self
        }
    }

    /// Whether the rule holds.
    public func holds(_ f: Facts) -> Bool {
        switch self {
        case .and(let a, let b): return a.holds(f) && b.holds(f)
        case .or(let a, let b): return a.holds(f) || b.holds(f)
        case .not(let a): return !a.holds(f)
        case .compare(let name, let op, let n):
            let v = name == "fit" ? f.fit : f.engagement
            switch op {
            case .ge: return v >= n
            case .gt: return v > n
            case .le: return v <= n
            case .lt: return v < n
            case .eq: return v == n
            case .ne: return v != n
            }
        case .text(let name, let op, let value):
            let actual = name == "grade" ? f.grade : (f.persona ?? "")
            if name == "grade", op != .eq, op != .ne {
                // Better grades come first: a smaller index is a higher rank.
                guard let a = f.gradeOrder.firstIndex(of: actual), let b = f.gradeOrder.firstIndex(of: value) else { return false }
                switch op {
                case .ge: return a <= b
                case .gt: return a < b
                case .le: return a >= b
                case .lt: return a > b
                default: return false
                }
            }
            return op == .eq ? actual == value : actual != value
        case .within(let name, let values):
            let actual = name == "grade" ? f.grade : (f.persona ?? "")
            return values.contains(actual)
        }
    }

    /// Parses a rule.
    public static func parse(_ text: String) -> Result<MQLRule, ParseError> {
        var p = Parser(chars: Array(text))
        do {
            let rule = try p.expression()
            p.skipSpace()
            if p.i < p.chars.count { throw ParseError(column: p.i + 1, message: "unexpected \"\(p.chars[p.i])\"") }
            return .success(rule)
        } catch let e as ParseError {
            return .failure(e)
        } catch {
            return .failure(ParseError(column: 1, message: "\(error)"))
        }
    }

    /// The deepest nesting (parentheses, `not`) and the most comparisons a rule may have: the
    /// parser and the evaluation recurse, so a hostile rule must not reach the stack's end.
    public static let maxDepth = 32
    public static let maxComparisons = 200

    struct Parser {
        let chars: [Character]
        var i = 0
        var depth = 0
        var comparisons = 0

        mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

        mutating func word() -> (String, Int)? {
            skipSpace()
            let start = i
            while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "-" || chars[i] == "." { i += 1 }
            return i > start ? (String(chars[start..<i]), start + 1) : nil
        }

        mutating func keyword(_ k: String) -> Bool {
            let save = i
            if let (w, _) = word(), w == k { return true }
            i = save
            return false
        }

        mutating func expect(_ c: Character) throws {
            skipSpace()
            guard i < chars.count, chars[i] == c else { throw ParseError(column: i + 1, message: "expected \"\(c)\"") }
            i += 1
        }

        mutating func expression() throws -> MQLRule {
            var left = try conjunction()
            while keyword("or") { left = .or(left, try conjunction()) }
            return left
        }

        mutating func conjunction() throws -> MQLRule {
            var left = try negation()
            while keyword("and") { left = .and(left, try negation()) }
            return left
        }

        mutating func negation() throws -> MQLRule {
            depth += 1
            defer { depth -= 1 }
            guard depth <= MQLRule.maxDepth else {
                throw ParseError(column: i + 1, message: "the rule nests deeper than \(MQLRule.maxDepth) levels")
            }
            if keyword("not") { return .not(try negation()) }
            skipSpace()
            if i < chars.count, chars[i] == "(" {
                i += 1
                let inner = try expression()
                try expect(")")
                return inner
            }
            return try comparison()
        }

        mutating func value() throws -> String {
            skipSpace()
            if i < chars.count, chars[i] == "\"" || chars[i] == "'" {
                let quote = chars[i]
                let start = i + 1
                i += 1
                while i < chars.count, chars[i] != quote { i += 1 }
                guard i < chars.count else { throw ParseError(column: start, message: "a quoted value is not closed") }
                i += 1
                return String(chars[start..<(i - 1)])
            }
            guard let (w, _) = word() else { throw ParseError(column: i + 1, message: "expected a value") }
            return w
        }

        mutating func comparison() throws -> MQLRule {
            skipSpace()
            let column = i + 1
            comparisons += 1
            guard comparisons <= MQLRule.maxComparisons else {
                throw ParseError(column: column, message: "the rule has more than \(MQLRule.maxComparisons) comparisons")
            }
            guard let (name, _) = word() else { throw ParseError(column: column, message: "expected engagement, fit, grade or persona") }
            guard MQLRule.numbers.contains(name) || MQLRule.texts.contains(name) else {
                throw ParseError(column: column, message: "unknown name \"\(name)\" (known: engagement, fit, grade, persona)")
            }
            if keyword("in") {
                guard MQLRule.texts.contains(name) else { throw ParseError(column: column, message: "\"in\" works on grade and persona") }
                try expect("[")
                var values = [try value()]
                skipSpace()
                while i < chars.count, chars[i] == "," {
                    i += 1
                    values.append(try value())
                    skipSpace()
                }
                try expect("]")
                return .within(name, values)
            }
            skipSpace()
            let opColumn = i + 1
            var op: Comparison?
            for candidate in [Comparison.ge, .le, .eq, .ne, .gt, .lt] where chars[i...].starts(with: candidate.rawValue) {
                op = candidate
                i += candidate.rawValue.count
                break
            }
            guard let op else { throw ParseError(column: opColumn, message: "expected a comparison (>=, >, <=, <, ==, !=) or \"in\"") }
            skipSpace()
            let valueColumn = i + 1
            let v = try value()
            if MQLRule.numbers.contains(name) {
                guard let n = Double(v), n.isFinite else { throw ParseError(column: valueColumn, message: "\(name) compares with a number, not \"\(v)\"") }
                return .compare(name, op, n)
            }
            if name == "persona", op != .eq, op != .ne {
                throw ParseError(column: opColumn, message: "persona compares with == , != or in")
            }
            return .text(name, op, v)
        }
    }
}
