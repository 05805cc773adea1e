import Foundation
import SmarketingCore
import SmarketingStore

/// The active `kpis.yaml` where it is used: applied (versioned, owners set), compared, and its
/// custom KPIs computed from the KPI set of a period (the same incremental aggregates).
public enum KPIConfigReads {
    /// The active file, parsed (nil when none was applied or the stored text no longer reads).
    public static func active(_ store: any FunnelStore) async throws -> (version: Int, config: KPIConfig)? {
        guard let (v, text) = try await store.activeKPIConfigText(), let c = KPIConfigFile.parser(text) else { return nil }
        return (v.version, c)
    }

    /// Checks and applies a file: every problem refuses it whole; owners named under `kpis` become
    /// the responsible person of that KPI (an unknown user refuses the file).
    public static func apply(_ store: any FunnelStore, text: String, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion {
        let config: KPIConfig
        switch KPIConfigFile.read(text) {
        case .success(let c): config = c
        case .failure(let p):
            throw StoreError.invalid(
                "the KPI file has \(p.problems.count) problem(s), first: " + (p.problems.first.map { "line \($0.line), column \($0.column): \($0.message)" } ?? "-")
            )
        }
        var q = ListQuery()
        q.limit = 10_000
        let users = Set(try await store.list(.users, q).records.map(\.id))
        let owners = config.builtins.compactMap(\.owner) + config.custom.compactMap(\.owner)
        if let unknown = owners.first(where: { !users.contains($0) }) {
            throw StoreError.invalid("the KPI file names an owner the workspace does not have: \(unknown.prefix(80))")
        }
        let version = try await store.applyKPIConfig(text: text, comment: comment, actor: actor, at: at)
        for b in config.builtins {
            guard let owner = b.owner, OwnedSubjects.known("kpi." + b.id) != nil else { continue }
            _ = try await store.setOwner(OwnerChange(subject: "kpi." + b.id, responsible: owner), actor: actor, at: at)
        }
        return version
    }

    /// What applying `new` changes against `old`, one line each (empty: nothing).
    public static func diff(_ old: KPIConfig?, _ new: KPIConfig) -> [String] {
        var lines: [String] = []
        let before = Dictionary((old?.builtins ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.builtins.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func text(_ b: KPIConfig.Builtin?) -> String {
            guard let b else { return "not configured" }
            return [b.target.map { "target \(FieldValue.format($0))" }, b.good.map { "good \(FieldValue.format($0))" }, b.bad.map { "bad \(FieldValue.format($0))" },
                    b.owner.map { "owner \($0)" }, "compared with \(b.comparison.rawValue)"].compactMap { $0 }.joined(separator: ", ")
        }
        for key in Set(before.keys).union(after.keys).sorted() where before[key] != after[key] {
            lines.append("kpis.\(key): \(text(before[key])) → \(text(after[key]))")
        }
        let oldCustom = Dictionary((old?.custom ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let newCustom = Dictionary(new.custom.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for id in Set(oldCustom.keys).union(newCustom.keys).sorted() {
            switch (oldCustom[id], newCustom[id]) {
            case (nil, let n?): lines.append("custom.\(id): added (\(n.label))")
            case (_?, nil): lines.append("custom.\(id): removed")
            case (let o?, let n?) where o != n: lines.append("custom.\(id): changed (\(n.label))")
            default: break
            }
        }
        return lines
    }

    /// The custom KPIs of the active file for a period and the one before: one KPI read with the
    /// cuts they filter on.
    public static func custom(_ store: any FunnelStore, period: KPIPeriod) async throws -> [CustomKPIValue] {
        guard let (_, config) = try await active(store), !config.custom.isEmpty else { return [] }
        return try await custom(store, config, period: period)
    }

    public static func custom(_ store: any FunnelStore, _ config: KPIConfig, period: KPIPeriod) async throws -> [CustomKPIValue] {
        let dims = Array(Set(config.custom.compactMap { $0.filter?.dimension })).sorted { $0.rawValue < $1.rawValue }
        let report = try await store.kpis(KPIQuery(period: period, by: dims))
        return config.custom.map { c in
            let group: KPIReport.Group?
            if let f = c.filter {
                group = report.by[f.dimension.rawValue]?.first { $0.key == f.key }
            } else {
                group = report.total
            }
            let current = group.flatMap { KPIConfig.evaluate(c.formula, KPIFigures.flatten($0.current)) }
            let previous = group.flatMap { KPIConfig.evaluate(c.formula, KPIFigures.flatten($0.previous)) }
            return CustomKPIValue(
                id: c.id, label: c.label, unit: c.unit, current: current, previous: previous, target: c.target,
                status: KPIConfig.status(current, good: c.good, bad: c.bad, higherIsBetter: c.higherIsBetter),
                filter: c.filter.map { "\($0.dimension.rawValue)=\($0.key)" }, owner: c.owner
            )
        }
    }
}
