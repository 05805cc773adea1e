import Foundation
import SmarketingCore
import SmarketingStore
import Yams

/// The figures of a KPI set by their dotted JSON paths (`lead_to_opportunity.mql_cohort.converted`),
/// the names custom KPIs are written with.
public enum KPIFigures {
    /// Every number of the values (lists such as the reasons are left out); nulls are absent.
    public static func flatten(_ v: KPIValues) -> [String: Double] {
        var out: [String: Double] = [:]
        walk(object(v), "") { path, value in if let value { out[path] = value } }
        return out
    }

    /// Every path a formula may name: the numeric figures of the KPI set, null or not.
    public static let knownPaths: Set<String> = {
        let zero = KPIValues.compute(
            period: KPICellSums(), open: KPICellSums(), revenueTarget: 0, mqlTarget: 0, slaHours: 24, customersKnown: true,
            staleLeads: KPIValues.StaleLeads(days: 14, count: 0)
        )
        var paths: Set<String> = []
        walk(object(zero), "") { path, _ in paths.insert(path) }
        return paths
    }()

    static func object(_ v: KPIValues) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(v), let o = try? JSONDecoder().decode(JSONValue.self, from: data) else { return .object([:]) }
        return o
    }

    static func walk(_ x: JSONValue, _ path: String, _ visit: (String, Double?) -> Void) {
        switch x {
        case .object(let d):
            for (k, v) in d { walk(v, path.isEmpty ? k : path + "." + k, visit) }
        case .null: visit(path, nil)
        case .number(let n): visit(path, n)
        default: return
        }
    }
}

/// Reads `kpis.yaml` (the annotated example is `examples/kpis.yaml`) and reports every problem
/// with its line and column; a file with any problem is never applied.
public enum KPIConfigFile {
    public static func read(_ text: String) -> Result<KPIConfig, ModelFileProblems> {
        ScoringModelFile.readYAML(text, incomplete: "the KPI file is incomplete") { reader, root in config(&reader, root) }
    }

    public static let parser: @Sendable (String) -> KPIConfig? = { text in
        if case .success(let c) = read(text) { return c }
        return nil
    }

    static func config(_ r: inout ScoringModelFile.Reader, _ root: Node) -> KPIConfig? {
        guard let top = r.entries(root, "the KPI file", allowed: ["kpis", "custom"]) else { return nil }
        var out = KPIConfig()
        if let kpis = top["kpis"] {
            let keys = KPIConfig.builtinKeys.map(\.key)
            if let entries = r.entries(kpis.value, "kpis", allowed: keys) {
                for key in keys {
                    guard let (_, node) = entries[key] else { continue }
                    guard let e = r.entries(node, "kpis.\(key)", allowed: ["target", "good", "bad", "owner", "comparison"]) else { continue }
                    var b = KPIConfig.Builtin(id: key)
                    b.target = e["target"].flatMap { r.number($0.value, "kpis.\(key).target") }
                    b.good = e["good"].flatMap { r.number($0.value, "kpis.\(key).good") }
                    b.bad = e["bad"].flatMap { r.number($0.value, "kpis.\(key).bad") }
                    b.owner = e["owner"].flatMap { text(&r, $0.value, "kpis.\(key).owner") }
                    if let c = e["comparison"] {
                        if let v = c.value.string, let comparison = KPIConfig.Comparison(rawValue: v) { b.comparison = comparison } else {
                            r.problem(c.value, "kpis.\(key).comparison must be previous or target")
                        }
                    }
                    let higher = KPIConfig.builtinKeys.first { $0.key == key }?.higherIsBetter ?? true
                    checkThresholds(&r, node, "kpis.\(key)", good: b.good, bad: b.bad, higherIsBetter: higher)
                    out.builtins.append(b)
                }
            }
        }
        if let custom = top["custom"] {
            guard let mapping = custom.value.mapping else {
                r.problem(custom.value, "custom must be a mapping of KPI ids to definitions")
                return out
            }
            var seen: Set<String> = []
            for (k, v) in mapping {
                let id = k.string ?? ""
                guard id.range(of: "^[a-z][a-z0-9_]{0,63}$", options: .regularExpression) != nil else {
                    r.problem(k, "a custom KPI id is lower-case letters, digits and _, starting with a letter (at most 64), not \"\(id.prefix(40))\"")
                    continue
                }
                if KPIConfig.builtinKeys.contains(where: { $0.key == id }) {
                    r.problem(k, "\(id) is a built-in KPI: configure it under kpis, or choose another id")
                    continue
                }
                seen.insert(id)
                if let c = customKPI(&r, id, v) { out.custom.append(c) }
            }
            if seen.count > 100 { r.problem(custom.value, "at most 100 custom KPIs") }
        }
        return out
    }

    static func text(_ r: inout ScoringModelFile.Reader, _ node: Node, _ what: String) -> String? {
        guard let s = node.scalar?.string, !s.isEmpty, s.count <= 200 else {
            r.problem(node, "\(what) must be a text of at most 200 characters")
            return nil
        }
        return s
    }

    static func path(_ r: inout ScoringModelFile.Reader, _ node: Node, _ what: String) -> String? {
        guard let s = node.scalar?.string else {
            r.problem(node, "\(what) must name a figure of the KPI set")
            return nil
        }
        guard KPIFigures.knownPaths.contains(s) else {
            let near = KPIFigures.knownPaths.filter { $0.hasPrefix(String(s.split(separator: ".").first ?? "")) }.sorted().prefix(8)
            r.problem(node, "\(what): \"\(s.prefix(80))\" is not a figure of the KPI set" + (near.isEmpty ? " (docs/KPIS.md lists them)" : "; e.g. " + near.joined(separator: ", ")))
            return nil
        }
        return s
    }

    static func checkThresholds(_ r: inout ScoringModelFile.Reader, _ node: Node, _ what: String, good: Double?, bad: Double?, higherIsBetter: Bool) {
        guard let g = good, let b = bad else { return }
        if higherIsBetter ? g < b : g > b {
            r.problem(node, "\(what): good (\(FieldValue.format(g))) must be \(higherIsBetter ? "at least" : "at most") bad (\(FieldValue.format(b))) for a KPI where \(higherIsBetter ? "more" : "less") is better")
        }
    }

    static func customKPI(_ r: inout ScoringModelFile.Reader, _ id: String, _ node: Node) -> KPIConfig.Custom? {
        let what = "custom.\(id)"
        guard
            let e = r.entries(
                node, what, allowed: ["label", "unit", "value", "sum", "ratio", "where", "target", "good", "bad", "higher_is_better", "owner"]
            )
        else { return nil }
        let formulas = ["value", "sum", "ratio"].filter { e[$0] != nil }
        guard formulas.count == 1 else {
            r.problem(node, "\(what) needs exactly one of value, sum or ratio")
            return nil
        }
        var formula: KPIConfig.Formula?
        if let v = e["value"] {
            formula = path(&r, v.value, "\(what).value").map { .value($0) }
        } else if let v = e["sum"] {
            guard let seq = v.value.sequence, seq.count >= 2, seq.count <= 20 else {
                r.problem(v.value, "\(what).sum must be a list of 2 to 20 figures")
                return nil
            }
            let ps = seq.compactMap { path(&r, $0, "\(what).sum") }
            if ps.count == seq.count { formula = .sum(ps) }
        } else if let v = e["ratio"] {
            guard let seq = v.value.sequence, seq.count == 2 else {
                r.problem(v.value, "\(what).ratio must be [numerator, denominator]")
                return nil
            }
            if let a = path(&r, seq[0], "\(what).ratio"), let b = path(&r, seq[1], "\(what).ratio") { formula = .ratio(a, b) }
        }
        var filter: (dimension: KPIDimension, key: String)?
        if let w = e["where"] {
            if let m = w.value.mapping, m.count == 1, let (k, v) = m.first, let name = k.string, let value = v.string {
                if let d = KPIDimension(rawValue: name), d != .all, !value.isEmpty, value.count <= 1_000 {
                    filter = (d, value)
                } else {
                    r.problem(k, "\(what).where cuts by one of channel, campaign, persona, segment, owner, team (the cuts the aggregates keep), not \(name.prefix(40))")
                }
            } else {
                r.problem(w.value, "\(what).where must be one cut and its value, e.g. {segment: enterprise}")
            }
        }
        let unit = e["unit"]?.value.string ?? "count"
        if !KPIConfig.units.contains(unit) { r.problem(e["unit"]?.value, "\(what).unit must be one of " + KPIConfig.units.joined(separator: ", ")) }
        var higher = true
        if let h = e["higher_is_better"] {
            if let b = h.value.bool { higher = b } else { r.problem(h.value, "\(what).higher_is_better must be true or false") }
        }
        let good = e["good"].flatMap { r.number($0.value, "\(what).good") }
        let bad = e["bad"].flatMap { r.number($0.value, "\(what).bad") }
        checkThresholds(&r, node, what, good: good, bad: bad, higherIsBetter: higher)
        guard let formula else { return nil }
        return KPIConfig.Custom(
            id: id,
            label: e["label"].flatMap { text(&r, $0.value, "\(what).label") } ?? id,
            unit: unit,
            formula: formula,
            filter: filter,
            target: e["target"].flatMap { r.number($0.value, "\(what).target") },
            good: good,
            bad: bad,
            higherIsBetter: higher,
            owner: e["owner"].flatMap { text(&r, $0.value, "\(what).owner") }
        )
    }
}
