import Foundation
import SmarketingCore
import SmarketingStore

/// Gathers a weekly sync's agenda from the store (the same reads the KPI API, the funnel and the
/// handover reports make) and hands the decisions to the core (`WeeklyAgenda`). Shared by the
/// CLI (`meeting prepare`), the API and the web app so all three show the same figures.
public enum WeeklySync {
    /// How many open handovers the backlog reads at most (the busiest workspaces have far fewer
    /// open at once; beyond it the counts say "at least").
    public static let backlogLimit = 5_000

    /// The week holding `now` in the workspace's calendar.
    public static func currentWeek(_ settings: WorkspaceSettings, now: Timestamp) -> AgendaWeek {
        AgendaWeek.containing(settings.today(now), sundayStart: settings.weekStartsOnSunday)
    }

    /// The quarter's leaks and conversion killers (the agenda's costliest part: the killers replay
    /// every journey); a caller may keep them while the aggregates do not change.
    public typealias Findings = @Sendable (KPIPeriod) async throws -> (leaks: [String], killers: [WeeklyAgenda.Killer])

    public static func findings(_ store: any FunnelStore, period: KPIPeriod, now: Timestamp) async throws -> (leaks: [String], killers: [WeeklyAgenda.Killer]) {
        let settings = try await store.workspaceSettings().settings
        let funnel = try await store.funnel(period: period, by: .channel, options: FunnelOptions(staleDays: settings.staleDays), now: now)
        let killers = try await store.conversionKillers(period: period, from: .mql, options: KillerOptions(), now: now)
        return (Array(funnel.findings.prefix(WeeklyAgenda.topFindings)), WeeklyAgenda.killers(killers))
    }

    public static func agenda(_ store: any FunnelStore, week: AgendaWeek, now: Timestamp, findings: Findings? = nil) async throws -> WeeklyAgenda {
        let settings = try await store.workspaceSettings().settings
        let calendar = KPICalendar(timeZone: settings.timeZone)
        let p = WeeklyAgenda.periods(week, settings: settings)
        let today = settings.today(now)

        async let weekReport = store.kpis(KPIQuery(period: p.week))
        async let qtdReport = store.kpis(KPIQuery(period: p.quarterToDate))
        async let quarterReport = store.kpis(KPIQuery(period: p.quarter))
        async let lastReport = store.kpis(KPIQuery(period: p.lastQuarter))
        let w = try await weekReport
        let q = try await qtdReport
        var rows = WeeklyAgenda.kpiRows(
            week: w.total.current,
            previousWeek: w.total.previous,
            quarterToDate: q.total.current,
            lastQuarter: try await lastReport.total.current,
            quarter: try await quarterReport.total.current
        )
        // Who acts on each KPI.
        let owners = Dictionary(try await store.owners().map { ($0.subject, $0) }, uniquingKeysWith: { a, _ in a })
        for i in rows.indices { rows[i].owner = owners["kpi." + rows[i].key]?.shortText }
        // kpis.yaml: thresholds and targets of the built-in KPIs, and the custom KPIs as rows of their own.
        if let (_, config) = try await KPIConfigReads.active(store) {
            for b in config.builtins {
                guard let i = rows.firstIndex(where: { $0.key == b.id }) else { continue }
                if let t = b.target { rows[i].quarterTarget = t }
                rows[i].status = KPIConfig.status(rows[i].week, good: b.good, bad: b.bad, higherIsBetter: rows[i].higherIsBetter)
            }
            if !config.custom.isEmpty {
                let week = try await KPIConfigReads.custom(store, config, period: p.week)
                let qtd = try await KPIConfigReads.custom(store, config, period: p.quarterToDate)
                let last = try await KPIConfigReads.custom(store, config, period: p.lastQuarter)
                for (i, c) in config.custom.enumerated() {
                    rows.append(
                        WeeklyAgenda.KPIRow(
                            key: "custom." + c.id, label: c.label, unit: c.unit, week: week[i].current, previousWeek: week[i].previous,
                            quarterToDate: qtd[i].current, lastQuarter: last[i].current, quarterTarget: c.target, higherIsBetter: c.higherIsBetter,
                            owner: c.owner.map { id in owners.values.first { $0.responsible == id }?.responsibleName ?? id }, status: week[i].status
                        )
                    )
                }
            }
        }
        let weekSLA = w.total.current.leadResponseTime
        let qtdSLA = q.total.current.leadResponseTime

        let lastDay = p.week.to.adding(days: -1)
        let commitments = try await store.commitments(month: LocalDate(year: lastDay.year, month: lastDay.month, day: 1), at: now)
        let found: (leaks: [String], killers: [WeeklyAgenda.Killer])
        if let findings {
            found = try await findings(p.quarterToDate)
        } else {
            found = try await Self.findings(store, period: p.quarterToDate, now: now)
        }

        var q2 = HandoverQuery()
        q2.openOnly = true
        q2.limit = backlogLimit
        let open = try await store.handovers(q2, at: now).filter { $0.status != .queued }
        var names: [String: String] = [:]
        for owner in Set(open.map(\.ownerID)) {
            if case .text(let name)? = try await store.get(.users, id: owner)?["name"] { names[owner] = name }
        }
        let backlog = WeeklyAgenda.backlog(
            open.map {
                WeeklyAgenda.OpenHandover(
                    ownerID: $0.ownerID,
                    answered: $0.answeredAt != nil || $0.status != .assigned,
                    breached: $0.clocks.contains { $0.status == .breached },
                    assignedAt: $0.assignedAt
                )
            },
            names: names
        )
        let items = try await store.actionItems(ActionItemQuery(status: .open, limit: 500))
        let changes = try await store.changeNotes(
            from: calendar.start(ofDay: p.quarterToDate.from.daysSinceEpoch),
            to: calendar.start(ofDay: p.week.to.daysSinceEpoch),
            limit: 50
        )
        return WeeklyAgenda(
            week: week.description,
            currency: settings.currency,
            period: ReportPeriod(p.week, calendar: calendar),
            previousWeek: ReportPeriod(p.previousWeek, calendar: calendar),
            quarterToDate: ReportPeriod(p.quarterToDate, calendar: calendar),
            lastQuarter: ReportPeriod(p.lastQuarter, calendar: calendar),
            asOf: now,
            kpis: rows,
            commitments: commitments,
            sla: WeeklyAgenda.SLASide(
                slaHours: weekSLA.slaHours,
                weekAssigned: weekSLA.assignedMqls,
                weekCompliance: weekSLA.slaCompliance,
                weekMedianResponseHours: weekSLA.medianHours,
                quarterCompliance: qtdSLA.slaCompliance,
                quarterMedianResponseHours: qtdSLA.medianHours
            ),
            leaks: found.leaks,
            killers: found.killers,
            rejections: w.total.current.rejectionReasons,
            backlog: backlog,
            actionItems: ActionItem.agendaOrder(items),
            overdueItems: items.filter { $0.isOverdue(today: today) }.count,
            changes: changes
        )
    }

    /// The agenda of a meeting: frozen once finished, else built live for its week.
    public static func agenda(_ store: any FunnelStore, of meeting: Meeting, now: Timestamp, findings: Findings? = nil) async throws -> WeeklyAgenda {
        if let frozen = meeting.agenda { return frozen }
        guard let week = AgendaWeek.parse(meeting.week) else { throw StoreError.invalid("meeting \(meeting.id) names no week") }
        return try await agenda(store, week: week, now: now, findings: findings)
    }

    /// The document of an agenda, or of a meeting's minutes (attendees named, the items agreed in it).
    public static func document(_ store: any FunnelStore, agenda: WeeklyAgenda, meeting: Meeting?, zone: TimeZone) async throws -> [AgendaText.Block] {
        var names: [String: String] = [:]
        var agreed: [ActionItem] = []
        if let m = meeting {
            for id in m.attendees {
                if case .text(let name)? = try await store.get(.users, id: id)?["name"] { names[id] = name }
            }
            agreed = try await store.actionItems(ActionItemQuery(meetingID: m.id, limit: 1_000))
        }
        return AgendaText.blocks(agenda, meeting: meeting, agreed: agreed, names: names, zone: zone)
    }

    /// Finishes a meeting: freezes the agenda of its week as it stands now and queues the minutes
    /// (Markdown) for webhook subscribers of `meeting.finished` (a `slack` subscription posts them).
    public static func finish(_ store: any FunnelStore, id: Int64, actor: Actor, now: Timestamp, findings: Findings? = nil) async throws -> Meeting {
        guard let m = try await store.meeting(id: id) else { throw StoreError.missing("no meeting \(id)") }
        guard m.status == .open else { throw StoreError.conflict("meeting \(id) is already finished") }
        let agenda = try await agenda(store, of: m, now: now, findings: findings)
        let zone = try await store.workspaceSettings().settings.timeZone
        var closing = m
        closing.status = .finished
        closing.finishedAt = now
        let minutes = AgendaText.markdown(try await document(store, agenda: agenda, meeting: closing, zone: zone))
        return try await store.finishMeeting(id: id, agenda: agenda, minutes: minutes, actor: actor, at: now)
    }
}
