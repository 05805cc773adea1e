import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// The project's benchmarks: one JSON object per suite on stdout (BENCHMARKS.md).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure ingest and import speed; prints JSON.",
        subcommands: [
            Ingest.self, ImportSuite.self, ScoringSuite.self, RescoringSuite.self, SLASuite.self, WebhookSuite.self, KPISuite.self, AttributionSuite.self,
            WebSuite.self, SyncSuite.self, SearchSuite.self,
        ]
    )

    struct Common: ParsableArguments {
        @Option(help: "Use this bundle instead of generating one.") var bundle: String?
        @Option(help: "Leads of the generated bundle.") var leads = 100_000
        @Option(help: "Seed of the generated bundle.") var seed: UInt64 = 1
        @Option(help: "Repetitions (fresh database each); the median is reported.") var reps = 3
        @Option(help: "Directory for the temporary databases.") var workDir = FileManager.default.temporaryDirectory.path
        @Option(
            help: """
                A postgres:// URL to measure PostgreSQL. ingest and import: each repetition gets a new database on that \
                server (the role needs CREATEDB), dropped afterwards; default SQLite files in --work-dir. kpi and search: the workspace \
                read (a SQLite file or a postgres:// URL), the bundle imported into it first when it holds no contacts.
                """
        )
        var database: String?

        func validate() throws {
            guard (1...1000).contains(reps) else { throw ValidationError("--reps must be between 1 and 1000") }
            guard (1...100_000_000).contains(leads) else { throw ValidationError("--leads must be between 1 and 100000000") }
        }

        func bundleDirectory() throws -> String {
            if let bundle { return bundle }
            let dir = (workDir as NSString).appendingPathComponent("smarketing-bench-bundle-\(leads)-\(seed)")
            if !FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("touchpoints.csv")) {
                FileHandle.standardError.write(Data("generating a \(leads)-lead bundle in \(dir)\n".utf8))
                _ = try DemoWorkspace(leads: leads, seed: seed).write(to: dir)
            }
            return dir
        }

        func freshDatabase(_ name: String) -> String { freshBenchDatabase(name, in: workDir) }

        /// A new empty workspace for one repetition (SQLite file or PostgreSQL database).
        func freshWorkspace(_ name: String) async throws -> String {
            if let database, !WorkspaceStores.isPostgres(database) {
                throw CLIFailure("--database takes a postgres:// URL here (SQLite runs use files in --work-dir)")
            }
            do { return try await WorkspaceStores.scratch(name, base: database, workDir: workDir) } catch let e as StoreError {
                throw CLIFailure(e.description)
            }
        }

        /// Opens a workspace made by `freshWorkspace`.
        func open(_ location: String) async throws -> any FunnelStore {
            do { return try await WorkspaceStores.open(location) } catch let e as StoreError { throw CLIFailure(e.description) }
        }

        /// Closes and removes a workspace made by `freshWorkspace`.
        func remove(_ store: any FunnelStore, _ location: String) async {
            WorkspaceStores.close(store)
            await WorkspaceStores.removeScratch(location, base: database)
        }

        var backend: String { database.map { WorkspaceStores.isPostgres($0) } == true ? "postgresql" : "sqlite" }
    }

    static var build: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Events/s through the full ingest pipeline (identity, dedup, reactions; durable commits).")
        @OptionGroup var common: Common
        @Option(help: "Events per batch (one transaction each).") var batch = 10_000
        @Option(help: "Score every event under this model file (applied before timing).") var scoring: String?
        @Option(help: "Route new MQLs and start SLA clocks under this handover configuration (needs --scoring).") var handover: String?

        func run() async throws {
            let dir = try common.bundleDirectory()
            // Parse the touchpoints first, untimed, as the SQLite ceiling script does.
            let events: [Result<IncomingEvent, EventRejection>] = try bundleEvents(dir).map { .success($0) }
            var times: [Double] = []
            var dbBytes = 0
            var accepted = 0
            var handovers: Int?
            if handover != nil, scoring == nil { throw CLIFailure("--handover needs --scoring: handovers open when the scoring model moves contacts to MQL") }
            var appCPU: [Double] = []
            var dbCPU: [Double] = []
            for rep in 0..<common.reps {
                let path = try await common.freshWorkspace("ingest")
                let store = try await common.open(path)
                let readers = try Bundle.open(dir).filter { $0.resource != .touchpoints }
                let setup = try await store.importRows(readers, options: ImportOptions(), actor: .cli, at: SystemClock().now()) { _ in }
                guard setup.committed else { throw CLIFailure("the bundle did not import: \(setup.problems.first?.description ?? "")") }
                if let scoring {
                    let (text, model) = try readModel(scoring, json: true)
                    _ = try await store.applyScoringModel(text: text, model: model, comment: "bench", actor: .cli, at: SystemClock().now(), progress: nil)
                }
                if let handover {
                    let (text, config) = try readHandoverConfig(handover, json: true)
                    _ = try await store.applyHandoverConfig(text: text, config: config, comment: "bench", actor: .cli, at: SystemClock().now())
                }
                let actor = Actor(userID: "bench", role: .admin, via: "bench")
                let serverCPU = await WorkspaceStores.serverCPUReader(path)
                let app0 = processCPUSeconds()
                let db0 = serverCPU?()
                let started = DispatchTime.now().uptimeNanoseconds
                var ok = 0
                var i = 0
                while i < events.count {
                    let slice = Array(events[i..<min(events.count, i + batch)])
                    let results = try await store.ingest([IngestBatch(events: slice, atomic: false, actor: actor)], at: SystemClock().now())
                    ok += results[0].outcomes.count { if case .accepted = $0 { true } else { false } }
                    i += batch
                }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                appCPU.append(processCPUSeconds() - app0)
                if let serverCPU, let db0 { dbCPU.append(serverCPU() - db0) }
                accepted = ok
                dbBytes = await WorkspaceStores.storedBytes(path)
                var opened = ""
                if handover != nil {
                    let far = Timestamp(milliseconds: Int64.max / 2)
                    let n = try await store.acceptanceReport(from: Timestamp(milliseconds: 0), to: far, by: .policy).reduce(0) { $0 + $1.handovers }
                    handovers = n
                    opened = ", \(n) handovers opened"
                }
                let cpu = dbCPU.count == appCPU.count ? String(format: "; CPU app %.1f s, database %.1f s", appCPU.last ?? 0, dbCPU.last ?? 0) : ""
                FileHandle.standardError.write(Data("rep \(rep + 1): \(ok) events in \(String(format: "%.2f", times.last ?? 0)) s\(opened)\(cpu)\n".utf8))
                await common.remove(store, path)
            }
            var result = BenchResult(
                suite: handover != nil ? "ingest-handover" : scoring == nil ? "ingest" : "ingest-scoring",
                items: events.count,
                accepted: accepted,
                times: times,
                dbBytes: dbBytes,
                bundle: dir,
                batch: batch
            )
            result.handovers = handovers
            result.backend = common.backend
            result.cpuSplit(app: appCPU, database: dbCPU, times: times, items: events.count)
            try printJSON(result)
        }
    }

    struct ImportSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import", abstract: "Seconds to import a whole bundle into a new database.")
        @OptionGroup var common: Common

        func run() async throws {
            let dir = try common.bundleDirectory()
            var times: [Double] = []
            var rows = 0
            var touchpoints = 0
            var contacts = 0
            var dbBytes = 0
            var appCPU: [Double] = []
            var dbCPU: [Double] = []
            for rep in 0..<common.reps {
                let path = try await common.freshWorkspace("import")
                let store = try await common.open(path)
                let serverCPU = await WorkspaceStores.serverCPUReader(path)
                let app0 = processCPUSeconds()
                let db0 = serverCPU?()
                let started = DispatchTime.now().uptimeNanoseconds
                let readers = try Bundle.openReadingAhead(dir)
                let result = try await store.importRows(readers, options: ImportOptions(), actor: .cli, at: SystemClock().now()) { _ in }
                try await (store as? SQLiteStore)?.checkpoint()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                appCPU.append(processCPUSeconds() - app0)
                if let serverCPU, let db0 { dbCPU.append(serverCPU() - db0) }
                guard result.committed else { throw CLIFailure("the bundle did not import: \(result.problems.first?.description ?? "")") }
                rows = result.files.reduce(0) { $0 + $1.rows }
                touchpoints = result.files.first { $0.file == "touchpoints.csv" }?.rows ?? 0
                contacts = result.files.first { $0.file == "contacts.csv" }?.rows ?? 0
                dbBytes = await WorkspaceStores.storedBytes(path)
                FileHandle.standardError.write(Data("rep \(rep + 1): \(rows) rows in \(String(format: "%.2f", times.last ?? 0)) s\n".utf8))
                await common.remove(store, path)
            }
            var result = BenchResult(suite: "import", items: rows, accepted: rows, times: times, dbBytes: dbBytes, bundle: dir)
            result.contacts = contacts
            result.touchpoints = touchpoints
            result.backend = common.backend
            result.cpuSplit(app: appCPU, database: dbCPU, times: times, items: rows)
            try printJSON(result)
        }
    }
}

extension Bench {
    struct ScoringSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scoring",
            abstract: "Events/s of engagement scoring in the core (one thread, the example model)."
        )
        @OptionGroup var common: Common
        @Option(help: "The scoring model file.") var model = "examples/scoring-model.yaml"

        func run() async throws {
            let dir = try common.bundleDirectory()
            guard let text = try? String(contentsOfFile: model, encoding: .utf8) else { throw CLIFailure("cannot read \(model)") }
            let scoring: ScoringModel
            switch ScoringModelFile.read(text) {
            case .success(let m): scoring = m
            case .failure(let p): throw CLIFailure("\(model) has \(p.problems.count) problem(s)")
            }
            // Untimed: read the touchpoints into the facts the rules see.
            var touches: [(contact: Int, facts: TouchFacts)] = []
            var contactIndex: [String: Int] = [:]
            for event in try bundleEvents(dir) {
                guard case .id(let contact) = event.contact else { continue }
                var props: [String: String] = [:]
                if let p = event.properties, let data = p.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                {
                    for (k, value) in object { if let str = value as? String { props[k] = str } }
                }
                let c = contactIndex[contact] ?? contactIndex.count
                contactIndex[contact] = c
                touches.append(
                    (
                        c,
                        TouchFacts(
                            id: event.id,
                            at: event.occurredAt,
                            type: event.type,
                            channel: event.channel,
                            campaignID: event.campaignID,
                            contentID: event.contentID,
                            properties: props,
                            actorID: event.actorID
                        )
                    )
                )
            }
            var times: [Double] = []
            var checksum = 0.0
            for rep in 0..<common.reps {
                var states = [EngagementState](repeating: EngagementState(), count: contactIndex.count)
                let started = DispatchTime.now().uptimeNanoseconds
                for i in touches.indices { states[touches[i].contact].add(touches[i].facts, model: scoring.engagement) }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                let now = Timestamp(milliseconds: touches.map(\.facts.at.milliseconds).max() ?? 0)
                checksum = states.reduce(0) { $0 + $1.value(at: now) }
                FileHandle.standardError.write(
                    Data("rep \(rep + 1): \(touches.count) events in \(String(format: "%.2f", times.last!)) s (score sum \(Int(checksum)))\n".utf8)
                )
            }
            try printJSON(BenchResult(suite: "scoring", items: touches.count, accepted: touches.count, times: times, dbBytes: 0, bundle: dir))
        }
    }
}

/// The touchpoints of a bundle as events naming their contact by id (valid rows only).
func bundleEvents(_ dir: String) throws -> [IncomingEvent] {
    let reader = try BundleFileReader(directory: dir, resource: .touchpoints)
    let s = Resource.touchpoints.schema
    var events: [IncomingEvent] = []
    while case let chunk = reader.nextChunk(limit: 65_536), !chunk.isEmpty {
        for row in chunk where row.problems.isEmpty {
            let v = row.values
            guard case .text(let id) = v[0], case .text(let contact) = v[1], case .timestamp(let at) = v[2], case .text(let type) = v[3]
            else { continue }
            func t(_ name: String) -> String? { v[s.index[name]!].text }
            var props: String?
            if case .json(let p) = v[s.index["properties"]!] { props = p }
            events.append(
                IncomingEvent(
                    id: id,
                    type: type,
                    occurredAt: at,
                    channel: t("channel"),
                    campaignID: t("campaign_id"),
                    contentID: t("content_id"),
                    actorID: t("actor_id"),
                    properties: props,
                    contact: .id(contact)
                )
            )
        }
    }
    return events
}

struct BenchResult: Encodable {
    var suite: String
    var items: Int
    var accepted: Int
    var seconds: Double
    var seconds_min: Double
    var seconds_max: Double
    var per_second: Double
    var peak_rss_bytes: Int
    var build: String
    var db_bytes: Int
    var batch: Int?
    var bundle: String
    var contacts: Int?
    var touchpoints: Int?
    var handovers: Int?
    var backend: String?
    /// CPU of the benchmark's process and of the database server's processes (when the server runs
    /// on this machine), in the median repetition, and per item.
    var app_cpu_seconds: Double?
    var db_cpu_seconds: Double?
    var app_cpu_us_per_item: Double?
    var db_cpu_us_per_item: Double?

    /// Adds the CPU split of the median repetition.
    mutating func cpuSplit(app: [Double], database: [Double], times: [Double], items: Int) {
        guard !times.isEmpty, app.count == times.count, items > 0 else { return }
        let median = times.indices.sorted { times[$0] < times[$1] }[times.count / 2]
        app_cpu_seconds = app[median]
        app_cpu_us_per_item = app[median] / Double(items) * 1e6
        if database.count == times.count {
            db_cpu_seconds = database[median]
            db_cpu_us_per_item = database[median] / Double(items) * 1e6
        }
    }

    /// A suite's result from the seconds of each repetition: median, min and max.
    init(suite: String, items: Int, accepted: Int, times: [Double], dbBytes: Int, bundle: String, batch: Int? = nil) {
        let median = times.sorted()[times.count / 2]
        self.suite = suite
        self.items = items
        self.accepted = accepted
        seconds = median
        seconds_min = times.min()!
        seconds_max = times.max()!
        per_second = Double(items) / median
        peak_rss_bytes = peakRSSBytes()
        build = Bench.build
        db_bytes = dbBytes
        self.batch = batch
        self.bundle = bundle
    }
}

/// CPU seconds (user and system) this process has used.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func fileSize(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }

/// A path for a new benchmark database in `workDir` (any old one there removed).
func freshBenchDatabase(_ name: String, in workDir: String) -> String {
    let path = (workDir as NSString).appendingPathComponent("smarketing-bench-\(name)-\(getpid()).sqlite")
    removeDatabase(path)
    return path
}

func removeDatabase(_ path: String) {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}

extension Bench {
    struct RescoringSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rescoring",
            abstract: "Seconds to apply a model (rescore every contact) and to backtest it, on the imported bundle."
        )
        @OptionGroup var common: Common
        @Option(help: "The scoring model file.") var model = "examples/scoring-model.yaml"

        func run() async throws {
            let dir = try common.bundleDirectory()
            let (text, scoring) = try readModel(model, json: true)
            let path = common.freshDatabase("rescoring")
            defer { removeDatabase(path) }
            let store = try SQLiteStore.workspace(path: path)
            let setup = try await store.importRows(try Bundle.open(dir), options: ImportOptions(), actor: .cli, at: SystemClock().now()) { _ in }
            guard setup.committed else { throw CLIFailure("the bundle did not import: \(setup.problems.first?.description ?? "")") }
            let contacts = try await store.count(.contacts)
            let touchpoints = try await store.count(.touchpoints)
            var applyTimes: [Double] = []
            var backtestTimes: [Double] = []
            var auc: Double?
            for rep in 0..<common.reps {
                let r = try await store.applyScoringModel(text: text, model: scoring, comment: "bench", actor: .cli, at: SystemClock().now(), progress: nil)
                applyTimes.append(r.seconds)
                let started = DispatchTime.now().uptimeNanoseconds
                let scorer = try await store.candidateScorer(scoring, version: 0)
                let history = try await store.backtestContacts(target: .opportunity, attributes: scorer.attributes)
                guard let period = Backtest.period(of: history) else { throw CLIFailure("the bundle has no contacts") }
                let report = Backtest.run(history, scorer: scorer, options: BacktestOptions(from: period.from, to: period.to, horizon: 90 * 86_400_000))
                auc = report.auc
                backtestTimes.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                FileHandle.standardError.write(
                    Data(
                        "rep \(rep + 1): apply \(String(format: "%.2f", applyTimes.last!)) s, backtest \(String(format: "%.2f", backtestTimes.last!)) s\n".utf8
                    )
                )
            }
            var apply = BenchResult(suite: "apply", items: contacts, accepted: contacts, times: applyTimes, dbBytes: fileSize(path), bundle: dir)
            apply.contacts = contacts
            apply.touchpoints = touchpoints
            var backtest = BenchResult(suite: "backtest", items: touchpoints, accepted: touchpoints, times: backtestTimes, dbBytes: 0, bundle: dir)
            backtest.contacts = contacts
            backtest.touchpoints = touchpoints
            try printJSON(apply)
            try printJSON(backtest)
            if let auc { FileHandle.standardError.write(Data("backtest AUC (opportunity within 90 days): \(auc)\n".utf8)) }
        }
    }
}

extension Bench {
    /// The `q` quantile (0…1) of ascending `sorted` values, by the nearest lower rank (0 when
    /// empty): the figure the benchmarks report as p50 and p99.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }
}
