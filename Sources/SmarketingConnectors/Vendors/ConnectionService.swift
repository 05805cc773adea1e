import Foundation
import SmarketingCore
import SmarketingStore

/// A problem with a connection request, in one sentence (the CLI prints it, the API answers 4xx).
public struct ConnectionError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// What the CLI, the API and the server's sync service do with connections: add (secrets
/// sealed), test, sync, write back, remove. One place, so every way in behaves the same.
public struct ConnectionService: Sendable {
    public let store: any SyncStore
    public let box: SecretBox
    public let clock: any WorkspaceClock

    public init(store: any SyncStore, box: SecretBox, clock: any WorkspaceClock) {
        self.store = store
        self.box = box
        self.clock = clock
    }

    /// Connection names: 1–64 of a–z, 0–9, `-`, `_`, starting with a letter.
    public static func validName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.unicodeScalars.count <= 64 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }

    /// Checks and stores a new connection; the secrets are sealed before they reach the store.
    public func add(
        name: String,
        vendor: Vendor,
        baseURL: String?,
        secrets: [String: String],
        settings: [String: String],
        actor: Actor
    ) async throws -> StoredConnection {
        guard Self.validName(name) else {
            throw ConnectionError("a connection name is 1 to 64 lower-case letters, digits, - or _, starting with a letter; \"\(name)\" is not")
        }
        if let b = baseURL {
            guard b.range(of: Self.baseURLPattern, options: .regularExpression) != nil else {
                throw ConnectionError("--base-url must be an http(s) URL with a host, not \"\(b)\"")
            }
        }
        let (required, optional) = Connectors.credentials(vendor)
        let missing = required.filter { (secrets[$0] ?? "").isEmpty }
        if !missing.isEmpty {
            throw ConnectionError("\(vendor.displayName) needs \(missing.map { "--" + $0.replacingOccurrences(of: "_", with: "-") }.joined(separator: ", "))")
        }
        let unknown = secrets.keys.filter { !required.contains($0) && !optional.contains($0) }.sorted()
        if let u = unknown.first { throw ConnectionError("\(vendor.displayName) takes no credential \"\(u)\"") }
        for (k, v) in secrets where v.unicodeScalars.count > 4096 { throw ConnectionError("the credential \(k) is longer than 4096 characters") }
        for (k, v) in settings {
            guard Self.settingKeys.contains(k) else {
                throw ConnectionError("unknown setting \"\(k)\"; known: \(Self.settingKeys.sorted().joined(separator: ", "))")
            }
            guard v.unicodeScalars.count <= 1000 else { throw ConnectionError("the setting \(k) is longer than 1000 characters") }
        }
        if let i = settings["sync_interval_minutes"], Int(i).map({ (0...10_080).contains($0) }) != true {
            throw ConnectionError("sync_interval_minutes must be a whole number from 0 (never) to 10080 (a week)")
        }
        let stored = StoredConnection(
            name: name,
            vendor: vendor,
            baseURL: baseURL,
            sealedSecrets: try box.seal(secrets),
            settings: JSONValue.object(settings.mapValues { .string($0) }).compactText,
            createdAt: clock.now()
        )
        try await store.addConnection(stored, actor: actor, at: clock.now())
        return stored
    }

    /// A base URL: http(s), a host of letters, digits, `-` and dots, an optional port and path
    /// (the API's schema uses the same pattern).
    public static let baseURLPattern = "^https?://[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63}){0,8}(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~!$&'()*+,;=:@/%-]{0,1900})?$"

    /// Settings a connection takes (besides its credentials).
    public static let settingKeys: Set<String> = ["sync_interval_minutes", "rate_limit", "rate_window_seconds", "search_window", "business_unit_id", "pardot_base_url"]

    /// A stored connection by name, or a clear refusal.
    public func connection(_ name: String) async throws -> StoredConnection {
        guard let c = try await store.connection(named: name) else {
            throw ConnectionError("no connection named \"\(name)\" (`smarketing connect list` shows them)")
        }
        return c
    }

    public func config(_ c: StoredConnection) throws -> ConnectionConfig {
        ConnectionConfig(name: c.name, vendor: c.vendor, baseURL: c.baseURL, secrets: try box.open(c.sealedSecrets), settings: Self.settings(c))
    }

    /// A connection's non-secret settings (no decryption).
    public static func settings(_ c: StoredConnection) -> [String: String] {
        var settings: [String: String] = [:]
        if let json = try? JSONDecoder().decode(JSONValue.self, from: Data(c.settings.utf8)), let o = json.objectValue {
            for (k, v) in o { if let s = v.string { settings[k] = s } }
        }
        return settings
    }

    /// The connection's mapping: the vendor's defaults under the active connections.yaml.
    public func mapping(_ c: StoredConnection) async throws -> SyncMapping {
        guard let (_, text) = try await store.activeConnectionsConfig(), case .success(let config) = ConnectionsFile.read(text) else {
            return SyncMapping.defaults(c.vendor)
        }
        return config.mapping(connection: c.name, vendor: c.vendor)
    }

    /// Checks a connections.yaml against the workspace: sections name connections or vendors,
    /// owners name users (`userExists`), precedence names smarketing, vendors or connections.
    public func check(_ text: String, userExists: (String) async throws -> Bool) async throws -> Result<ConnectionsConfig, ModelFileProblems> {
        let config: ConnectionsConfig
        switch ConnectionsFile.read(text) {
        case .success(let c): config = c
        case .failure(let p): return .failure(p)
        }
        let names = Set(try await store.connections().map(\.name))
        var problems: [ModelFileProblem] = []
        for u in config.unknownSections(connections: names) {
            problems.append(ModelFileProblem(line: u.line, column: u.column, message: "\"\(u.name)\" is neither a connection (`smarketing connect list`) nor a vendor"))
        }
        for (name, section) in config.sections.sorted(by: { $0.key < $1.key }) {
            for (owner, user) in section.owners.sorted(by: { $0.key < $1.key }) where !(try await userExists(user)) {
                let p = config.lines[name]?.tuple ?? (1, 1)
                problems.append(ModelFileProblem(line: p.0, column: p.1, message: "\(name): owner \(owner) is mapped to user \"\(user)\", which does not exist"))
            }
        }
        let sources = names.union(Vendor.allCases.map(\.rawValue)).union(["smarketing"])
        for (field, order) in config.precedence.sorted(by: { $0.key < $1.key }) {
            for s in order where !sources.contains(s) {
                problems.append(ModelFileProblem(line: 1, column: 1, message: "precedence of \(field) names \"\(s)\", which is neither smarketing, a vendor nor a connection"))
            }
        }
        return problems.isEmpty ? .success(config) : .failure(ModelFileProblems(problems))
    }

    /// What applying a connections.yaml would change, per connection: one line per changed entry.
    public func diff(_ config: ConnectionsConfig) async throws -> [String] {
        var out: [String] = []
        for c in try await store.connections() {
            let old = try await mapping(c)
            let new = config.mapping(connection: c.name, vendor: c.vendor)
            func compare<V: Equatable>(_ what: String, _ a: [String: V], _ b: [String: V], _ show: (V) -> String) {
                for k in Set(a.keys).union(b.keys).sorted() where a[k] != b[k] {
                    out.append("\(c.name) \(what) \(k): \(a[k].map(show) ?? "(none)") → \(b[k].map(show) ?? "(none)")")
                }
            }
            compare("lifecycle", old.lifecycle, new.lifecycle) { $0.rawValue }
            compare("deal stage", old.dealStages, new.dealStages) { "\($0.stage)\($0.closed ? ($0.won ? " (won)" : " (lost)") : "")" }
            compare("activity", old.activities, new.activities) { $0.type + ($0.channel.map { " / " + $0 } ?? "") }
            compare("owner", old.owners, new.owners) { $0 }
            compare("campaign channel", old.campaignChannels, new.campaignChannels) { $0 }
            compare("write-back", old.writeback, new.writeback) { $0 }
            compare("field", old.personFields, new.personFields) { $0 }
            compare("precedence", old.precedence.mapValues { $0.joined(separator: ", ") }, new.precedence.mapValues { $0.joined(separator: ", ") }) { $0 }
            if old.strict != new.strict { out.append("\(c.name) strict: \(old.strict) → \(new.strict)") }
        }
        return out
    }

    public func test(_ name: String) async throws -> ConnectionCheck {
        let c = try await connection(name)
        let connector = try Connectors.make(try config(c))
        let check = await connector.check()
        await connector.shutdown()
        try await store.setConnectionStatus(named: name, status: check.ok ? "ok" : "error", error: check.ok ? nil : check.message, at: clock.now())
        return check
    }

    public func sync(
        _ name: String,
        full: Bool,
        only: Set<SyncObject>? = nil,
        actor: Actor,
        progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }
    ) async throws -> SyncRunReport {
        let c = try await connection(name)
        var cfg = try config(c)
        cfg.extraPersonFields = try await mapping(c).personFields.keys.sorted()
        let connector = try Connectors.make(cfg)
        do {
            let report = try await SyncEngine(store: store, clock: clock).run(
                connection: c,
                connector: connector,
                mapping: try await mapping(c),
                full: full,
                only: only,
                actor: actor,
                progress: progress
            )
            await connector.shutdown()
            return report
        } catch {
            await connector.shutdown()
            throw error
        }
    }

    public func writeback(_ name: String, dryRun: Bool) async throws -> WritebackReport {
        let c = try await connection(name)
        let connector = try Connectors.make(try config(c))
        do {
            let r = try await WritebackEngine(store: store, clock: clock).run(connection: name, connector: connector, mapping: try await mapping(c), dryRun: dryRun)
            await connector.shutdown()
            return r
        } catch {
            await connector.shutdown()
            throw error
        }
    }

    /// Verifies a vendor webhook delivery and applies what it can at once (deletions); returns
    /// the objects an incremental sync should read now (empty when every event was seen before).
    public func receive(_ name: String, _ request: InboundRequest, actor: Actor) async throws -> Set<SyncObject> {
        let c = try await connection(name)
        let config = try config(c)
        let events: [InboundEvent]
        switch InboundWebhooks.verify(c.vendor, request, secrets: config.secrets, now: clock.now()) {
        case .success(let e): events = e
        case .failure(let refusal): throw refusal
        }
        let fresh = Set(try await store.recordInbound(connection: name, eventIDs: events.map(\.id), at: clock.now()))
        var objects: Set<SyncObject> = []
        var deletions: [SyncObject: [String]] = [:]
        for e in events where fresh.contains(e.id) {
            if e.deleted { deletions[e.object, default: []].append(e.externalID) } else { objects.insert(e.object) }
        }
        for (object, ids) in deletions {
            _ = try await store.unlinkDeleted(connection: name, mapping: try await mapping(c), object: object, externalIDs: ids, actor: actor, at: clock.now())
        }
        return objects
    }

    public func setupFields(_ name: String) async throws -> [String] {
        let c = try await connection(name)
        let connector = try Connectors.make(try config(c))
        do {
            let r = try await connector.setupFields(mapping: try await mapping(c))
            await connector.shutdown()
            return r
        } catch {
            await connector.shutdown()
            throw error
        }
    }
}
