import Foundation
import Testing

@testable import SmarketingConnectors
@testable import SmarketingCore

@Suite("Demo workspace")
struct DemoTests {
    static func write(_ leads: Int, seed: UInt64) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID())").path
        _ = try DemoWorkspace(leads: leads, seed: seed).write(to: dir)
        return dir
    }

    @Test("the same seed writes the same bundle; another seed another")
    func reproducible() throws {
        let a = try Self.write(2000, seed: 5)
        let b = try Self.write(2000, seed: 5)
        let c = try Self.write(2000, seed: 6)
        defer { for d in [a, b, c] { try? FileManager.default.removeItem(atPath: d) } }
        for r in Resource.allCases {
            let x = try Data(contentsOf: URL(fileURLWithPath: a + "/" + r.fileName))
            #expect(x == (try Data(contentsOf: URL(fileURLWithPath: b + "/" + r.fileName))), "\(r)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: a + "/touchpoints.csv")) != Data(contentsOf: URL(fileURLWithPath: c + "/touchpoints.csv")))
    }

    @Test("targets run from the history's first month through the quarter after the one it ends in")
    func targetsCoverNextQuarter() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var demo = DemoWorkspace(leads: 300, seed: 2)
        demo.start = LocalDate(year: 2024, month: 12, day: 5)  // as `serve --demo` on 2026-12-06
        _ = try demo.write(to: dir)
        let text = try String(contentsOfFile: dir + "/targets.csv", encoding: .utf8)
        let months = Set(text.split(separator: "\n").dropFirst().map { String($0.prefix(7)) })
        #expect(months.min() == "2024-12" && months.max() == "2027-03", "\(months.sorted())")
        #expect(months.count == 28)
        for m in ["2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03"] { #expect(months.contains(m), "\(m)") }
    }

    @Test("every file parses cleanly and the funnel looks real")
    func realistic() throws {
        let dir = try Self.write(20_000, seed: 1)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rows: [Resource: [ParsedRow]] = [:]
        for reader in try Bundle.open(dir) {
            var all: [ParsedRow] = []
            while case let chunk = reader.nextChunk(limit: 50_000), !chunk.isEmpty { all += chunk }
            for row in all where !row.problems.isEmpty { Issue.record("\(row.problems)") }
            rows[reader.resource] = all
        }
        #expect(rows.count == Resource.allCases.count)
        let contacts = rows[.contacts]!
        let s = Resource.contacts.schema
        let leads = contacts.filter { !$0.values[s.index["became_lead_at"]!].isNull }.count
        let opps = contacts.filter { !$0.values[s.index["became_opportunity_at"]!].isNull }.count
        let leadToOpp = Double(opps) / Double(leads)
        #expect(leadToOpp > 0.05 && leadToOpp < 0.15, "lead→opportunity \(leadToOpp)")
        let o = Resource.opportunities.schema
        let closed = rows[.opportunities]!.filter { !$0.values[o.index["is_won"]!].isNull }
        let won = closed.filter { $0.values[o.index["is_won"]!] == .bool(true) }.count
        let winRate = Double(won) / Double(closed.count)
        #expect(winRate > 0.2 && winRate < 0.3, "win rate \(winRate)")
        let tps = rows[.touchpoints]!.count
        #expect(Double(tps) / Double(contacts.count) > 7 && Double(tps) / Double(contacts.count) < 13)
        // Weekday rhythm: far more leads on a weekday than on a weekend day.
        var weekday = 0
        var weekend = 0
        for c in contacts {
            guard case .timestamp(let t) = c.values[s.index["created_at"]!] else { continue }
            if t.utcDate.weekday >= 5 { weekend += 1 } else { weekday += 1 }
        }
        #expect(Double(weekday) / 5 > 2.5 * Double(weekend) / 2)
        // Lost deals carry a reason; multi-contact deals exist; duplicates exist.
        #expect(closed.filter { $0.values[o.index["is_won"]!] == .bool(false) }.allSatisfy { !$0.values[o.index["lost_reason"]!].isNull })
        #expect(rows[.opportunityContacts]!.count > rows[.opportunities]!.count)
        #expect(contacts.contains { $0.values[0].text?.hasSuffix("-dup") == true })
        #expect(rows[.costs]!.contains { $0.values[1] == .text("sales") })
    }
}
