import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing backup create|restore`: consistent online backups of the workspace.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back the workspace up while the server runs, and restore a backup.",
        subcommands: [Create.self, Restore.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An online backup: SQLite's backup API (one consistent moment while writers go on, integrity-checked); on PostgreSQL, pg_dump's custom format."
        )
        @Argument(help: "The backup file to write (must not exist).") var file: String
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            if WorkspaceStores.isPostgres(workspace.databasePath) {
                let r = try PostgresBackup.dump(url: workspace.databasePath, to: file)
                if workspace.json { return try printJSON(r) }
                return print("backed up to \(file): \(r.bytes) bytes in \(String(format: "%.1f", r.seconds)) s (pg_dump custom format; `smarketing backup restore` or pg_restore reads it)")
            }
            guard let store = try await workspace.openPortable() as? SQLiteStore else { throw CLIFailure("the workspace is not an SQLite file") }
            let r = try await storeCall {
                try await store.backup(to: file) { done, total in
                    if total > 0, done % 65_536 == 0 || done == total {
                        FileHandle.standardError.write(Data("backup: \(done) of \(total) pages\n".utf8))
                    }
                }
            }
            if workspace.json { return try printJSON(r) }
            print("backed up to \(file): \(r.pages) pages, \(r.bytes) bytes in \(String(format: "%.2f", r.seconds)) s; integrity \(r.integrity)")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into the workspace (stop the server first): checked, then swapped in whole."
        )
        @Argument(help: "The backup file.") var file: String
        @Flag(help: "Replace an existing workspace.") var replace = false
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            if WorkspaceStores.isPostgres(workspace.databasePath) {
                guard replace else { throw CLIFailure("restoring into PostgreSQL replaces the workspace's tables: add --replace (stop the servers first)") }
                let r = try PostgresBackup.restore(url: workspace.databasePath, from: file)
                if workspace.json { return try printJSON(r) }
                return print("restored \(file) into the database in \(String(format: "%.1f", r.seconds)) s; `smarketing kpi verify` checks the figures")
            }
            let r = try storeCallSync { try SQLiteStore.restore(from: file, to: workspace.databasePath, replace: replace) }
            if workspace.json { return try printJSON(r) }
            print("restored \(file) into \(r.file): \(r.pages) pages; integrity \(r.integrity); `smarketing kpi verify` checks the figures")
        }
    }
}

func storeCallSync<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as StoreError {
        throw CLIFailure(e.description)
    }
}

/// pg_dump and pg_restore for a PostgreSQL workspace (the tools PostgreSQL ships; no library
/// dumps a database as they do).
enum PostgresBackup {
    struct Result: Encodable {
        var file: String
        var bytes: Int64
        var seconds: Double
    }

    /// The tool on PATH, else in Debian's /usr/lib/postgresql/<version>/bin.
    static func tool(_ name: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(name)" }
        let debian = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin/\(name)" }
        guard let found = (path + debian).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw CLIFailure("\(name) is not installed (Debian: apt install postgresql-client); it backs up and restores PostgreSQL workspaces")
        }
        return found
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func dump(url: String, to file: String) throws -> Result {
        guard !FileManager.default.fileExists(atPath: file) else { throw CLIFailure("\(file) exists; a backup never overwrites a file (choose a new name)") }
        let started = Date()
        let partial = file + ".partial"
        let (status, err) = try run(try tool("pg_dump"), ["--format=custom", "--no-owner", "--file=" + partial, "--dbname=" + url])
        guard status == 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw CLIFailure("pg_dump failed: " + (err.split(separator: "\n").first.map(String.init) ?? "exit \(status)"))
        }
        // A dump pg_restore cannot list is not a backup.
        let (listed, listErr) = try run(try tool("pg_restore"), ["--list", partial])
        guard listed == 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw CLIFailure("the dump does not read back: " + (listErr.split(separator: "\n").first.map(String.init) ?? ""))
        }
        try FileManager.default.moveItem(atPath: partial, toPath: file)
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int64) ?? 0
        return Result(file: file, bytes: bytes, seconds: Date().timeIntervalSince(started))
    }

    static func restore(url: String, from file: String) throws -> Result {
        guard FileManager.default.fileExists(atPath: file) else { throw CLIFailure("there is no backup file \(file)") }
        let started = Date()
        let (listed, _) = try run(try tool("pg_restore"), ["--list", file])
        guard listed == 0 else { throw CLIFailure("\(file) is not a pg_dump custom-format backup") }
        // pg_restore --clean cannot drop the partitioned touchpoints' inherited constraints, so
        // the dump becomes one SQL script that psql runs in a single transaction after emptying
        // the schema: the database is the old workspace or the whole backup, never between.
        let script = file + ".restore.sql"
        defer { try? FileManager.default.removeItem(atPath: script) }
        let (made, madeErr) = try run(try tool("pg_restore"), ["--no-owner", "--file=" + script, file])
        guard made == 0 else { throw CLIFailure("pg_restore could not read \(file): " + (madeErr.split(separator: "\n").first.map(String.init) ?? "exit \(made)")) }
        let (status, err) = try run(
            try tool("psql"),
            [
                "--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1", "--dbname=" + url,
                "--command", "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;", "--file", script,
            ]
        )
        guard status == 0 else { throw CLIFailure("the restore failed (nothing was changed): " + (err.split(separator: "\n").first.map(String.init) ?? "exit \(status)")) }
        return Result(file: file, bytes: ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int64) ?? 0, seconds: Date().timeIntervalSince(started))
    }
}
