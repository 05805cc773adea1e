import Foundation
import SmarketingCore
import Testing
import ThrowawayPostgres

@testable import SmarketingStore

/// The stored facts' one-field reading (the prefilter of the conversion killers) against the full
/// decode, and its PostgreSQL form against the Swift one.
@Suite("KPI facts: reading one stage's instant")
struct KPIFactsCodecTests {
    static func stored(_ f: ContactKPIFacts) -> String { KPIFactsCodec.encode(f) }

    /// Facts with every stage instant set, none, a subscriber without became_lead_at, and
    /// negative and extreme instants.
    static let facts: [ContactKPIFacts] = {
        let cuts = KPICuts([.channel: "email", .campaign: "cmp-1", .persona: nil, .segment: "smb", .owner: "u1", .team: "t"])
        var all = ContactKPIFacts(createdAt: Timestamp(milliseconds: 1_000), stage: "customer", cuts: cuts)
        all.becameLeadAt = Timestamp(milliseconds: 2_000)
        all.mqlAt = Timestamp(milliseconds: 3_000)
        all.salAt = Timestamp(milliseconds: 4_000)
        all.sqlAt = Timestamp(milliseconds: 5_000)
        all.opportunityAt = Timestamp(milliseconds: 6_000)
        all.customerAt = Timestamp(milliseconds: 7_000)
        all.exitReason = "ünïcode reason"
        var createdOnly = ContactKPIFacts(createdAt: Timestamp(milliseconds: -86_400_000), stage: "lead", cuts: cuts)
        createdOnly.mqlAt = Timestamp(milliseconds: Int64.max)
        let subscriber = ContactKPIFacts(createdAt: Timestamp(milliseconds: 42), stage: "subscriber", cuts: cuts)
        var negative = ContactKPIFacts(createdAt: Timestamp(milliseconds: 0), stage: "sal", cuts: cuts)
        negative.salAt = Timestamp(milliseconds: Int64.min + 1)
        negative.mqlAt = Timestamp(milliseconds: -999_999_999_999_999_999)
        negative.sqlAt = Timestamp(milliseconds: 999_999_999_999_999_999)
        return [all, createdOnly, subscriber, negative]
    }()

    static let stages = FunnelStage.allCases

    /// What the prefilter must give: the decoded facts' instant for the stage (lead: the stored
    /// became_lead_at, else created_at — the subscriber case is decided by the full decode);
    /// beyond 18 digits absent (no period holds it).
    static func expected(_ f: ContactKPIFacts, _ stage: FunnelStage) -> Int64? {
        inRange(instant(f, stage))
    }

    static func inRange(_ x: Int64?) -> Int64? { x.flatMap { $0.magnitude < 1_000_000_000_000_000_000 ? $0 : nil } }

    static func instant(_ f: ContactKPIFacts, _ stage: FunnelStage) -> Int64? {
        switch stage {
        case .lead: (f.becameLeadAt ?? f.createdAt).milliseconds
        case .mql: f.mqlAt?.milliseconds
        case .sal: f.salAt?.milliseconds
        case .sql: f.sqlAt?.milliseconds
        case .opportunity: f.opportunityAt?.milliseconds
        case .customer: f.customerAt?.milliseconds
        }
    }

    static func instant(_ text: String, _ stage: FunnelStage) -> Int64? {
        Array(text.utf8).withUnsafeBytes { KPIFactsCodec.stageInstant($0, stage: stage) }
    }

    @Test("the one-field reading equals the full decode for every stage")
    func swiftReading() throws {
        for f in Self.facts {
            let text = Self.stored(f)
            #expect(KPIFactsCodec.contact(text) == f)
            for stage in Self.stages {
                #expect(Self.instant(text, stage) == Self.expected(f, stage), "\(stage) of \(text)")
            }
        }
    }

    @Test("damaged stored text reads as absent, never traps")
    func damaged() {
        let sep = "\u{1F}"
        for text in ["", sep, "x\(sep)y\(sep)z\(sep)w", "1\(sep)\(sep)\(sep)-", "1\(sep)\(sep)\(sep)99999999999999999999", "1\(sep)\(sep)\(sep)12a"] {
            #expect(Self.instant(text, .mql) == nil, "\(text)")
        }
        // A damaged became_lead_at falls back to created_at, like the decode's leadAt.
        #expect(Self.instant("5\(sep)lead\(sep)bad", .lead) == 5)
        #expect(KPIFactsCodec.integer(UnsafeRawBufferPointer(start: nil, count: 0), field: 0) == nil)
    }

    @Test("PostgreSQL's reading of the stored text equals Swift's")
    func postgresReading() async throws {
        let loc = try #require(PostgresStore.Location(url: try await ThrowawayPostgres.newDatabase()))
        let store = try await PostgresStore(location: loc)
        defer { store.close() }
        let sep = "\u{1F}"
        let texts = Self.facts.map(Self.stored) + ["", "x\(sep)y\(sep)z\(sep)w", "1\(sep)\(sep)\(sep)99999999999999999999", "5\(sep)lead\(sep)bad"]
        for stage in Self.stages {
            let got = try await store.read { c in
                try await c.rows(
                    "SELECT \(KPIFactsCodec.stageInstantSQL(stage)) FROM unnest(?::text[]) WITH ORDINALITY AS v(facts, i) ORDER BY i",
                    [.textArray(texts)]
                ).map { $0.int(0) }
            }
            #expect(got == texts.map { Self.instant($0, stage) }, "\(stage)")
        }
    }
}
