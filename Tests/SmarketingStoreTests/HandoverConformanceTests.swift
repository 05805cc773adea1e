import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

/// The handover on a real store: MQL moves open routed handovers with clocks in the same
/// transaction, answers move the lifecycle, sales touches meet clocks, the breach service fires
/// exactly once (also across a restart and with two instances), outbox deliveries keep order.
@Suite("Store conformance: handover, SLA clocks, outbox")
struct HandoverConformanceTests {
    static let model = """
        half_life: 30d
        grades: {A: 10, B: 5, C: rest}
        fit:
          - id: de
            attribute: contact.country
            in: [DE]
            points: 10
        engagement:
          - id: form
            types: [form_submit]
            points: 60
        mql: engagement >= 50
        """

    static let config = """
        calendars:
          utc: {timezone: UTC, hours: {every_day: "00:00-24:00"}}
        teams:
          sdr: {calendar: utc, manager: boss, members: [r1, r2]}
        reasons:
          bad_fit: {label: Bad fit, action: disqualify}
          timing: {label: Bad timing, action: recycle}
        segments:
          - id: dach
            when: {contact.country: [DE, AT, CH]}
        routing:
          - {id: account-owner, account_owner: true}
          - {id: pool, team: sdr}
        fallback: {queue: triage, owner: boss}
        sla:
          - id: std
            assign_within: 30m
            accept_within: 1h
            first_touch_within: 2h business
            follow_up: {touches: 2, within: 3d}
            warn_before: 15m
            on_breach: [notify_owner, notify_manager, reassign]
        """

    let now = try! Timestamp.parse("2026-03-02T10:00:00Z").get()

    /// Users, contacts c0…c(n-1) (leads), the scoring model and the handover configuration.
    func workspace(_ store: any RoleStores, contacts: Int = 6, capacity: Int64 = 5, webhook: Bool = true) async throws {
        for (id, team) in [("r1", "sales"), ("r2", "sales"), ("boss", "sales")] {
            var f: [String: FieldValue] = ["id": .text(id), "email": .text("\(id)@us.example"), "team": .text(team)]
            if id != "boss" { f["capacity"] = .integer(capacity) }
            try await store.create(record(.users, f), actor: tester, at: t0)
        }
        try await store.create(record(.campaigns, ["id": .text("cmp1"), "name": .text("Spring"), "channel": .text("email")]), actor: tester, at: t0)
        for i in 0..<contacts {
            try await store.create(
                record(
                    .contacts,
                    [
                        "id": .text("c\(i)"), "email": .text("p\(i)@x.example"), "country": .text(i % 2 == 0 ? "DE" : "US"),
                        "created_at": ts("2026-01-05T00:00:00Z"), "lifecycle_stage": .text("lead"), "source_campaign_id": .text("cmp1"),
                        "source_channel": .text("email"),
                    ]
                ),
                actor: tester,
                at: t0
            )
        }
        _ = try await store.applyScoringModel(
            text: Self.model,
            model: try ScoringModelFile.read(Self.model).get(),
            comment: "",
            actor: tester,
            at: t0,
            progress: nil
        )
        _ = try await store.applyHandoverConfig(text: Self.config, config: try HandoverConfigFile.read(Self.config).get(), comment: "", actor: tester, at: t0)
        if webhook {
            _ = try await store.createWebhook(
                url: "http://127.0.0.1:9/hook",
                events: ["*"],
                format: "json",
                secret: "s3cret-s3cret-s3cret",
                actor: tester,
                at: t0
            )
        }
    }

    func form(_ id: String, _ contact: String, at: String = "2026-03-02T09:59:00Z") -> Result<IncomingEvent, EventRejection> {
        EventPayload(fields: ["id": id, "type": "form_submit", "occurred_at": at, "contact_id": contact]).validate()
    }

    func call(_ id: String, _ contact: String, by: String, at: String) -> Result<IncomingEvent, EventRejection> {
        EventPayload(fields: ["id": id, "type": "call", "occurred_at": at, "contact_id": contact, "actor_id": by]).validate()
    }

    func mql(_ store: any RoleStores, _ contact: String, at: Timestamp) async throws -> HandoverView {
        _ = try await store.ingest([IngestBatch(events: [form("f-" + contact, contact)], atomic: true, actor: tester)], at: at)
        var q = HandoverQuery()
        q.contactID = contact
        return try #require(try await store.handovers(q, at: at).first)
    }

    @Test("an MQL move opens a routed handover with its clocks and webhook events in the same transaction", arguments: Backend.allCases)
    func opens(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store)
        let h = try await mql(store, "c0", at: now)
        #expect(h.status == .assigned && h.ownerID == "r1" && h.rule == "pool" && h.team == "sdr" && h.segment == "dach" && h.policy == "std")
        #expect(h.routing?.candidates.map(\.outcome) == ["chosen", "not_next"])
        #expect(h.routing?.trail.first == "account-owner: the account has no owner")
        #expect(h.clocks.map(\.kind) == [.accept, .firstTouch, .followUp])
        #expect(h.clocks[0].dueAt == now.adding(milliseconds: 3_600_000) && h.clocks[0].warnAt == now.adding(milliseconds: 45 * 60_000))
        #expect(h.clocks[1].business && h.clocks[1].dueAt == now.adding(milliseconds: 2 * 3_600_000))
        #expect(h.clocks[2].goal == 2 && h.campaignID == "cmp1" && h.channel == "email")
        let contact = try #require(try await store.get(.contacts, id: "c0"))
        #expect(contact["owner_id"] == .text("r1") && contact["assigned_at"] == .timestamp(now) && contact["lifecycle_stage"] == .text("mql"))
        // The next MQL goes to the other rep (round-robin); the outbox holds the events in order.
        #expect(try await mql(store, "c1", at: now).ownerID == "r2")
        let types = try await store.deliveries(subscriptionID: nil, status: "pending", limit: 100).reversed().map(\.eventType)
        #expect(types == ["stage.changed", "contact.mql", "handover.assigned", "stage.changed", "contact.mql", "handover.assigned"])
        // A rejected atomic batch writes no handover and no webhook event.
        let bad = EventPayload(fields: ["id": "x", "type": "page_view", "occurred_at": "nope", "contact_id": "c2"]).validate()
        _ = try await store.ingest([IngestBatch(events: [form("f-c2", "c2"), bad], atomic: true, actor: tester)], at: now)
        var q = HandoverQuery()
        q.contactID = "c2"
        #expect(try await store.handovers(q, at: now).isEmpty)
        #expect(try await store.deliveries(subscriptionID: nil, status: nil, limit: 100).count == 6)
    }

    @Test("a new configuration refreshes the KPIs of the reps it moves, and an unchanged team layout changes none", arguments: Backend.allCases)
    func kpisFollowTeams(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store, contacts: 4, webhook: false)
        // Two MQLs routed to the pool: one to r1, one to r2 (both in sdr).
        let owners = [try await mql(store, "c0", at: now).ownerID, try await mql(store, "c1", at: now).ownerID]
        #expect(Set(owners.compactMap { $0 }) == ["r1", "r2"], "\(owners)")
        func teams() async throws -> [String] {
            try await store.kpis(KPIQuery(period: .allTime, by: [.team])).by["team"]?.map(\.key) ?? []
        }
        #expect(try await teams().contains("sdr"))
        #expect(!(try await teams().contains("ae")))

        // r2 moves to a team of its own: r2's contacts get the new team, the aggregates equal a rebuild.
        let moved = Self.config.replacingOccurrences(of: "sdr: {calendar: utc, manager: boss, members: [r1, r2]}", with: "sdr: {calendar: utc, manager: boss, members: [r1]}\n  ae: {calendar: utc, manager: boss, members: [r2]}")
        #expect(moved != Self.config)
        _ = try await store.applyHandoverConfig(text: moved, config: try HandoverConfigFile.read(moved).get(), comment: "r2 to ae", actor: tester, at: now)
        let after = try await teams()
        #expect(after.contains("ae") && after.contains("sdr"), "\(after)")
        #expect(try await store.verifyKPIs().mismatches.isEmpty)

        // Another SLA, the same teams and calendars: the KPIs stay as they are and still agree.
        let before = try await store.kpis(KPIQuery(period: .allTime, by: [.team, .owner]))
        let slower = moved.replacingOccurrences(of: "assign_within: 30m", with: "assign_within: 45m")
        #expect(slower != moved)
        _ = try await store.applyHandoverConfig(text: slower, config: try HandoverConfigFile.read(slower).get(), comment: "slower", actor: tester, at: now)
        #expect(try await store.kpis(KPIQuery(period: .allTime, by: [.team, .owner])) == before)
        #expect(try await store.verifyKPIs().mismatches.isEmpty)

        // A calendar's hours change the response times of its reps: also refreshed, also agreeing.
        let shorter = slower.replacingOccurrences(of: "every_day: \"00:00-24:00\"", with: "every_day: \"08:00-18:00\"")
        #expect(shorter != slower)
        _ = try await store.applyHandoverConfig(text: shorter, config: try HandoverConfigFile.read(shorter).get(), comment: "hours", actor: tester, at: now)
        #expect(try await store.verifyKPIs().mismatches.isEmpty)
    }

    @Test("answers move the lifecycle; a rejection needs a known reason; a logged call meets the first-touch clock", arguments: Backend.allCases)
    func answers(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store)
        let h0 = try await mql(store, "c0", at: now)
        let h1 = try await mql(store, "c1", at: now)
        let rep = Actor(userID: "r1", role: .sales, via: "test")
        // A call by the owner 20 minutes later: first touch met, follow-up 1 of 2.
        _ = try await store.ingest(
            [IngestBatch(events: [call("call-1", "c0", by: "r1", at: "2026-03-02T10:20:00Z")], atomic: true, actor: tester)],
            at: now.adding(milliseconds: 20 * 60_000)
        )
        var h = try #require(try await store.handover(id: h0.id, at: now))
        #expect(h.firstTouchAt == now.adding(milliseconds: 20 * 60_000))
        #expect(h.clocks.first { $0.kind == .firstTouch }?.status == .met)
        #expect(h.clocks.first { $0.kind == .followUp }.map { ($0.status, $0.progress) }! == (.running, 1))
        h = try await store.actOnHandover(id: h0.id, action: .accept, note: nil, actor: rep, at: now.adding(milliseconds: 30 * 60_000))
        #expect(h.status == .accepted && h.clocks.first { $0.kind == .accept }?.status == .met)
        #expect(try await store.get(.contacts, id: "c0")?["lifecycle_stage"] == .text("sal"))
        await #expect(throws: StoreError.conflict("the handover is already accepted")) {
            try await store.actOnHandover(id: h0.id, action: .accept, note: nil, actor: rep, at: now)
        }
        h = try await store.actOnHandover(id: h0.id, action: .qualify, note: "budget confirmed", actor: rep, at: now.adding(milliseconds: 3_600_000))
        #expect(h.status == .qualified && h.closedAt != nil && h.clocks.allSatisfy { $0.status != .running })
        #expect(try await store.get(.contacts, id: "c0")?["lifecycle_stage"] == .text("sql"))
        await #expect(throws: StoreError.conflict("\"meh\" is not a rejection reason (known: bad_fit, timing)")) {
            try await store.actOnHandover(id: h1.id, action: .reject(reason: "meh"), note: nil, actor: rep, at: now)
        }
        h = try await store.actOnHandover(id: h1.id, action: .reject(reason: "timing"), note: "next quarter", actor: rep, at: now)
        #expect(h.status == .rejected && h.reason == "timing")
        let c1 = try #require(try await store.get(.contacts, id: "c1"))
        #expect(c1["lifecycle_stage"] == .text("recycled") && c1["recycle_reason"] == .text("rejected by sales: Bad timing — next quarter"))
        let last = try #require(try await store.transitions(contactID: "c1").last)
        #expect(last.actor == "user:r1")
        // The funnel: six leads, two reached MQL, c0 got to SQL, c1 was recycled for the configured reason
        // (on the backends that serve the KPI role).
        if let kpis = store as? any KPIStore {
            let funnel = try await kpis.funnel(
                period: KPIPeriod(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 4, day: 1)),
                by: .all,
                options: FunnelOptions(),
                now: now
            )
            #expect(Array(funnel.total.cohort.map(\.reached).prefix(4)) == [6, 2, 1, 1])
            #expect(funnel.total.recycled.map { "\($0.reason): \($0.count)" } == ["timing: 1"])
            #expect(funnel.total.timeInStage.first { $0.stage == "sal" }?.left == 1)
        }
        // Reports: the accepted one met its clocks; acceptance by campaign counts the reason.
        let acceptance = try await store.acceptanceReport(from: t0, to: now.adding(milliseconds: 86_400_000), by: .campaign)
        #expect(acceptance.map(\.group) == ["cmp1"])
        #expect(acceptance[0].accepted == 1 && acceptance[0].rejected == 1 && acceptance[0].reasons == ["timing": 1] && acceptance[0].acceptanceRate == 0.5)
        let sla = try await store.slaReport(from: t0, to: now.adding(milliseconds: 86_400_000), by: .rep)
        let r1 = try #require(sla.first { $0.group == "r1" })
        #expect(r1.clocks["accept"]?.met == 1 && r1.clocks["first_touch"]?.met == 1 && r1.answered == 1)
        #expect(r1.responseMedianHours == 20.0 / 60 && r1.responseMedianBusinessHours == 20.0 / 60)
    }

    @Test("warnings and breaches fire exactly once: across a restart, after downtime, with two instances", arguments: Backend.allCases)
    func exactlyOnce(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        try await workspace(sut.store)
        let h = try await mql(sut.store, "c0", at: now)
        #expect(h.ownerID == "r1")
        // 50 minutes in: the accept clock's warning (due at 45 min).
        let first = try await sut.store.processDueClocks(now: now.adding(milliseconds: 50 * 60_000), limit: 500)
        #expect(first.warnings == 1 && first.breaches == 0)
        // A restarted process sees nothing new at the same instant.
        let reopened = try await sut.reopen()
        #expect(try await reopened.processDueClocks(now: now.adding(milliseconds: 50 * 60_000), limit: 500).warnings == 0)
        // The service was down when the clocks fell due; two instances start at once and catch up.
        let other = try await sut.reopen()
        let later = now.adding(milliseconds: 3 * 3_600_000)
        async let a = reopened.processDueClocks(now: later, limit: 500)
        async let b = other.processDueClocks(now: later, limit: 500)
        let (ra, rb) = try await (a, b)
        // In due order: the accept clock breaches (1 h) and its policy reassigns the lead to r2,
        // which stops r1's other clocks (first touch would have warned at 1 h 45). Once, in all.
        #expect(ra.breaches + rb.breaches == 1 && ra.reassigned + rb.reassigned == 1)
        #expect(ra.warnings + rb.warnings == 0)
        let after = try #require(try await other.handover(id: h.id, at: later))
        #expect(after.ownerID == "r2")
        let log = after.log ?? []
        #expect(log.filter { $0.action == "sla.breached" }.count == 1)
        #expect(log.filter { $0.action == "sla.warning" }.count == 1)
        #expect(log.filter { $0.action == "reassigned" }.count == 1)
        let events = try await other.deliveries(subscriptionID: nil, status: nil, limit: 200).map(\.eventType)
        #expect(events.filter { $0 == "sla.breached" }.count == 1 && events.filter { $0 == "sla.warning" }.count == 1)
        // The old owner's accept clock stays breached for the reports; r2's clocks run from the reassignment.
        #expect(after.clocks.filter { $0.ownerID == "r1" }.map(\.status) == [.breached, .cancelled, .cancelled])
        #expect(after.clocks.filter { $0.ownerID == "r2" && $0.status == .running }.map(\.kind) == [.accept, .firstTouch, .followUp])
        #expect(try await other.processDueClocks(now: later, limit: 500).clocksSeen == 0)
        #expect(try await other.nextDueClock() == later.adding(milliseconds: 45 * 60_000))
    }

    @Test("reps at their cap are skipped; with everyone at the cap the lead waits in the queue until a manager assigns it", arguments: Backend.allCases)
    func capacityAndQueue(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store, contacts: 4, capacity: 1)
        let owners = [try await mql(store, "c0", at: now).ownerID, try await mql(store, "c1", at: now).ownerID]
        #expect(owners == ["r1", "r2"])
        let queued = try await mql(store, "c2", at: now)
        #expect(queued.status == .queued && queued.queue == "triage" && queued.ownerID == "boss")
        #expect(queued.routing?.candidates.map(\.outcome) == ["at_capacity", "at_capacity"])
        #expect(queued.clocks.map(\.kind) == [.assign])
        let assigned = try await store.reassignHandover(id: queued.id, to: "r1", actor: tester, at: now.adding(milliseconds: 40 * 60_000))
        #expect(assigned.status == .assigned && assigned.ownerID == "r1" && assigned.queue == nil)
        let assign = try #require(assigned.clocks.first { $0.kind == .assign })
        #expect(assign.status == .breached)  // 40 minutes in the queue against 30
        #expect(assigned.clocks.filter { $0.status == .running }.map(\.kind) == [.accept, .firstTouch, .followUp])
        // The inbox names the lead's persona by its name, not its id.
        try await store.create(record(.personas, ["id": .text("per-cro"), "name": .text("Chief Revenue Officer")]), actor: tester, at: now)
        _ = try await store.update(.contacts, id: "c0", fields: ["persona_id": .text("per-cro")], actor: tester, at: now)
        let inbox = try await store.inbox(userID: "r1", at: now, limit: 10)
        #expect(inbox.map(\.contact.id) == ["c0", "c2"])  // most urgent first
        #expect(inbox[0].why.contains("engagement 60"))
        #expect(inbox[0].why.contains("persona Chief Revenue Officer"), "\(inbox[0].why)")
        await #expect(throws: StoreError.reference("no user \"nobody\"")) {
            try await store.reassignHandover(id: queued.id, to: "nobody", actor: tester, at: now)
        }
    }

    @Test("marketing's commitments: MQLs of the month against the target, projected to the month's end", arguments: Backend.allCases)
    func commitments(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store, webhook: false)
        for i in 0..<4 { _ = try await mql(store, "c\(i)", at: now) }
        try await store.create(record(.targets, ["period": .text("2026-03"), "metric": .text("mqls"), "value": .number(20)]), actor: tester, at: t0)
        try await store.create(
            record(.targets, ["period": .text("2026-03"), "metric": .text("mqls"), "value": .number(1), "segment": .text("dach")]),
            actor: tester,
            at: t0
        )
        // March 2026 has 31 days; at March 8 00:00 UTC 7/31 of it has passed.
        let at = try Timestamp.parse("2026-03-08T00:00:00Z").get()
        let list = try await store.commitments(month: LocalDate(year: 2026, month: 3, day: 1), at: at)
        #expect(list.count == 2)
        let all = try #require(list.first { $0.segment == nil })
        #expect(all.actual == 4 && abs(all.projected - 4 * 31.0 / 7) < 1e-9 && all.shortfall)
        let dach = try #require(list.first { $0.segment == "dach" })
        #expect(dach.actual == 2 && !dach.shortfall)
    }

    @Test("deliveries keep order per subscription, back off after failures, fail after the last attempt and can be replayed", arguments: Backend.allCases)
    func deliveries(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store)
        _ = try await mql(store, "c0", at: now)
        let due = try await store.dueDeliveries(now: now, perSubscription: 100)
        #expect(due.map(\.eventType) == ["stage.changed", "contact.mql", "handover.assigned"])
        #expect(due.map(\.seq) == due.map(\.seq).sorted())
        // The first fails: nothing newer goes out until its retry is due (1 s later).
        try await store.recordDeliveries([DeliveryAttempt(id: due[0].id, ok: false, status: 500, error: "HTTP 500")], at: now)
        #expect(try await store.dueDeliveries(now: now, perSubscription: 100).isEmpty)
        #expect(try await store.dueDeliveries(now: now.adding(milliseconds: 1000), perSubscription: 100).map(\.id) == due.map(\.id))
        for _ in 2...DeliveryRetry.maxAttempts {
            #expect(try await store.deliveries(subscriptionID: nil, status: "failed", limit: 10).isEmpty)
            try await store.recordDeliveries([DeliveryAttempt(id: due[0].id, ok: false, status: nil, error: "timeout")], at: now)
        }
        let failed = try await store.deliveries(subscriptionID: nil, status: "failed", limit: 10)
        #expect(failed.map(\.id) == [due[0].id] && failed[0].attempts == DeliveryRetry.maxAttempts && failed[0].lastError == "timeout")
        // With the failed one out of the way the rest flow, in order.
        #expect(try await store.dueDeliveries(now: now, perSubscription: 100).map(\.id) == Array(due.map(\.id).dropFirst()))
        try await store.recordDeliveries(due.dropFirst().map { DeliveryAttempt(id: $0.id, ok: true, status: 204, error: nil) }, at: now)
        #expect(try await store.dueDeliveries(now: now, perSubscription: 100).isEmpty)
        let sub = due[0].subscriptionID
        #expect(try await store.replayDeliveries(subscriptionID: sub, fromSeq: nil, deliveryID: due[0].id, actor: tester, at: now) == 1)
        // Stored secrets rewritten (the server seals those an old version kept in clear): once.
        #expect(try await store.rewriteWebhookSecrets { $0.hasPrefix("sealed:") ? nil : "sealed:" + $0 } == 1)
        #expect(try await store.rewriteWebhookSecrets { $0.hasPrefix("sealed:") ? nil : "sealed:" + $0 } == 0)
        let replayed = try await store.dueDeliveries(now: now, perSubscription: 100)
        #expect(replayed.map(\.id) == [due[0].id] && replayed.map(\.secret) == ["sealed:s3cret-s3cret-s3cret"])
        #expect(try await store.replayDeliveries(subscriptionID: sub, fromSeq: due[1].seq, deliveryID: nil, actor: tester, at: now) == 2)
        #expect(
            DeliveryRetry.backoff(afterAttempt: 1) == 1000 && DeliveryRetry.backoff(afterAttempt: 4) == 8000
                && DeliveryRetry.backoff(afterAttempt: 30) == 3_600_000
        )
    }

    @Test("a deal won announces opportunity.won once; a contact that reaches opportunity closes its handover", arguments: Backend.allCases)
    func won(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store)
        let h = try await mql(store, "c0", at: now)
        try await store.create(record(.accounts, ["id": .text("a1"), "name": .text("Acme")]), actor: tester, at: now)
        try await store.create(
            record(
                .opportunities,
                [
                    "id": .text("o1"), "account_id": .text("a1"), "created_at": .timestamp(now), "amount": .number(12_000),
                    "primary_contact_id": .text("c0"),
                ]
            ),
            actor: tester,
            at: now
        )
        let closed = try #require(try await store.handover(id: h.id, at: now))
        #expect(closed.status == .closed && closed.clocks.allSatisfy { $0.status == .cancelled })
        _ = try await store.update(.opportunities, id: "o1", fields: ["is_won": .bool(true), "closed_at": .timestamp(now)], actor: tester, at: now)
        _ = try await store.update(.opportunities, id: "o1", fields: ["name": .text("Acme deal")], actor: tester, at: now)
        let types = try await store.deliveries(subscriptionID: nil, status: nil, limit: 100).map(\.eventType)
        #expect(types.filter { $0 == "opportunity.won" }.count == 1)
        #expect(types.contains("handover.closed"))
        let due = try await store.dueDeliveries(now: now, perSubscription: 100)
        let won = try #require(due.first { $0.eventType == "opportunity.won" })
        #expect(won.payload.contains("\"amount\":12000") && won.payload.contains("\"opportunity_id\":\"o1\""))
    }

    @Test("a configuration naming users the workspace lacks is refused whole", arguments: Backend.allCases)
    func refusals(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await store.create(record(.users, ["id": .text("r1"), "email": .text("r1@us.example"), "team": .text("sales")]), actor: tester, at: t0)
        await #expect(throws: StoreError.invalid("the configuration names users the workspace does not have: boss, r2")) {
            try await store.applyHandoverConfig(text: Self.config, config: try HandoverConfigFile.read(Self.config).get(), comment: "", actor: tester, at: t0)
        }
        #expect(try await store.handoverConfigVersions().isEmpty)
    }
}
