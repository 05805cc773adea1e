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

    static func contact(_ text: String) -> ContactKPIFacts? {
        let f = text.split(separator: sep, omittingEmptySubsequences: false)
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
        let f = text.split(separator: sep, omittingEmptySubsequences: false)
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
        let f = text.split(separator: sep, omittingEmptySubsequences: false)
        guard f.count == 5, let day = Int64(f[0]) else { return nil }
        return CostKPIFacts(day: day, category: String(f[1]), amountCents: Int64(f[2]) ?? 0, campaign: s(f[3]), channel: s(f[4]))
    }
}
