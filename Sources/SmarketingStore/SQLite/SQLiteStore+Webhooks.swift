import Foundation
import GRDB
import SmarketingCore

/// Webhook subscriptions and their deliveries (the outbox's other half).
extension SQLiteStore {
    public func createWebhook(url: String, events: [String], format: String, secret: String, actor: Actor, at: Timestamp) async throws -> WebhookSubscription {
        try await writeRefreshingKPIs { db in
            let id = self.makeID("wh")
            try db.execute(
                sql: "INSERT INTO webhook_subscriptions (id, url, events, secret, format, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
                arguments: [id, url, events.joined(separator: ","), secret, format, at.milliseconds]
            )
            // The secret is never written to the audit log.
            try Self.audit(db, actor, at, "create", "webhooks", id, Self.json(["url": url, "events": events, "format": format]))
            return WebhookSubscription(id: id, url: url, events: events, format: format, active: true, createdAt: at)
        }
    }

    public func webhooks() async throws -> [WebhookSubscription] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, url, events, format, active, created_at FROM webhook_subscriptions ORDER BY created_at, id").map {
                WebhookSubscription(
                    id: $0[0],
                    url: $0[1],
                    events: ($0[2] as String).split(separator: ",").map(String.init),
                    format: $0[3],
                    active: $0[4],
                    createdAt: Timestamp(milliseconds: $0[5])
                )
            }
        }
    }

    public func rewriteWebhookSecrets(_ transform: @escaping @Sendable (String) throws -> String?) async throws -> Int {
        try await writeRefreshingKPIs { db in
            var changed = 0
            for row in try Row.fetchAll(db, sql: "SELECT id, secret FROM webhook_subscriptions ORDER BY id") {
                guard let stored = row[1] as String?, let next = try transform(stored), next != stored else { continue }
                try db.execute(sql: "UPDATE webhook_subscriptions SET secret = ? WHERE id = ?", arguments: [next, row[0] as String])
                changed += 1
            }
            return changed
        }
    }

    /// Stops a subscription: no new deliveries; pending ones are left as they are (replayable).
    public func deactivateWebhook(id: String, actor: Actor, at: Timestamp) async throws {
        try await writeRefreshingKPIs { db in
            try db.execute(sql: "UPDATE webhook_subscriptions SET active = 0 WHERE id = ?", arguments: [id])
            if db.changesCount == 0 { throw StoreError.missing("no webhook subscription \"\(id)\"") }
            try db.execute(
                sql:
                    "UPDATE webhook_deliveries SET status = 'failed', last_error = 'subscription deactivated' WHERE subscription_id = ? AND status = 'pending'",
                arguments: [id]
            )
            try Self.audit(db, actor, at, "deactivate", "webhooks", id, "{}")
        }
    }

    /// Deliveries to send now, in outbox order per subscription. Deliveries about one subject
    /// (contact or deal) keep their order: while an older one waits for a retry, newer ones about
    /// the same subject wait too; other subjects go ahead.
    public func dueDeliveries(now: Timestamp, perSubscription: Int = 200) async throws -> [PendingDelivery] {
        try await pool.read { db in
            var out: [PendingDelivery] = []
            let subs = try Row.fetchAll(db, sql: "SELECT id, url, secret, format FROM webhook_subscriptions WHERE active = 1")
            for sub in subs {
                let rows = try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT d.id, d.next_attempt_at, o.seq, o.type, o.at, o.payload, d.attempts, o.subject,
                              (SELECT status FROM contact_consent cc WHERE cc.contact_id = o.subject) FROM webhook_deliveries d
                            JOIN outbox o ON o.seq = d.outbox_seq
                            WHERE d.subscription_id = ? AND d.status = 'pending' ORDER BY d.id LIMIT ?
                            """
                    ),
                    arguments: [sub[0] as String, perSubscription]
                )
                var waiting: Set<String> = []
                for row in rows {
                    let subject: String = row[7]
                    if waiting.contains(subject) { continue }
                    guard let next = row[1] as Int64?, next <= now.milliseconds else {
                        waiting.insert(subject)
                        continue
                    }
                    out.append(
                        PendingDelivery(
                            id: row[0],
                            subscriptionID: sub[0],
                            url: sub[1],
                            secret: sub[2],
                            format: sub[3],
                            seq: row[2],
                            eventType: row[3],
                            at: Timestamp(milliseconds: row[4]),
                            subject: subject,
                            payload: row[5],
                            attempts: row[6],
                            consent: row[8]
                        )
                    )
                }
            }
            return out
        }
    }

    /// Records attempts: delivered, or retried later with exponential backoff, or failed after
    /// the last attempt.
    public func recordDeliveries(_ attempts: [DeliveryAttempt], at now: Timestamp) async throws {
        guard !attempts.isEmpty else { return }
        try await writeRefreshingKPIs { db in
            for a in attempts {
                if a.ok {
                    try db.cachedStatement(
                        sql:
                            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL, delivered_at = ?, next_attempt_at = NULL WHERE id = ?"
                    ).execute(arguments: [a.status, now.milliseconds, a.id])
                } else {
                    let n = (try Int.fetchOne(db.cachedStatement(sql: "SELECT attempts FROM webhook_deliveries WHERE id = ?"), arguments: [a.id]) ?? 0) + 1
                    let next: Int64?
                    switch DeliveryRetry.afterFailure(attempt: n, now: now) {
                    case .retry(let at): next = at.milliseconds
                    case .failed: next = nil
                    }
                    try db.cachedStatement(
                        sql: "UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?"
                    ).execute(arguments: [next == nil ? "failed" : "pending", n, a.status, a.error, next, a.id])
                }
            }
        }
    }

    public func deliveries(subscriptionID: String?, status: String?, limit: Int) async throws -> [WebhookDelivery] {
        try await pool.read { db in
            var sql = """
                SELECT d.id, d.subscription_id, d.outbox_seq, o.type, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.delivered_at
                FROM webhook_deliveries d JOIN outbox o ON o.seq = d.outbox_seq WHERE 1 = 1
                """
            var args: [(any DatabaseValueConvertible)?] = []
            if let s = subscriptionID {
                sql += " AND d.subscription_id = ?"
                args.append(s)
            }
            if let s = status {
                sql += " AND d.status = ?"
                args.append(s)
            }
            sql += " ORDER BY d.id DESC LIMIT ?"
            args.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map {
                WebhookDelivery(
                    id: $0[0],
                    subscriptionID: $0[1],
                    seq: $0[2],
                    eventType: $0[3],
                    status: $0[4],
                    attempts: $0[5],
                    nextAttemptAt: ($0[6] as Int64?).map { Timestamp(milliseconds: $0) },
                    lastStatus: $0[7],
                    lastError: $0[8],
                    deliveredAt: ($0[9] as Int64?).map { Timestamp(milliseconds: $0) }
                )
            }
        }
    }

    /// Sends deliveries again: one (`deliveryID`), or every delivery of a subscription from an
    /// outbox sequence number on. Returns how many were queued.
    public func replayDeliveries(subscriptionID: String, fromSeq: Int64?, deliveryID: Int64?, actor: Actor, at now: Timestamp) async throws -> Int {
        try await writeRefreshingKPIs { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM webhook_subscriptions WHERE id = ?", arguments: [subscriptionID]) != nil else {
                throw StoreError.missing("no webhook subscription \"\(subscriptionID)\"")
            }
            var sql = "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE subscription_id = ?"
            var args: [(any DatabaseValueConvertible)?] = [now.milliseconds, subscriptionID]
            if let d = deliveryID {
                sql += " AND id = ?"
                args.append(d)
            }
            if let s = fromSeq {
                sql += " AND outbox_seq >= ?"
                args.append(s)
            }
            try db.execute(sql: sql, arguments: StatementArguments(args))
            let n = db.changesCount
            if let d = deliveryID, n == 0 { throw StoreError.missing("no delivery \(d) for subscription \"\(subscriptionID)\"") }
            try Self.audit(db, actor, at: now, subscriptionID, n)
            return n
        }
    }

    static func audit(_ db: Database, _ actor: Actor, at: Timestamp, _ subscription: String, _ n: Int) throws {
        try audit(db, actor, at, "replay", "webhooks", subscription, "{\"deliveries\":\(n)}")
    }
}
