import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

/// A corpus of hostile bundle files, hand-written and generated: each import fails with every
/// problem at its file, line and column, and writes nothing; formula cells survive a round trip
/// and leave the export neutralised.
@Suite("Store conformance: hostile bundles")
struct BundleHostileTests {
    static let header = "id,email,created_at,first_name,title,phone"

    /// Writes `files` (name → bytes) into a new bundle folder beside a valid campaigns.csv.
    static func bundle(_ files: [String: [UInt8]]) throws -> String {
        let dir = BundleConformanceTests.tempDir("hostile")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "id,name,channel\ncmp1,Spring,email\n".write(toFile: dir + "/campaigns.csv", atomically: true, encoding: .utf8)
        var files = files
        if files["contacts.csv"] == nil { files["contacts.csv"] = text(header + "\nc1,a@b.example,2026-01-01T00:00:00Z,,,\n") }
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        return dir
    }

    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }

    static var corpus: [(name: String, files: [String: [UInt8]], expect: String)] {
        let megabyte = String(repeating: "x", count: 1 << 20)
        var latin1 = text(header + "\nc1,m")
        latin1 += [0xFC, 0x6C, 0x6C, 0x65, 0x72]
        latin1 += text("@b.example,2026-01-01T00:00:00Z,,,\n")
        var utf16: [UInt8] = [0xFF, 0xFE]
        for u in (header + "\nc1,a@b.example,2026-01-01T00:00:00Z,,,\n").utf16 { utf16 += [UInt8(u & 0xFF), UInt8(u >> 8)] }
        var rng = SeededRandom(seed: 99)
        let garbage = (0..<4_096).map { _ in UInt8(rng.int(0...255)) }
        let deepJSON = "\"" + String(repeating: "[", count: 10_000) + "\""
        return [
            ("truncated quote", ["contacts.csv": text(header + "\nc1,\"a@b.example,2026-01-01T00:00:00Z,,,\n")], "contacts.csv:2:"),
            ("truncated row", ["contacts.csv": text(header + "\nc1,a@b.example,2026-01-01T00:00:00Z")], "contacts.csv:2:"),
            ("latin-1 bytes", ["contacts.csv": latin1], "contacts.csv:2:2"),
            ("utf-16 file", ["contacts.csv": utf16], "contacts.csv:1:"),
            ("random bytes", ["contacts.csv": garbage], "contacts.csv:"),
            ("1 MB cell", ["contacts.csv": text(header + "\nc1,a@b.example,2026-01-01T00:00:00Z,,\(megabyte),\n")], "contacts.csv:2:5 (title): value"),
            ("empty id", ["contacts.csv": text(header + "\n,a@b.example,2026-01-01T00:00:00Z,,,\n")], "contacts.csv:2:1 (id)"),
            ("year 1", ["contacts.csv": text(header + "\nc1,a@b.example,0001-01-01T00:00:00Z,,,\n")], "contacts.csv:2:3 (created_at)"),
            ("year 2200", ["contacts.csv": text(header + "\nc1,a@b.example,2200-01-01T00:00:00Z,,,\n")], "outside the years 1900–2199"),
            ("30 February", ["contacts.csv": text(header + "\nc1,a@b.example,2026-02-30T00:00:00Z,,,\n")], "contacts.csv:2:3 (created_at)"),
            ("amount 1e308", ["costs.csv": text("date,category,amount\n2026-01-01,marketing,1e308\n")], "costs.csv:2:3 (amount)"),
            ("amount too large", ["costs.csv": text("date,category,amount\n2026-01-01,marketing,1000000000000000\n")], "outside the allowed range"),
            ("negative amount", ["costs.csv": text("date,category,amount\n2026-01-01,marketing,-3\n")], "costs.csv:2:3 (amount)"),
            ("NaN amount", ["costs.csv": text("date,category,amount\n2026-01-01,marketing,NaN\n")], "costs.csv:2:3 (amount)"),
            ("cost in year 9999", ["costs.csv": text("date,category,amount\n9999-01-01,marketing,3\n")], "costs.csv:2:1 (date)"),
            ("huge employees", ["accounts.csv": text("id,name,employees\na1,A,99999999999999999999\n")], "accounts.csv:2:3 (employees)"),
            ("negative capacity", ["users.csv": text("id,email,capacity\nu1,u@b.example,-4\n")], "users.csv:2:3 (capacity)"),
            ("NUL in a cell", ["contacts.csv": text(header + "\nc1,a@b.example,2026-01-01T00:00:00Z,An\u{0}na,,\n")], "contacts.csv:2:4 (first_name)"),
            ("deep JSON", ["touchpoints.csv": text("id,contact_id,occurred_at,type,properties\nt1,c1,2026-01-01T00:00:00Z,x,\(deepJSON)\n")], "touchpoints.csv:2:5 (properties)"),
        ]
    }

    @Test("each hostile file fails with file:line:column and nothing is written", arguments: Backend.allCases)
    func hostileFiles(backend: Backend) async throws {
        for item in Self.corpus {
            let dir = try Self.bundle(item.files)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let sut = try await backend.makeRoles()
            let r: ImportReport
            do {
                r = try await BundleConformanceTests.importDir(sut.store, dir)
            } catch {
                // A file that cannot be read at all is refused before import, in one sentence.
                #expect("\(error)".contains(item.expect.split(separator: ":").first.map(String.init) ?? ""), "\(item.name): \(error)")
                continue
            }
            #expect(!r.committed, "\(item.name) was committed")
            let described = r.problems.map(\.description)
            #expect(described.contains { $0.contains(item.expect) }, "\(item.name): \(described.prefix(3))")
            #expect(described.allSatisfy { $0.count < 600 }, "\(item.name): a problem quotes too much")
            for res in Resource.allCases { #expect(try await sut.store.count(res) == 0, "\(item.name) wrote \(res)") }
        }
    }

    @Test("formula cells are neutralised in the export and come back unchanged on import", arguments: Backend.allCases)
    func formulaCells(backend: Backend) async throws {
        let hostile = "=cmd|' /C calc'!A0"
        let dir = try Self.bundle([
            "contacts.csv": Self.text(
                Self.header + "\nc1,a@b.example,2026-01-01T00:00:00Z,\"\(hostile)\",@SUM(A1),+49 30 1234\nc2,b@b.example,2026-01-01T00:00:00Z,'=already,-5,'x\n"
            )
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sut = try await backend.makeRoles()
        #expect(try await BundleConformanceTests.importDir(sut.store, dir).committed)
        let c1 = try #require(try await sut.store.get(.contacts, id: "c1"))
        #expect(c1["first_name"].text == hostile && c1["title"].text == "@SUM(A1)" && c1["phone"].text == "+49 30 1234")
        let c2 = try #require(try await sut.store.get(.contacts, id: "c2"))
        #expect(c2["first_name"].text == "=already" && c2["title"].text == "-5" && c2["phone"].text == "'x")
        let out = BundleConformanceTests.tempDir("formula-out")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try await Bundle.export(from: sut.store, to: out)
        let exported = try String(contentsOfFile: out + "/contacts.csv", encoding: .utf8)
        #expect(exported.contains(",'=cmd|' /C calc'!A0,,'@SUM(A1),'+49 30 1234,"), "\(exported)")
        #expect(exported.contains(",'=already,,-5,'x,"), "\(exported)")
        for line in exported.split(separator: "\n") {
            for cell in line.split(separator: ",", omittingEmptySubsequences: false) {
                if let first = cell.first { #expect(!"=+@".contains(first), "a formula cell in the export: \(cell)") }
            }
        }
        let again = try await backend.makeRoles()
        #expect(try await BundleConformanceTests.importDir(again.store, out).committed)
        #expect(try await again.store.get(.contacts, id: "c1")?["first_name"].text == hostile)
        #expect(try await again.store.get(.contacts, id: "c2")?["first_name"].text == "=already")
    }
}
