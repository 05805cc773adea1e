import Foundation
import GRDB
import SmarketingCore

/// The stored form of KPI facts: fields separated by U+001F (never in ids or names we accept
/// here; a value containing it would only make the stored facts differ, which forces a refresh).
enum KPIFactsCodec {
    static let sep: Character = "\u{1F}"

    static func t(_ x: Timestamp?) -> String { x.map { String($0.milliseconds) } ?? "" }
    static func i(_ x: Int64?) -> String { x.map { String($0) } ?? "" }
    static func ts(_ s: Substring) -> Timestamp? { Int64(s).map(Timestamp.init(milliseconds:)) }
    static func s(_ x: Substring) -> String? { x.isEmpty ? nil : String(x) }
    static let cutOrder: [KPIDimension] = [.channel, .campaign, .persona, .segment, .owner, .team]

    static func cuts(_ c: KPICuts) -> [String] { cutOrder.map { c[$0] } }
    static func cuts(_ f: ArraySlice<Substring>) -> KPICuts {
        var v: [KPIDimension: String?] = [:]
        for (d, x) in zip(cutOrder, f) { v[d] = String(x) }
        return KPICuts(v)
    }

    static func encode(_ c: ContactKPIFacts) -> String {
        ([
            t(c.createdAt), c.stage ?? "", t(c.becameLeadAt), t(c.mqlAt), t(c.salAt), t(c.opportunityAt), t(c.assignedAt), t(c.respondedAt),
            i(c.responseBusinessMs),
        ]
            + cuts(c.cuts) + [t(c.sqlAt), t(c.customerAt), t(c.exitAt), c.exitReason ?? "", t(c.lastSalesAt)]).joined(separator: String(sep))
    }

    /// The fields of a stored text, split on its UTF-8 bytes (U+001F is one byte; splitting on
    /// Characters would walk grapheme clusters, the larger part of a decode).
    static func fields(_ text: String) -> [Substring] {
        text.utf8.split(separator: 0x1F, omittingEmptySubsequences: false).map { Substring($0) }
    }

    static func contact(_ text: String) -> ContactKPIFacts? {
        let f = fields(text)
        guard f.count == 20, let created = ts(f[0]) else { return nil }
        return ContactKPIFacts(
            createdAt: created,
            stage: s(f[1]),
            becameLeadAt: ts(f[2]),
            mqlAt: ts(f[3]),
            salAt: ts(f[4]),
            opportunityAt: ts(f[5]),
            assignedAt: ts(f[6]),
            respondedAt: ts(f[7]),
            responseBusinessMs: Int64(f[8]),
            cuts: cuts(f[9..<15]),
            sqlAt: ts(f[15]),
            customerAt: ts(f[16]),
            exitAt: ts(f[17]),
            exitReason: s(f[18]),
            lastSalesAt: ts(f[19])
        )
    }

    /// The stored field of the instant a contact entered `stage` (0-based, as `encode` writes
    /// it); for `lead` the second is the fallback (`leadAt`: became_lead_at, else created_at).
    static func stageFields(_ stage: FunnelStage) -> (field: Int, fallback: Int?) {
        switch stage {
        case .lead: (2, 0)
        case .mql: (3, nil)
        case .sal: (4, nil)
        case .sql: (15, nil)
        case .opportunity: (5, nil)
        case .customer: (16, nil)
        }
    }

    /// The instant in the stored contact facts' field for `stage`, read from the bytes without
    /// decoding the rest: a prefilter for reads that want one stage's cohort out of every
    /// contact (a contact whose instant is missing or outside the period cannot be in it; the
    /// full decode and `KPIRules` decide on the rest). nil when absent or not a number.
    static func stageInstant(_ bytes: UnsafeRawBufferPointer, stage: FunnelStage) -> Int64? {
        let (field, fallback) = stageFields(stage)
        if let x = integer(bytes, field: field) { return x }
        return fallback.flatMap { integer(bytes, field: $0) }
    }

    /// `stageInstant` as a PostgreSQL expression over the `facts` column (NULL where the Swift
    /// reading gives nil), so that the server sends only the step's candidates.
    static func stageInstantSQL(_ stage: FunnelStage) -> String {
        func field(_ i: Int) -> String { "split_part(facts, chr(31), \(i + 1))" }
        let (f, fallback) = stageFields(stage)
        let cases = ([f] + (fallback.map { [$0] } ?? [])).map { "WHEN \(field($0)) ~ '^-?[0-9]{1,18}$' THEN \(field($0))::bigint" }
        return "(CASE " + cases.joined(separator: " ") + " END)"
    }

    /// The decimal integer in field `field` (fields separated by U+001F); nil when empty, not a
    /// number or longer than 18 digits (±31 million years in ms: no period can hold it, and the
    /// PostgreSQL form can cast every value it accepts).
    static func integer(_ bytes: UnsafeRawBufferPointer, field: Int) -> Int64? {
        var i = 0
        var seen = 0
        while seen < field {
            guard i < bytes.count else { return nil }
            if bytes[i] == 0x1F { seen += 1 }
            i += 1
        }
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var value: Int64 = 0
        var digits = 0
        while i < bytes.count, bytes[i] != 0x1F {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10, digits < 18 else { return nil }
            value = value * 10 + Int64(d)  // at most 18 digits: below Int64.max
            digits += 1
            i += 1
        }
        guard digits > 0 else { return nil }
        return negative ? -value : value
    }

    static func encode(_ d: DealKPIFacts) -> String {
        let won = d.isWon.map { $0 ? "1" : "0" } ?? ""
        return
            ([
                t(d.createdAt), t(d.closedAt), won, String(d.amountCents), i(d.expectedCloseDay), String(d.probabilityPercent), d.lostReason ?? "",
                t(d.firstMarketingTouchAt),
            ]
            + cuts(d.cuts)).joined(separator: String(sep))
    }

    static func deal(_ text: String) -> DealKPIFacts? {
        let f = fields(text)
        guard f.count == 14, let created = ts(f[0]) else { return nil }
        return DealKPIFacts(
            createdAt: created,
            closedAt: ts(f[1]),
            isWon: f[2].isEmpty ? nil : f[2] == "1",
            amountCents: Int64(f[3]) ?? 0,
            expectedCloseDay: Int64(f[4]),
            probabilityPercent: Int64(f[5]) ?? 0,
            lostReason: s(f[6]),
            firstMarketingTouchAt: ts(f[7]),
            cuts: cuts(f[8...])
        )
    }

    static func encode(_ c: CostKPIFacts) -> String {
        [String(c.day), c.category, String(c.amountCents), c.campaign ?? "", c.channel ?? ""].joined(separator: String(sep))
    }

    static func cost(_ text: String) -> CostKPIFacts? {
        let f = fields(text)
        guard f.count == 5, let day = Int64(f[0]) else { return nil }
        return CostKPIFacts(day: day, category: String(f[1]), amountCents: Int64(f[2]) ?? 0, campaign: s(f[3]), channel: s(f[4]))
    }
}
