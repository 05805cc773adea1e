import Foundation
import Testing

@testable import SmarketingConnectors
@testable import SmarketingCore

@Suite("CSV reading and writing")
struct CSVReaderTests {
    func records(_ text: String) throws -> [(Int, [String])] {
        try records(Array(text.utf8))
    }

    func records(_ bytes: [UInt8]) throws -> [(Int, [String])] {
        let r = CSVReader(bytes: bytes)
        var out: [(Int, [String])] = []
        while let rec = try r.next() { out.append((rec.line, rec.fields)) }
        return out
    }

    @Test("quoted commas, line breaks and quotes; CRLF; BOM; no final newline")
    func rfc4180() throws {
        let text = "\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"two\nlines\",z\n\n3,,last"
        let rows = try records(text)
        #expect(rows.map(\.1) == [["a", "b", "c"], ["1", "x, y", "say \"hi\""], ["2", "two\nlines", "z"], ["3", "", "last"]])
        #expect(rows.map(\.0) == [1, 2, 3, 6])
    }

    @Test(
        "errors name line and column",
        arguments: [
            ("a,b\n1,\"open\n", 2, "not closed"),
            ("a,b\n1,x\"y\n", 2, "quote inside an unquoted field"),
            ("a,b\n1,\"x\"y\n", 2, "after a closing quote"),
        ]
    )
    func syntaxErrors(text: String, line: Int, message: String) {
        do {
            _ = try records(text)
            Issue.record("no error for \(text)")
        } catch let e as CSVReader.SyntaxError {
            #expect(e.line == line)
            #expect(e.message.contains(message), "\(e.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("Latin-1 bytes are reported as not UTF-8 with line and column")
    func latin1() {
        let bytes: [UInt8] = Array("id,name\n1,ok\n2,M".utf8) + [0xFC] + Array("ller\n".utf8)
        do {
            _ = try records(bytes)
            Issue.record("accepted Latin-1")
        } catch let e as CSVReader.SyntaxError {
            #expect(e.line == 3)
            #expect(e.column == 2)
            #expect(e.message.contains("UTF-8"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test("records across read-chunk boundaries come out whole")
    func chunkBoundaries() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/t.csv"
        let w = try CSVWriter(path: path)
        var expected: [[String]] = []
        for i in 0..<500 {
            let row = ["id-\(i)", i % 7 == 0 ? "multi\nline, \"quoted\"" : "plain \(i)", String(repeating: "é", count: i % 13)]
            w.write(row)
            expected.append(row)
        }
        try w.close()
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let r = try CSVReader(path: path, chunkSize: chunk)
            var got: [[String]] = []
            while let rec = try r.next() { got.append(rec.fields) }
            #expect(got == expected, "chunk \(chunk)")
        }
    }
}

@Suite("Bundle files")
struct BundleFileTests {
    func bundle(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bundle-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return dir
    }

    @Test("a missing required column stops the file; unknown columns warn")
    func header() throws {
        let dir = try bundle(["contacts.csv": "id,created_at\n1,2024-01-01T00:00:00Z\n", "campaigns.csv": "id,name,channel,colour\nc,n,email,red\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: BundleProblem.self) { _ = try BundleFileReader(directory: dir, resource: .contacts) }
        do {
            _ = try BundleFileReader(directory: dir, resource: .contacts)
        } catch {
            #expect(error.message.contains("\"email\" is missing"))
        }
        let campaigns = try BundleFileReader(directory: dir, resource: .campaigns)
        #expect(campaigns.warnings == ["campaigns.csv: unknown column \"colour\" is ignored"])
        #expect(campaigns.nextChunk(limit: 10).first?.problems.isEmpty == true)
    }

    @Test("bad cells are reported with line, column and name")
    func cells() throws {
        let dir = try bundle([
            "contacts.csv":
                "id,email,created_at,lifecycle_stage\nc1,a@b.de,2024-01-01T00:00:00Z,lead\nc2,nope,2024-01-01T00:00:00,vip\nc3,,2024-01-01T00:00:00Z,lead\nc4,x@y.de\n"
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rows = try BundleFileReader(directory: dir, resource: .contacts).nextChunk(limit: 100)
        #expect(rows.count == 4)
        #expect(rows[0].problems.isEmpty)
        #expect(
            rows[1].problems.map(\.description) == [
                "contacts.csv:3:2 (email): value \"nope\" is not an email address",
                "contacts.csv:3:3 (created_at): value \"2024-01-01T00:00:00\" has no UTC offset (add Z or e.g. +01:00)",
                "contacts.csv:3:4 (lifecycle_stage): value \"vip\" is not one of subscriber, lead, mql, sal, sql, opportunity, customer, recycled, disqualified",
            ]
        )
        #expect(rows[2].problems.map(\.description) == ["contacts.csv:4:2 (email): is required but empty"])
        #expect(rows[3].problems.first?.message.contains("has 2 cells, the header has 4") == true)
    }
}
