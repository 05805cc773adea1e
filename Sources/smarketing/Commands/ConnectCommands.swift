import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension WorkspaceOptions {
    /// The connection service on this workspace (secrets sealed with the server key).
    func connections() async throws -> (any FunnelStore, ConnectionService) {
        let store = try await openFunnel()
        do {
            let box = try SecretBox.forWorkspace(databasePath: databasePath)
            return (store, ConnectionService(store: store, box: box, clock: SystemClock()))
        } catch let e as SecretBoxError {
            throw CLIFailure(e.description)
        }
    }
}

/// Runs a connection call; its problems become one sentence.
func connectionCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as ConnectionError {
        throw CLIFailure(e.description)
    } catch let e as VendorError {
        throw CLIFailure(e.message)
    } catch let e as SecretBoxError {
        throw CLIFailure(e.description)
    } catch let e as StoreError {
        throw CLIFailure(e.description)
    }
}

extension Vendor: ExpressibleByArgument {}

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect HubSpot, Salesforce, Pipedrive, Marketo or Pardot (docs/INTEGRATIONS.md).",
        subcommands: [ConnectAdd.self, ConnectList.self, ConnectTest.self, ConnectRemove.self, ConnectSetupFields.self, ConnectMapping.self]
    )
}

struct ConnectAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a connection; its credentials are stored encrypted with the server key.",
        discussion: """
            Credentials by vendor (also from --credentials-file, one key=value per line, which keeps
            them out of the shell history):
              hubspot     --access-token [--refresh-token --client-id --client-secret] [--webhook-secret]
              salesforce  --client-id --client-secret [--refresh-token] [--login-url] [--outbound-token]
              pipedrive   --api-token [--webhook-user --webhook-password]
              marketo     --client-id --client-secret --base-url https://MUNCHKIN.mktorest.com [--webhook-token]
              pardot      --client-id --client-secret --business-unit-id [--refresh-token] [--login-url]
            """
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "hubspot, salesforce, pipedrive, marketo or pardot.") var vendor: Vendor
    @Argument(help: "A name for the connection (lower-case letters, digits, - and _).") var name: String
    @Option(help: "The vendor's API base URL (sandboxes, proxies, tests).") var baseURL: String?
    @Flag(name: .customLong("allow-private-url"), help: "Let --base-url point into this machine's own network (loopback, private or link-local addresses).") var allowPrivateURL = false
    @Option(help: "A file of key=value credential lines.") var credentialsFile: String?
    @Option var accessToken: String?
    @Option var refreshToken: String?
    @Option var clientId: String?
    @Option var clientSecret: String?
    @Option var apiToken: String?
    @Option var companyDomain: String?
    @Option var businessUnitId: String?
    @Option var loginUrl: String?
    @Option var webhookSecret: String?
    @Option var webhookToken: String?
    @Option var webhookUser: String?
    @Option var webhookPassword: String?
    @Option var outboundToken: String?
    @Option(name: .customLong("setting"), help: "A setting key=value (sync_interval_minutes, rate_limit, rate_window_seconds, …); repeatable.")
    var settings: [String] = []

    func run() async throws {
        var secrets: [String: String] = [:]
        if let file = credentialsFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CLIFailure("cannot read the credentials file \(file)") }
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.isEmpty || t.hasPrefix("#") { continue }
                guard let eq = t.firstIndex(of: "=") else { throw CLIFailure("\(file):\(i + 1): expected key=value") }
                secrets[t[..<eq].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "-", with: "_")] = t[t.index(after: eq)...]
                    .trimmingCharacters(in: .whitespaces)
            }
        }
        let given: [(String, String?)] = [
            ("access_token", accessToken), ("refresh_token", refreshToken), ("client_id", clientId), ("client_secret", clientSecret),
            ("api_token", apiToken), ("company_domain", companyDomain), ("login_url", loginUrl), ("webhook_secret", webhookSecret),
            ("webhook_token", webhookToken), ("webhook_user", webhookUser), ("webhook_password", webhookPassword), ("outbound_token", outboundToken),
        ]
        for (k, v) in given { if let v { secrets[k] = v } }
        var settingsMap: [String: String] = [:]
        if let bu = businessUnitId ?? secrets["business_unit_id"] {
            secrets["business_unit_id"] = bu
            settingsMap["business_unit_id"] = bu
        }
        for s in settings {
            guard let eq = s.firstIndex(of: "=") else { throw CLIFailure("--setting takes key=value, not \"\(s)\"") }
            settingsMap[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        if !allowPrivateURL, let baseURL, let host = URL(string: baseURL)?.host, let why = PrivateAddress.reason(host: host) {
            throw CLIFailure("--base-url points into this machine's own network (\(why)); add --allow-private-url if that is meant")
        }
        let (_, service) = try await workspace.connections()
        let c = try await connectionCall {
            try await service.add(name: name, vendor: vendor, baseURL: baseURL, secrets: secrets, settings: settingsMap, actor: .cli)
        }
        if workspace.json {
            try printJSON(["name": c.name, "vendor": c.vendor.rawValue, "status": c.status])
        } else {
            print("added \(vendor.displayName) connection \(name); check it with `smarketing connect test \(name)`")
        }
    }
}

struct ConnectList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List connections (never their credentials).")
    @OptionGroup var workspace: WorkspaceOptions

    struct Row: Encodable {
        var name: String
        var vendor: String
        var baseUrl: String?
        var status: String
        var lastSyncAt: String?
        var lastError: String?
        var counts: SyncCounts
    }

    func run() async throws {
        let store = try await workspace.openFunnel()
        let rows = try await store.connections().map {
            Row(name: $0.name, vendor: $0.vendor.rawValue, baseUrl: $0.baseURL, status: $0.status, lastSyncAt: $0.lastSyncAt?.iso8601, lastError: $0.lastError, counts: $0.counts)
        }
        if workspace.json { return try printJSON(rows) }
        if rows.isEmpty { return print("no connections; add one with `smarketing connect add VENDOR NAME …`") }
        for r in rows {
            print("\(r.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(r.vendor.padding(toLength: 11, withPad: " ", startingAt: 0)) \(r.status.padding(toLength: 8, withPad: " ", startingAt: 0)) last sync \(r.lastSyncAt ?? "never")  read \(r.counts.read), created \(r.counts.created), updated \(r.counts.updated), skipped \(r.counts.skipped)")
            if let e = r.lastError { print("    last error: \(e)") }
        }
    }
}

struct ConnectTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "test", abstract: "Check a connection's credentials and permissions.")
    @OptionGroup var workspace: WorkspaceOptions
    @Argument var name: String

    func run() async throws {
        let (_, service) = try await workspace.connections()
        let check = try await connectionCall { try await service.test(name) }
        if workspace.json {
            try printJSON(check)
        } else {
            for line in check.checked { print("  " + line) }
            print(check.message)
        }
        if !check.ok { throw CLIFailure(check.message) }
    }
}

struct ConnectRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a connection (its records stay; their links go).")
    @OptionGroup var workspace: WorkspaceOptions
    @Argument var name: String

    func run() async throws {
        let store = try await workspace.openFunnel()
        try await connectionCall { try await store.removeConnection(named: name, actor: .cli, at: SystemClock().now()) }
        if !workspace.json { print("removed connection \(name)") }
    }
}

struct ConnectSetupFields: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup-fields",
        abstract: "Create the write-back fields in the vendor where its API allows, or say which to create."
    )
    @OptionGroup var workspace: WorkspaceOptions
    @Argument var name: String

    func run() async throws {
        let (_, service) = try await workspace.connections()
        let lines = try await connectionCall { try await service.setupFields(name) }
        if workspace.json { return try printJSON(lines) }
        for l in lines { print(l) }
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read from connected tools into the workspace.",
        subcommands: [SyncRun.self, SyncReport.self]
    )
}

struct SyncRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Sync one connection or all (incremental from each object's watermark; --full reads everything)."
    )
    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "The connection (default: every connection).") var name: String?
    @Flag(help: "Read everything again (links keep records from doubling).") var full = false

    func run() async throws {
        let (store, service) = try await workspace.connections()
        var names: [String] = []
        if let name { names = [name] } else { names = try await store.connections().map(\.name) }
        if names.isEmpty { throw CLIFailure("no connections; add one with `smarketing connect add VENDOR NAME …`") }
        var reports: [SyncRunReport] = []
        var failed: [String] = []
        for n in names {
            let progress = ProgressReporter(quiet: workspace.json)
            let report = try await connectionCall {
                try await service.sync(n, full: full, actor: .cli) { p in
                    progress.update("\(p.connection) \(p.object.rawValue): page \(p.pages), records", p.counts.read)
                }
            }
            progress.finish()
            reports.append(report)
            if report.status != "ok" { failed.append(n) }
            if !workspace.json {
                print(String(format: "%@: %@ in %.1f s, %d requests", n, report.status, report.seconds, report.requests))
                print("  object          read  created  updated   linked   merged  skipped  deleted")
                for (object, c) in report.counts.sorted(by: { $0.key < $1.key }) {
                    print(
                        "  " + object.padding(toLength: 12, withPad: " ", startingAt: 0)
                            + [c.read, c.created, c.updated, c.linked, c.merged, c.skipped, c.deleted].map { String($0).leftPad(9) }.joined()
                    )
                }
                for s in report.skipped.prefix(10) { print("  skipped \(s.object) \(s.externalID): \(s.reason)") }
                if report.skipped.count > 10 { print("  … `smarketing sync report \(n)` lists every skipped record") }
                for e in report.errors { print("  error: \(e)") }
            }
        }
        try await (store as? SQLiteStore)?.checkpoint()
        if workspace.json { try printJSON(reports) }
        if !failed.isEmpty {
            throw CLIFailure("the sync of \(failed.joined(separator: ", ")) stopped early (see the errors above); the next run resumes where it stopped")
        }
    }
}

struct SyncReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Recent sync runs and the records they skipped.")
    @OptionGroup var workspace: WorkspaceOptions
    @Argument var name: String?
    @Option(help: "How many runs.") var limit = 10

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() async throws {
        let store = try await workspace.openFunnel()
        let runs = try await store.syncRuns(connection: name, limit: limit)
        if workspace.json { return try printJSON(runs) }
        if runs.isEmpty { return print("no sync runs yet") }
        let zone = try await workspace.displayZone()
        for r in runs {
            let total = r.counts.values.reduce(SyncCounts(), +)
            print("#\(r.id) \(r.connection) \(LocalTime.minute(r.startedAt, in: zone)) \(r.status)\(r.full ? " (full)" : ""): read \(total.read), created \(total.created), updated \(total.updated), merged \(total.merged), skipped \(total.skipped)")
            if let e = r.error { print("  error: \(e)") }
            for s in try await store.syncSkips(runID: r.id, limit: 50) { print("  skipped \(s.object) \(s.externalID): \(s.reason)") }
        }
    }
}

struct Writeback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send smarketing's decisions back to a CRM (stage, score, grade, MQL date, owner, SLA).",
        subcommands: [WritebackRun.self, WritebackLog.self]
    )
}

struct WritebackRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Queue what changed and deliver it.")
    @OptionGroup var workspace: WorkspaceOptions
    @Argument var name: String
    @Flag(help: "Show what would be sent; send nothing.") var dryRun = false

    func run() async throws {
        let (_, service) = try await workspace.connections()
        let r = try await connectionCall { try await service.writeback(name, dryRun: dryRun) }
        if workspace.json { return try printJSON(r) }
        if dryRun {
            print("would send \(r.wouldSend.count) value(s)\(r.wouldSend.count == 1000 ? " (first 1000 shown)" : ""):")
            for w in r.wouldSend.prefix(50) { print("  \(w[0]) \(w[1]) = \(w[2])") }
            return
        }
        print("\(name): queued \(r.queued) change(s), delivered \(r.delivered), failed \(r.failed), in \(r.requests) request(s)")
        if r.failed > 0 { throw CLIFailure("\(r.failed) change(s) were not delivered; `smarketing writeback log \(name)` says why") }
    }
}

struct WritebackLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "The write-back delivery log, newest first.")
    @OptionGroup var workspace: WorkspaceOptions
    @Argument var name: String
    @Option var limit = 50

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 100000") }
    }

    func run() async throws {
        let store = try await workspace.openFunnel()
        let log = try await store.writebackLog(connection: name, limit: limit)
        if workspace.json { return try printJSON(log) }
        for e in log {
            print("#\(e.seq) \(e.recordID) → \(e.externalID) \(e.field) = \(e.value ?? "(clear)"): \(e.status) after \(e.attempts) attempt(s)\(e.lastError.map { " — " + $0 } ?? "")")
        }
    }
}

struct ConnectMapping: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapping",
        abstract: "The stage, field and owner mappings as code: connections.yaml (examples/connections.yaml).",
        subcommands: [Validate.self, Diff.self, Apply.self, Show.self, Versions.self]
    )

    static func checked(_ workspace: WorkspaceOptions, _ file: String) async throws -> (any FunnelStore, ConnectionService, ConnectionsConfig, String) {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CLIFailure("cannot read \(file)") }
        let (store, service) = try await workspace.connections()
        let result = try await service.check(text) { id in try await store.get(.users, id: id) != nil }
        switch result {
        case .success(let config): return (store, service, config, text)
        case .failure(let p):
            for problem in p.problems { FileHandle.standardError.write(Data("\(file):\(problem.line):\(problem.column): \(problem.message)\n".utf8)) }
            throw CLIFailure("\(file) has \(p.problems.count) problem(s), listed above; nothing was applied")
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a connections.yaml (problems with line and column).")
        @OptionGroup var workspace: WorkspaceOptions
        @Argument var file: String
        func run() async throws {
            let (_, _, config, _) = try await ConnectMapping.checked(workspace, file)
            if !workspace.json { print("\(file) is valid: \(config.sections.count) section(s), precedence for \(config.precedence.count) field(s)") }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What applying a connections.yaml would change, per connection.")
        @OptionGroup var workspace: WorkspaceOptions
        @Argument var file: String
        func run() async throws {
            let (_, service, config, _) = try await ConnectMapping.checked(workspace, file)
            let lines = try await service.diff(config)
            if workspace.json { return try printJSON(lines) }
            if lines.isEmpty { print("no change") }
            for l in lines { print(l) }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a connections.yaml the active version (used by the next sync and write-back).")
        @OptionGroup var workspace: WorkspaceOptions
        @Argument var file: String
        @Option(help: "Why the change was made.") var comment = ""
        func run() async throws {
            let (store, service, config, text) = try await ConnectMapping.checked(workspace, file)
            let changes = try await service.diff(config)
            let v = try await store.applyConnectionsConfig(text: text, comment: comment, actor: .cli, at: SystemClock().now())
            if workspace.json { return try printJSON(v) }
            print("applied \(file) as version \(v.version) (\(changes.count) change(s))")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the active connections.yaml.")
        @OptionGroup var workspace: WorkspaceOptions
        func run() async throws {
            let store = try await workspace.openFunnel()
            guard let (v, text) = try await store.activeConnectionsConfig() else {
                return print("# no connections.yaml applied: every connection uses its vendor's defaults (docs/INTEGRATIONS.md)")
            }
            print("# version \(v.version), applied \(LocalTime.minute(v.appliedAt, in: try await workspace.displayZone())) by \(v.author)")
            print(text)
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every applied version, newest first.")
        @OptionGroup var workspace: WorkspaceOptions
        func run() async throws {
            let store = try await workspace.openFunnel()
            let versions = try await store.connectionsConfigVersions()
            if workspace.json { return try printJSON(versions) }
            let zone = try await workspace.displayZone()
            for v in versions { print("\(v.version)\(v.active ? " (active)" : "") \(LocalTime.minute(v.appliedAt, in: zone)) \(v.author) \(v.comment)") }
        }
    }
}
