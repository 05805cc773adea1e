import Foundation
import SmarketingCore
import SmarketingStore

/// What a retention pass found and did.
/// Every key is written, `cutoff` as null when retention is off (names in snake_case by the encoder).
public struct RetentionReport: Sendable, ExplicitNullEncodable, Equatable {
    public struct Candidate: Sendable, Encodable, Equatable {
        public var contactID: String
        public var lastActivity: Timestamp
        enum CodingKeys: String, CodingKey {
            case contactID = "contact_id"
            case lastActivity = "last_activity"
        }
    }
    public var months: Int
    /// Contacts whose last activity is before this are due (nil: retention is off).
    public var cutoff: Timestamp?
    public var dryRun: Bool
    /// How many are due (all of them on a dry run; those the pass reached otherwise).
    public var due: Int
    public var anonymised: Int
    /// The first due contacts, oldest activity first within the page order (at most 50).
    public var sample: [Candidate]
    /// Vendor erasures that need a hand (failed or not offered by the vendor's API).
    public var vendorsLeft: [VendorErasure]
}

/// Retention as the server runs it daily and `smarketing retention` runs it by hand: every
/// contact without activity since the cutoff is anonymised through the erasure (its figures
/// stay), at most `limit` a pass.
public enum RetentionRun {
    public static func run(
        _ store: any FunnelStore,
        months override: Int? = nil,
        now: Timestamp,
        dryRun: Bool,
        limit: Int = 100_000,
        actor: Actor,
        connections: ConnectionService?,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> RetentionReport {
        let months: Int
        if let override { months = override } else { months = try await store.workspaceSettings().settings.retentionMonths }
        var report = RetentionReport(months: months, cutoff: nil, dryRun: dryRun, due: 0, anonymised: 0, sample: [], vendorsLeft: [])
        guard let cutoff = Retention.cutoff(now: now, months: months) else { return report }
        report.cutoff = cutoff
        let reason = Retention.reason(months: months, cutoff: cutoff)
        var after: String?
        while report.due < limit {
            let page = try await store.retentionCandidates(before: cutoff, after: after, limit: min(500, limit - report.due))
            guard let last = page.last else { break }
            after = last.contactID
            report.due += page.count
            for c in page where report.sample.count < 50 { report.sample.append(.init(contactID: c.contactID, lastActivity: c.lastActivity)) }
            guard !dryRun else { continue }
            for c in page {
                do {
                    let outcome = try await PersonPrivacy.erase(store, contactID: c.contactID, reason: reason, actor: actor, at: now, connections: connections)
                    report.anonymised += 1
                    report.vendorsLeft += outcome.vendors.filter { $0.outcome == .failed || $0.outcome == .manual }
                } catch StoreError.notFound, StoreError.conflict {
                    // Merged away or erased meanwhile: nothing left to do for it.
                }
                progress?(report.anonymised, report.due)
            }
        }
        return report
    }
}
