import Foundation
import SmarketingCore
import Yams

/// One section of `connections.yaml`: overrides for a connection (by name) or for every
/// connection of a vendor.
public struct MappingOverride: Sendable, Hashable {
    public var lifecycle: [String: LifecycleStage] = [:]
    public var dealStages: [String: DealStageMapping] = [:]
    public var activities: [String: ActivityMapping] = [:]
    public var owners: [String: String] = [:]
    public var campaignChannels: [String: String] = [:]
    /// Write-back field → vendor field; nil: do not write that field.
    public var writeback: [String: String?] = [:]
    public var strict: Bool?
    /// Vendor person field → contact field.
    public var fields: [String: String] = [:]
    public init() {}
}

/// The mapping file (`connections.yaml`; the annotated example is `examples/connections.yaml`):
/// per connection or vendor, the lifecycle stages, deal stages, activity types, owners, campaign
/// channels, write-back fields and strictness; and the precedence of sources per field.
public struct ConnectionsConfig: Sendable, Hashable {
    /// Section name (a connection or a vendor) → overrides, with the line of the section.
    public var sections: [String: MappingOverride]
    var lines: [String: Pair] = [:]
    public var precedence: [String: [String]]

    struct Pair: Sendable, Hashable {
        var a: Int
        var b: Int
        init(_ a: Int, _ b: Int) {
            self.a = a
            self.b = b
        }
        var tuple: (Int, Int) { (a, b) }
    }

    public init(sections: [String: MappingOverride] = [:], precedence: [String: [String]] = [:]) {
        self.sections = sections
        self.precedence = precedence
    }

    /// The mapping of a connection: the vendor's defaults, then the vendor's section, then the
    /// connection's own section; the precedence of this file over the default precedence.
    public func mapping(connection: String, vendor: Vendor) -> SyncMapping {
        var m = SyncMapping.defaults(vendor)
        for key in [vendor.rawValue, connection] {
            guard let o = sections[key] else { continue }
            for (k, v) in o.lifecycle { m.lifecycle[k.lowercased()] = v }
            for (k, v) in o.dealStages { m.dealStages[k.lowercased()] = v }
            for (k, v) in o.activities { m.activities[k.lowercased()] = v }
            for (k, v) in o.owners { m.owners[k] = v }
            for (k, v) in o.campaignChannels { m.campaignChannels[k.lowercased()] = v }
            for (k, v) in o.writeback { m.writeback[k] = v }
            if let s = o.strict { m.strict = s }
            for (k, v) in o.fields { m.personFields[k] = v }
        }
        for (field, order) in precedence { m.precedence[field] = order }
        return m
    }

    /// Section names that are neither a vendor nor one of `connections`.
    public func unknownSections(connections: Set<String>) -> [(name: String, line: Int, column: Int)] {
        sections.keys.sorted().filter { Vendor(rawValue: $0) == nil && !connections.contains($0) }.map {
            let p = lines[$0]?.tuple ?? (1, 1)
            return ($0, p.0, p.1)
        }
    }
}

public enum ConnectionsFile {
    static let sectionKeys = ["lifecycle", "deal_stages", "activities", "owners", "campaign_channels", "writeback", "strict", "fields"]

    /// The configuration, or every problem with its line and column.
    public static func read(_ text: String) -> Result<ConnectionsConfig, ModelFileProblems> {
        ScoringModelFile.readYAML(text, incomplete: "the file is incomplete") { reader, root in
            guard let mapping = root.mapping else {
                reader.problem(root, "connections.yaml must be a mapping of connection or vendor names to their mappings")
                return nil
            }
            var config = ConnectionsConfig()
            for (k, v) in mapping {
                let name = k.string ?? ""
                if name == "precedence" {
                    config.precedence = precedence(&reader, v)
                    continue
                }
                guard ConnectionService.validName(name) else {
                    reader.problem(k, "\"\(name)\" is not a connection or vendor name (lower-case letters, digits, - and _)")
                    continue
                }
                config.sections[name] = section(&reader, name, v)
                config.lines[name] = ConnectionsConfig.Pair(k.mark?.line ?? 1, k.mark?.column ?? 1)
            }
            return config
        }
    }

    static func precedence(_ reader: inout ScoringModelFile.Reader, _ node: Node) -> [String: [String]] {
        guard let mapping = node.mapping else {
            reader.problem(node, "precedence must map field names to lists of sources")
            return [:]
        }
        var out: [String: [String]] = [:]
        let fields = Set(Resource.contacts.schema.fields.map(\.name) + Resource.accounts.schema.fields.map(\.name) + ["*"])
        for (k, v) in mapping {
            let field = k.string ?? ""
            guard fields.contains(field) else {
                reader.problem(k, "unknown field \"\(field)\" in precedence (a contact or account field, or *)")
                continue
            }
            guard let list = reader.strings(v, "precedence of \(field)"), !list.isEmpty else { continue }
            for (i, s) in list.enumerated() where s != "smarketing" && !ConnectionService.validName(s) {
                reader.problem(v.sequence?[i] ?? v, "\"\(s)\" is not smarketing, a vendor or a connection name")
            }
            out[field] = list
        }
        return out
    }

    static func section(_ reader: inout ScoringModelFile.Reader, _ name: String, _ node: Node) -> MappingOverride {
        var o = MappingOverride()
        guard let e = reader.entries(node, "the section \(name)", allowed: sectionKeys) else { return o }
        func pairs(_ key: String) -> [(Node, Node)] {
            guard let n = e[key]?.value else { return [] }
            guard let m = n.mapping else {
                reader.problem(n, "\(key) must be a mapping")
                return []
            }
            return m.map { ($0.key, $0.value) }
        }
        for (k, v) in pairs("lifecycle") {
            guard let raw = k.string, let stageText = v.scalar?.string, let stage = LifecycleStage(rawValue: stageText) else {
                reader.problem(v, "lifecycle values must be one of " + LifecycleStage.allCases.map(\.rawValue).joined(separator: ", "))
                continue
            }
            o.lifecycle[raw] = stage
        }
        for (k, v) in pairs("deal_stages") {
            guard let raw = k.string else { continue }
            if let s = v.scalar?.string {
                o.dealStages[raw] = DealStageMapping(stage: s, closed: false, won: false)
                continue
            }
            guard let d = reader.entries(v, "deal stage \(raw)", allowed: ["stage", "closed", "won"]) else { continue }
            guard let stage = d["stage"]?.value.scalar?.string, !stage.isEmpty else {
                reader.problem(v, "deal stage \(raw) needs stage: NAME")
                continue
            }
            func flag(_ f: String) -> Bool {
                guard let n = d[f]?.value else { return false }
                guard let b = n.scalar.flatMap({ Bool.construct(from: $0) }) else {
                    reader.problem(n, "\(f) must be true or false")
                    return false
                }
                return b
            }
            let won = flag("won")
            o.dealStages[raw] = DealStageMapping(stage: stage, closed: flag("closed") || won, won: won)
        }
        for (k, v) in pairs("activities") {
            guard let raw = k.string else { continue }
            if let t = v.scalar?.string {
                o.activities[raw] = ActivityMapping(type: t, channel: nil)
                continue
            }
            guard let d = reader.entries(v, "activity \(raw)", allowed: ["type", "channel"]), let t = d["type"]?.value.scalar?.string else {
                reader.problem(v, "activity \(raw) needs type: TOUCH_TYPE")
                continue
            }
            o.activities[raw] = ActivityMapping(type: t, channel: d["channel"]?.value.scalar?.string)
        }
        for (k, v) in pairs("owners") {
            guard let raw = k.string, let user = v.scalar?.string, !user.isEmpty else {
                reader.problem(v, "owners map a vendor owner id to a smarketing user id")
                continue
            }
            o.owners[raw] = user
        }
        for (k, v) in pairs("campaign_channels") {
            guard let raw = k.string, let ch = v.scalar?.string, !ch.isEmpty else {
                reader.problem(v, "campaign_channels map a vendor campaign type to a channel")
                continue
            }
            o.campaignChannels[raw] = ch
        }
        for (k, v) in pairs("writeback") {
            let field = k.string ?? ""
            guard WritebackValues.fields.contains(field) else {
                reader.problem(k, "unknown write-back field \"\(field)\" (allowed: \(WritebackValues.fields.joined(separator: ", ")))")
                continue
            }
            if v.scalar?.string == nil || v.scalar?.string == "" || v.scalar?.string == "null" || v.scalar?.string == "~" {
                o.writeback[field] = .some(nil)
            } else {
                o.writeback[field] = v.scalar?.string
            }
        }
        for (k, v) in pairs("fields") {
            let vendorField = k.string ?? ""
            guard !vendorField.isEmpty, vendorField.count <= 100,
                vendorField.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "." })
            else {
                reader.problem(k, "\"\(vendorField)\" is not a vendor field name (letters, digits, _ and .)")
                continue
            }
            guard let ours = v.scalar?.string, SyncMapping.mappableContactFields.contains(ours) else {
                reader.problem(v, "fields map a vendor field to one of " + SyncMapping.mappableContactFields.joined(separator: ", "))
                continue
            }
            o.fields[vendorField] = ours
        }
        if let n = e["strict"]?.value {
            guard let b = n.scalar.flatMap({ Bool.construct(from: $0) }) else {
                reader.problem(n, "strict must be true or false")
                return o
            }
            o.strict = b
        }
        return o
    }
}
