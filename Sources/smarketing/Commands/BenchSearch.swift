import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension Bench.Common {
    /// The workspace a read benchmark measures: `--database`, else a SQLite file in --work-dir
    /// named after the suite and the bundle; the bundle is imported into it first when it holds
    /// no contacts (then tidied as `import bundle` does).
    func readWorkspace(suite: String) async throws -> (store: any FunnelStore, path: String) {
        let path: String
        if let database {
            path = database
        } else {
            let dir = try bundleDirectory()
            path = (workDir as NSString).appendingPathComponent("smarketing-bench-\(suite)-\((dir as NSString).lastPathComponent).sqlite")
        }
        let store = try await open(path)
        if try await store.count(.contacts) == 0 {
            let dir = try bundleDirectory()
            FileHandle.standardError.write(Data("importing \(dir) into \(path)\n".utf8))
            let r = try await store.importRows(try Bundle.openReadingAhead(dir), options: ImportOptions(), actor: .cli, at: SystemClock().now()) { _ in }
            guard r.committed else { throw CLIFailure("the bundle did not import: \(r.problems.first?.description ?? "")") }
            // SQLite's WAL copied into the file; PostgreSQL's statistics fresh and the month
            // roll-ups vacuumed (read from the index alone).
            try await store.afterBulkLoad()
        }
        return (store, path)
    }
}

extension Bench {
    /// Latency of the text search: the API's `q=` (first page of contacts) and the web app's lead
    /// search (first page), for common texts taken from the workspace (last names, name parts,
    /// company names: pages full of matches) and for one person each (an address before the @,
    /// both searches together in `person_*`).
    struct SearchSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "search",
            abstract: "Latency of the text search (API q= and the lead search) for texts taken from the workspace."
        )
        @OptionGroup var common: Common
        @Option(help: "Search texts (each read by both searches; 5 untimed rounds first).") var texts = 60
        @Option(help: "Rounds over the texts.") var rounds = 5

        func validate() throws {
            guard (1...10_000).contains(texts) else { throw ValidationError("--texts must be between 1 and 10000") }
            guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 1000") }
        }

        func run() async throws {
            let (store, path) = try await common.readWorkspace(suite: "search")
            defer { WorkspaceStores.close(store) }
            // Texts: last names, three-letter name parts and company-name prefixes, spread over
            // the id order, plus a few that match many or nothing.
            var sample = ListQuery()
            sample.limit = 1000
            let people = try await store.list(.contacts, sample).records
            let companies = try await store.list(.accounts, sample).records
            var words: [String] = []
            for (i, c) in people.enumerated() where i % 7 == 0 {
                guard let last = c["last_name"].text, last.count >= 3 else { continue }
                words.append(i % 2 == 0 ? last : String(last.prefix(3)).lowercased())
            }
            for (i, a) in companies.enumerated() where i % 11 == 0 {
                if let name = a["name"].text { words.append(String(name.prefix(6))) }
            }
            words += ["yahoo", "zzqqxx", "an"]
            let chosen = Array(words.prefix(texts))
            guard !chosen.isEmpty else { throw CLIFailure("the workspace has no contacts with names to search for") }
            // One person each: the part of an address before the @ (what someone looking for a
            // particular lead types).
            var persons: [String] = []
            for (i, c) in people.enumerated() where i % 13 == 5 {
                if let local = c["email"].text?.split(separator: "@").first, local.count >= 3 { persons.append(String(local)) }
            }
            persons = Array(persons.prefix(texts))
            func api(_ text: String) async throws -> Int {
                var q = ListQuery()
                q.search = text
                return try await store.list(.contacts, q).records.count
            }
            func leads(_ text: String) async throws -> Int {
                var q = LeadQuery()
                q.search = text
                return try await store.leads(q, now: SystemClock().now()).rows.count
            }
            for text in chosen.prefix(5) {
                _ = try await api(text)
                _ = try await leads(text)
            }
            var found = 0
            /// `rounds` times each text through both searches: the milliseconds of each, sorted.
            func timed(_ texts: [String]) async throws -> (api: [Double], leads: [Double]) {
                var apiMs: [Double] = []
                var leadMs: [Double] = []
                for _ in 0..<rounds {
                    for text in texts {
                        var t = DispatchTime.now().uptimeNanoseconds
                        found += try await api(text)
                        apiMs.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                        t = DispatchTime.now().uptimeNanoseconds
                        found += try await leads(text)
                        leadMs.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                    }
                }
                return (apiMs.sorted(), leadMs.sorted())
            }
            let (apiMs, leadMs) = try await timed(chosen)
            let person = try await timed(persons)
            let personMs = (person.api + person.leads).sorted()
            let p = Bench.percentile
            struct Out: Encodable {
                var suite = "search"
                var texts: Int
                var reads: Int
                var api_p50_ms: Double
                var api_p99_ms: Double
                var api_max_ms: Double
                var leads_p50_ms: Double
                var leads_p99_ms: Double
                var leads_max_ms: Double
                var person_texts: Int
                var person_p50_ms: Double
                var person_p99_ms: Double
                var rows_found: Int
                var contacts: Int
                var peak_rss_bytes: Int
                var build: String
                var database: String
                var backend: String
            }
            try printJSON(
                Out(
                    texts: chosen.count,
                    reads: apiMs.count + leadMs.count,
                    api_p50_ms: p(apiMs, 0.5),
                    api_p99_ms: p(apiMs, 0.99),
                    api_max_ms: apiMs.last ?? 0,
                    leads_p50_ms: p(leadMs, 0.5),
                    leads_p99_ms: p(leadMs, 0.99),
                    leads_max_ms: leadMs.last ?? 0,
                    person_texts: persons.count,
                    person_p50_ms: p(personMs, 0.5),
                    person_p99_ms: p(personMs, 0.99),
                    rows_found: found,
                    contacts: try await store.count(.contacts),
                    peak_rss_bytes: peakRSSBytes(),
                    build: Bench.build,
                    database: WorkspaceStores.display(path),
                    backend: WorkspaceStores.isPostgres(path) ? "postgresql" : "sqlite"
                )
            )
        }
    }
}
