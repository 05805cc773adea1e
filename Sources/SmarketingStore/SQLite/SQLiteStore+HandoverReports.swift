import Foundation
import GRDB
import SmarketingCore

/// The rep's inbox, SLA and acceptance reports, and marketing's commitments: rows loaded here,
/// aggregated by `HandoverReports`.
extension SQLiteStore {
    // MARK: Inbox

    /// The open handovers a rep owns, most urgent first (earliest due running clock; handovers
    /// without a running clock last, oldest first), each with why it is hot.
    public func inbox(userID: String, at now: Timestamp, limit: Int) async throws -> [InboxItem] {
        let items = try await pool.read { db -> [InboxItem] in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT \(Self.handoverColumns) FROM handovers WHERE owner_id = ? AND status IN \(Self.openStatuses) ORDER BY id",
                arguments: [userID]
            )
            let config = try self.activeHandover(db)?.config
            var out: [InboxItem] = []
            for row in rows {
                let h = try self.view(db, row, config: config, at: now, log: false)
                guard let c = try Row.fetchOne(db, sql: HandoverReports.inboxContactSQL, arguments: [h.contactID]) else { continue }
                let touches = try Row.fetchAll(db, sql: HandoverReports.inboxTouchesSQL, arguments: [h.contactID]).map {
                    InboxTouch(type: $0[0], at: Timestamp(milliseconds: $0[1]), channel: $0[2], campaignID: $0[3], contentID: $0[4])
                }
                let stage = HandoverRules.contentStage(for: (c[5] as String?).flatMap(LifecycleStage.init(rawValue:)))
                var content = try Self.recommended(db, persona: c[8], stage: stage)
                if content.isEmpty { content = try Self.recommended(db, persona: nil, stage: stage) }
                out.append(
                    HandoverReports.item(
                        h,
                        first: c[0],
                        last: c[1],
                        email: c[2],
                        title: c[3],
                        accountName: c[4],
                        stage: c[5],
                        grade: c[6],
                        engagement: c[7],
                        persona: c[8],
                        personaName: c[10],
                        fit: c[9],
                        touches: touches,
                        content: content
                    )
                )
            }
            return HandoverReports.sorted(out)
        }
        // The score contributions come from the scoring explanation (a replay per contact), for
        // the page shown only.
        var shown = Array(items.prefix(limit))
        for i in shown.indices {
            guard let e = try await scoreExplanation(contactID: shown[i].contact.id, at: now) else { continue }
            HandoverReports.explain(&shown[i], e)
        }
        return shown
    }

    static func recommended(_ db: Database, persona: String?, stage: String) throws -> [RecommendedContent] {
        let (sql, args) = HandoverReports.recommendedSQL(persona: persona, stage: stage)
        return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map {
            RecommendedContent(id: $0[0], title: $0[1], type: $0[2], funnelStage: $0[3], url: $0[4])
        }
    }

    // MARK: Reports

    func reportHandovers(_ db: Database, from: Timestamp, to: Timestamp) throws -> [HandoverReports.ReportHandover] {
        let range: StatementArguments = [from.milliseconds, to.milliseconds]
        var clocks: [Int64: [(kind: ClockKind, owner: String?, status: ClockStatus)]] = [:]
        for c in try Row.fetchAll(db, sql: HandoverReports.reportClocksSQL, arguments: range) {
            guard let kind = ClockKind(rawValue: c[1]), let status = ClockStatus(rawValue: c[3]) else { continue }
            clocks[c[0], default: []].append((kind, c[2], status))
        }
        return try Row.fetchAll(db, sql: HandoverReports.reportSQL, arguments: range).map { r in
            HandoverReports.ReportHandover(
                id: r[0],
                owner: r[1],
                team: r[2],
                segment: r[3],
                campaign: r[4],
                channel: r[5],
                policy: r[6],
                status: r[7],
                reason: r[8],
                assignedAt: r[9],
                answeredAt: r[10],
                firstTouchAt: r[11],
                clocks: clocks[r[0]] ?? []
            )
        }
    }

    /// SLA compliance of the handovers created in `[from, to)`, grouped. Clocks count for the
    /// rep who held them (a breached clock stays with the rep it breached for); response time
    /// runs from assignment to the first sales action (answer or sales touch), in wall-clock
    /// hours and in the owner's team's business hours. Handovers nobody answered have no
    /// response time; their clocks count as running or breached.
    public func slaReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [SLAReportRow] {
        try await pool.read { db in
            HandoverReports.sla(try self.reportHandovers(db, from: from, to: to), by: by, config: try self.activeHandover(db)?.config)
        }
    }

    /// Acceptance of the handovers created in `[from, to)`: accepted (incl. qualified) and
    /// rejected with their reasons, per group — lead quality fed back to marketing.
    public func acceptanceReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [AcceptanceRow] {
        try await pool.read { db in HandoverReports.acceptance(try self.reportHandovers(db, from: from, to: to), by: by) }
    }

    // MARK: Marketing's side

    /// Marketing's commitments for a month (`targets` rows with metric `mqls` or `pipeline`):
    /// the actual so far (MQL moves in the month; pipeline created in the month), projected to
    /// the month's end at the rate so far (the month in the workspace's time zone). A target's segment is matched with the
    /// configuration's segments; a target without a segment counts everything.
    public func commitments(month: LocalDate, at now: Timestamp) async throws -> [Commitment] {
        // The month in the workspace's time zone (`workspace.timezone`).
        let window = Commitment.window(month: month, at: now, in: try await workspaceSettings().settings.timeZone)
        let (targets, mqls, pipeline, segments) = try await pool.read { db in
            let range: StatementArguments = [window.start.milliseconds, window.end.milliseconds]
            let targets = try Row.fetchAll(db, sql: HandoverReports.targetsSQL, arguments: [String(LocalDate(year: month.year, month: month.month, day: 1).text.prefix(7))]).map {
                (metric: $0[0] as String, segment: $0[1] as String?, value: $0[2] as Double)
            }
            let mqls = try String.fetchAll(db, sql: HandoverReports.monthMQLsSQL, arguments: range)
            let pipeline = try Row.fetchAll(db, sql: HandoverReports.monthPipelineSQL, arguments: range).map { (contactID: $0[0] as String?, amount: $0[1] as Double) }
            var segments: [String: String] = [:]
            if let config = try self.activeHandover(db)?.config, !targets.isEmpty {
                for id in Set(mqls + pipeline.compactMap(\.contactID)) {
                    if let s = try Self.handoverAttributes(db, id).flatMap({ config.segment(of: $0) }) { segments[id] = s }
                }
            }
            return (targets, mqls, pipeline, segments)
        }
        guard !targets.isEmpty else { return [] }
        return try await HandoverReports.commitments(targets: targets, mqlContacts: mqls, pipeline: pipeline, elapsed: window.elapsed) { id in
            id.flatMap { segments[$0] }
        }
    }
}
