import SmarketingCore
import SmarketingStore
import Yams

/// A problem in a model file, at a line and column.
public struct ModelFileProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    /// Creates a problem.
    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(line):\(column): \(message)" }
}

/// Every problem of a model file.
public struct ModelFileProblems: Error, Sendable, Hashable {
    public var problems: [ModelFileProblem]
    /// The file's root is a scalar or a list: not a model or configuration file at all.
    public var rootIsNotAMapping = false
    /// Creates the list.
    public init(_ problems: [ModelFileProblem], rootIsNotAMapping: Bool = false) {
        self.problems = problems
        self.rootIsNotAMapping = rootIsNotAMapping
    }
}

/// Reads the scoring model file (YAML; the annotated example is `examples/scoring-model.yaml`)
/// and reports every problem with its line and column. A model with any problem is never used.
public enum ScoringModelFile {
    /// The model, or every problem found.
    public static func read(_ text: String) -> Result<ScoringModel, ModelFileProblems> {
        readYAML(text, incomplete: "the model is incomplete") { reader, root in reader.model(root) }
    }

    /// Composes a YAML text and reads its root with `body`: the value, or every problem with its
    /// line and column (YAML syntax problems included). Shared by the project's YAML files.
    static func readYAML<T>(_ text: String, incomplete: String, _ body: (inout Reader, Node) -> T?) -> Result<T, ModelFileProblems> {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return .failure(ModelFileProblems([ModelFileProblem(line: 1, column: 1, message: "the file is empty")]))
            }
            root = node
        } catch let e as YamlError {
            return .failure(ModelFileProblems([yamlProblem(e)]))
        } catch {
            return .failure(ModelFileProblems([ModelFileProblem(line: 1, column: 1, message: "\(error)")]))
        }
        var reader = Reader()
        let value = body(&reader, root)
        if let value, reader.problems.isEmpty { return .success(value) }
        return .failure(
            ModelFileProblems(
                reader.problems.isEmpty ? [ModelFileProblem(line: 1, column: 1, message: incomplete)] : reader.problems,
                rootIsNotAMapping: root.mapping == nil
            )
        )
    }

    static func yamlProblem(_ e: YamlError) -> ModelFileProblem {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ModelFileProblem(line: mark.line, column: mark.column, message: "not valid YAML: " + problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ModelFileProblem(line: context.mark.line, column: context.mark.column, message: "keys appear twice: " + duplicates.joined(separator: ", "))
        default:
            return ModelFileProblem(line: 1, column: 1, message: "not valid YAML: \(e)")
        }
    }

    struct Reader {
        var problems: [ModelFileProblem] = []

        mutating func problem(_ node: Node?, _ message: String) {
            problems.append(ModelFileProblem(line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message))
        }

        /// The mapping's entries by key, reporting keys not in `allowed`.
        mutating func entries(_ node: Node, _ what: String, allowed: [String]) -> [String: (key: Node, value: Node)]? {
            guard let mapping = node.mapping else {
                problem(node, "\(what) must be a mapping of keys to values")
                return nil
            }
            var out: [String: (key: Node, value: Node)] = [:]
            for (k, v) in mapping {
                let name = k.string ?? ""
                if !allowed.contains(name) {
                    problem(k, "unknown key \"\(name)\" in \(what) (allowed: \(allowed.joined(separator: ", ")))")
                    continue
                }
                out[name] = (k, v)
            }
            return out
        }

        mutating func number(_ node: Node, _ what: String) -> Double? {
            guard let s = node.scalar?.string, let n = Double(s), n.isFinite else {
                problem(node, "\(what) must be a number")
                return nil
            }
            // Points, caps and thresholds beyond this are typos; it keeps every score sum finite.
            guard abs(n) <= 1e9 else {
                problem(node, "\(what) must be between -1000000000 and 1000000000")
                return nil
            }
            return n
        }

        mutating func strings(_ node: Node, _ what: String) -> [String]? {
            if let s = node.scalar?.string { return [s] }
            guard let seq = node.sequence else {
                problem(node, "\(what) must be a list")
                return nil
            }
            var out: [String] = []
            for item in seq {
                guard let s = item.scalar?.string else {
                    problem(item, "\(what) must be a list of texts")
                    continue
                }
                out.append(s)
            }
            return out
        }

        mutating func duration(_ node: Node, _ what: String) -> Int64? {
            guard let s = node.scalar?.string, let d = ScoringModel.duration(s) else {
                problem(node, "\(what) must be a duration such as 7d, 36h or 2w, from 1m to 100000w")
                return nil
            }
            return d
        }

        mutating func model(_ root: Node) -> ScoringModel? {
            guard let top = entries(root, "the model", allowed: ["half_life", "grades", "fit", "engagement", "mql"]) else { return nil }
            for key in ["half_life", "grades", "fit", "engagement", "mql"] where top[key] == nil {
                problem(root, "the model needs \"\(key)\"")
            }
            let halfLife = top["half_life"].flatMap { duration($0.value, "half_life") }
            var bands: [(String, Double)] = []
            var lowest = "D"
            if let g = top["grades"]?.value {
                if let mapping = g.mapping {
                    for (k, v) in mapping {
                        guard let grade = k.string, !grade.isEmpty else { continue }
                        if v.scalar?.string == "rest" {
                            lowest = grade
                        } else if let n = number(v, "the minimum of grade \(grade)") {
                            bands.append((grade, n))
                        }
                    }
                    if bands.isEmpty { problem(g, "grades needs at least one band, e.g. {A: 60, B: 40, C: 20, D: rest}") }
                } else {
                    problem(g, "grades must map grades to minimum fit points, e.g. {A: 60, B: 40, C: 20, D: rest}")
                }
            }
            let fitRules = top["fit"].map { fit($0.value) } ?? []
            let engagementRules = top["engagement"].map { engagement($0.value) } ?? []
            var mql: MQLRule?
            var mqlText = ""
            if let m = top["mql"]?.value {
                mqlText = m.scalar?.string ?? ""
                switch MQLRule.parse(mqlText) {
                case .success(let rule): mql = rule
                case .failure(let e):
                    // Columns count within the rule text; a plain scalar starts at the node's mark.
                    let plain = m.scalar?.style == .plain
                    problems.append(
                        ModelFileProblem(
                            line: m.mark?.line ?? 1,
                            column: (m.mark?.column ?? 1) + (plain ? e.column - 1 : e.column),
                            message: "mql: " + e.message
                        )
                    )
                }
            }
            let grades = Set(bands.map(\.0) + [lowest])
            if let mql { checkGrades(mql, grades, node: top["mql"]?.value) }
            guard let halfLife, let mql, problems.isEmpty else { return nil }
            return ScoringModel(
                fit: FitModel(rules: fitRules, bands: GradeBands(bands, lowest: lowest)),
                engagement: EngagementModel(rules: engagementRules, halfLife: halfLife),
                mql: mql,
                mqlText: mqlText
            )
        }

        mutating func checkGrades(_ rule: MQLRule, _ grades: Set<String>, node: Node?) {
            switch rule {
            case .and(let a, let b), .or(let a, let b):
                checkGrades(a, grades, node: node)
                checkGrades(b, grades, node: node)
            case .not(let a): checkGrades(a, grades, node: node)
            case .text("grade", _, let g) where !grades.contains(g): problem(node, "mql: grade \"\(g)\" is not one of the grades")
            case .within("grade", let gs):
                for g in gs where !grades.contains(g) { problem(node, "mql: grade \"\(g)\" is not one of the grades") }
            default: break
            }
        }

        mutating func unique(_ id: String, _ seen: inout Set<String>, _ node: Node) {
            if !seen.insert(id).inserted { problem(node, "rule id \"\(id)\" is used twice") }
        }

        mutating func fit(_ node: Node) -> [FitRule] {
            guard let seq = node.sequence else {
                problem(node, "fit must be a list of rules")
                return []
            }
            var rules: [FitRule] = []
            var seen: Set<String> = []
            let conditions = ["in", "at_least", "at_most", "matches", "empty"]
            for item in seq {
                guard let e = entries(item, "a fit rule", allowed: ["id", "attribute", "points"] + conditions) else { continue }
                guard let id = e["id"]?.value.scalar?.string else {
                    problem(item, "a fit rule needs an id")
                    continue
                }
                unique(id, &seen, item)
                guard let attrNode = e["attribute"]?.value, let attribute = attrNode.scalar?.string else {
                    problem(item, "fit rule \"\(id)\" needs an attribute (contact.<field> or account.<field>)")
                    continue
                }
                if !ScoringModel.isKnownAttribute(attribute) {
                    problem(attrNode, "fit rule \"\(id)\": unknown attribute \"\(attribute)\" (use contact.<field> or account.<field> of the bundle columns)")
                }
                let given = conditions.filter { e[$0] != nil }
                guard given.count == 1, let key = given.first, let value = e[key]?.value else {
                    problem(item, "fit rule \"\(id)\" needs exactly one condition of: \(conditions.joined(separator: ", "))")
                    continue
                }
                var condition: AttributeCondition?
                switch key {
                case "in": condition = strings(value, "in").map { .oneOf($0) }
                case "at_least": condition = number(value, "at_least").map { .atLeast($0) }
                case "at_most": condition = number(value, "at_most").map { .atMost($0) }
                case "matches": condition = value.scalar.map { AttributeCondition.matches($0.string) }
                default: condition = .isEmpty
                }
                guard let condition, let pointsNode = e["points"]?.value, let points = number(pointsNode, "points") else {
                    if e["points"] == nil { problem(item, "fit rule \"\(id)\" needs points") }
                    continue
                }
                rules.append(FitRule(id: id, attribute: attribute, condition: condition, points: points))
            }
            return rules
        }

        mutating func engagement(_ node: Node) -> [EngagementRule] {
            guard let seq = node.sequence else {
                problem(node, "engagement must be a list of rules")
                return []
            }
            var rules: [EngagementRule] = []
            var seen: Set<String> = []
            let keys = ["id", "points", "types", "url", "channels", "campaigns", "content_stages", "properties", "cap", "half_life"]
            for item in seq {
                guard let e = entries(item, "an engagement rule", allowed: keys) else { continue }
                guard let id = e["id"]?.value.scalar?.string else {
                    problem(item, "an engagement rule needs an id")
                    continue
                }
                unique(id, &seen, item)
                guard let pointsNode = e["points"]?.value else {
                    problem(item, "engagement rule \"\(id)\" needs points")
                    continue
                }
                guard let points = number(pointsNode, "points") else { continue }
                var rule = EngagementRule(id: id, points: points)
                if let t = e["types"]?.value, let types = strings(t, "types") {
                    for type in types where !ScoringModel.knownTouchTypes.contains(type) {
                        problem(t, "engagement rule \"\(id)\": unknown touch type \"\(type)\"")
                    }
                    rule.types = types
                }
                rule.url = e["url"]?.value.scalar?.string
                rule.channels = e["channels"].flatMap { strings($0.value, "channels") }
                rule.campaigns = e["campaigns"].flatMap { strings($0.value, "campaigns") }
                if let s = e["content_stages"]?.value, let stages = strings(s, "content_stages") {
                    for stage in stages where !["tofu", "mofu", "bofu"].contains(stage) {
                        problem(s, "engagement rule \"\(id)\": content stage \"\(stage)\" is not tofu, mofu or bofu")
                    }
                    rule.contentStages = stages
                }
                if let p = e["properties"]?.value {
                    if let mapping = p.mapping {
                        for (k, v) in mapping {
                            if let key = k.string, let pattern = v.scalar?.string { rule.properties[key] = pattern }
                        }
                    } else {
                        problem(p, "properties must map property names to patterns")
                    }
                }
                if let c = e["cap"]?.value, let cap = entries(c, "cap", allowed: ["per_day", "per_week", "total"]) {
                    rule.caps = PointCaps(
                        perDay: cap["per_day"].flatMap { number($0.value, "per_day") },
                        perWeek: cap["per_week"].flatMap { number($0.value, "per_week") },
                        total: cap["total"].flatMap { number($0.value, "total") }
                    )
                }
                rule.halfLife = e["half_life"].flatMap { duration($0.value, "half_life") }
                rules.append(rule)
            }
            return rules
        }
    }
}

extension ScoringModelFile {
    /// Reads stored model texts for the store (nil for a text that no longer reads).
    public static let parser: ScoringModelParser = { text in try? read(text).get() }
}
