import Foundation
import GRDB
import SmarketingCore

/// Bulk fixtures for the benchmarks (`smarketing bench sla|webhooks`): rows written straight
/// into the tables the product reads, in one transaction, so that a million open clocks take
/// seconds to set up instead of a million routed MQLs. Nothing else calls these.
extension SQLiteStore {
    /// Writes `count` open handovers, each with one running accept clock, due evenly spread over
    /// `[dueFrom, dueFrom + spreadMs)`.
    public func benchSeedOpenClocks(count: Int, dueFrom: Timestamp, spreadMs: Int64, at now: Timestamp) async throws {
        try await writeRefreshingKPIs { db in
            let template = SLAClock.start(.accept, at: now, budget: 3_600_000, calendar: nil)!
            let handover = try db.makeStatement(
                sql: """
                    INSERT INTO handovers (contact_id, status, owner_id, rule, routing, config_version, created_at, assigned_at)
                    VALUES (?, 'assigned', 'bench-rep', 'bench', '{}', 0, ?, ?)
                    """
            )
            let clock = try db.makeStatement(
                sql:
                    "INSERT INTO sla_clocks (handover_id, kind, owner_id, status, due_at, next_at, state) VALUES (?, 'accept', 'bench-rep', 'running', ?, ?, ?)"
            )
            let encoder = JSONEncoder()
            for i in 0..<count {
                try handover.execute(arguments: ["bench-contact-\(i)", now.milliseconds, now.milliseconds])
                var c = template
                c.dueAt = dueFrom.adding(milliseconds: spreadMs * Int64(i) / Int64(max(count, 1)))
                let state = String(decoding: try encoder.encode(c), as: UTF8.self)
                try clock.execute(arguments: [db.lastInsertedRowID, c.dueAt.milliseconds, c.dueAt.milliseconds, state])
            }
        }
    }

    /// Writes `count` outbox events with a pending delivery each for one subscription.
    public func benchSeedDeliveries(subscriptionID: String, count: Int, at now: Timestamp) async throws {
        try await writeRefreshingKPIs { db in
            let event = try db.makeStatement(sql: "INSERT INTO outbox (type, at, subject, payload) VALUES ('stage.changed', ?, ?, ?)")
            let delivery = try db.makeStatement(
                sql: "INSERT INTO webhook_deliveries (subscription_id, outbox_seq, status, next_attempt_at) VALUES (?, ?, 'pending', ?)"
            )
            for i in 0..<count {
                try event.execute(arguments: [now.milliseconds, "bench-\(i % 1000)", "{\"contact_id\":\"bench-\(i % 1000)\",\"from\":\"lead\",\"to\":\"mql\"}"])
                try delivery.execute(arguments: [subscriptionID, db.lastInsertedRowID, now.milliseconds])
            }
        }
    }

    /// How the due-clock query is executed (SQLite's plan), to show it uses the index.
    public func dueClockPlan() async throws -> String {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "EXPLAIN QUERY PLAN SELECT id, handover_id, owner_id, state FROM sla_clocks WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, id LIMIT ?",
                arguments: [0, 500]
            ).map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
        }
    }
}
