import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// Flags every command that touches a workspace takes.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: .long, help: "Database file (SQLite) or postgres:// URL; default $SMARKETING_DATABASE or ./smarketing.sqlite.")
    var database: String?

    @Flag(name: .long, help: "Machine-readable JSON output.")
    var json = false

    @Option(
        name: .long,
        help: "A PostgreSQL streaming replica (postgres:// URL) for dashboards, reports, exports and analyses; default $SMARKETING_READ_DATABASE."
    )
    var readDatabase: String?

    var readReplica: String? {
        readDatabase ?? ProcessInfo.processInfo.environment["SMARKETING_READ_DATABASE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var databasePath: String {
        database ?? ProcessInfo.processInfo.environment["SMARKETING_DATABASE"] ?? "./smarketing.sqlite"
    }

    /// Opens the SQLite file named by `--database` (for what only a SQLite file has).
    func openStore(backgroundCheckpoints: Bool = false) throws -> SQLiteStore {
        let path = databasePath
        if PostgresStore.Location(url: path) != nil || path.hasPrefix("postgres://") || path.hasPrefix("postgresql://") {
            throw CLIFailure("\(path.prefix(60)) is not a SQLite file; this step needs one")
        }
        if Self.looksLikeURL(path) { throw CLIFailure(Self.unknownScheme(path)) }
        do {
            return try SQLiteStore.workspace(path: path, backgroundCheckpoints: backgroundCheckpoints)
        } catch {
            throw CLIFailure("cannot open the database \(path): \(error)")
        }
    }
}

extension WorkspaceOptions {
    /// Opens the roles both backends serve (records, access, bundles, identity, ingest, scoring, handover): the commands
    /// that need no more run on SQLite and PostgreSQL alike.
    func openPortable() async throws -> any PortableStore {
        let location = databasePath
        if !WorkspaceStores.isPostgres(location), Self.looksLikeURL(location) { throw CLIFailure(Self.unknownScheme(location)) }
        do {
            return try await WorkspaceStores.openPortable(location)
        } catch let e as StoreError {
            throw CLIFailure(e.description)
        } catch {
            throw CLIFailure("cannot open the database \(location): \(error)")
        }
    }

    /// Opens the whole workspace store (SQLite or PostgreSQL): the commands that need every role
    /// but vendor sync.
    func openFunnel(backgroundCheckpoints: Bool = false, pageCacheMiB: Int = SQLiteStore.defaultPageCacheMiB) async throws -> any FunnelStore {
        let location = databasePath
        if !WorkspaceStores.isPostgres(location), Self.looksLikeURL(location) { throw CLIFailure(Self.unknownScheme(location)) }
        do {
            return try await WorkspaceStores.open(location, backgroundCheckpoints: backgroundCheckpoints, readReplica: readReplica, pageCacheMiB: pageCacheMiB)
        } catch let e as StoreError {
            throw CLIFailure(e.description)
        } catch {
            throw CLIFailure("cannot open the database \(location): \(error)")
        }
    }

    /// The zone the CLI shows times in: the workspace's `workspace.timezone` (UTC until one is
    /// set), named beside every time.
    func displayZone() async throws -> TimeZone {
        let text = try await openPortable().setting(WorkspaceSettingKey.timeZone.rawValue)
        return WorkspaceSettings(stored: text.map { [WorkspaceSettingKey.timeZone.rawValue: $0] } ?? [:]).timeZone
    }

    /// Whether a location is a URL rather than a file path.
    static func looksLikeURL(_ location: String) -> Bool {
        guard let r = location.range(of: "://") else { return false }
        return !location[..<r.lowerBound].isEmpty && location[..<r.lowerBound].allSatisfy { $0.isLetter || $0 == "+" }
    }

    static func unknownScheme(_ location: String) -> String {
        "the database \(location.prefix { $0 != ":" })://… is not one smarketing knows; give a SQLite file path or a postgres://user@host:5432/db URL"
    }
}

/// Progress output: a bar on a terminal, plain lines otherwise.
final class ProgressReporter: @unchecked Sendable {
    let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastLine = Date.distantPast
    private let lock = NSLock()
    let quiet: Bool

    init(quiet: Bool = false) { self.quiet = quiet }

    func update(_ label: String, _ count: Int, fraction: Double? = nil) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        if isTerminal {
            guard now.timeIntervalSince(lastLine) > 0.1 else { return }
            lastLine = now
            var line = "\r\u{1B}[K\(label) \(count)"
            if let fraction {
                let filled = Int(min(1, max(0, fraction)) * 30)
                line =
                    "\r\u{1B}[K\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
                    + "] \(Int(fraction * 100))%  \(count) rows"
            }
            FileHandle.standardError.write(Data(line.utf8))
        } else {
            guard now.timeIntervalSince(lastLine) > 2 else { return }
            lastLine = now
            let percent = fraction.map { " (\(Int($0 * 100))%)" } ?? ""
            FileHandle.standardError.write(Data("\(label) \(count)\(percent)\n".utf8))
        }
    }

    func finish() {
        guard !quiet, isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Field names as the API writes them (snake_case).
    encoder.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Peak resident set size of this process (Linux `VmHWM`), in bytes.
func peakRSSBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}
