import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: workspace settings")
struct SettingsConformanceTests {
    @Test("a change is checked whole, audited, versioned, seen by a second instance, and rebuilds the aggregates it cuts", arguments: Backend.allCases)
    func changeSettings(backend: Backend) async throws {
        let demo = BundleConformanceTests.tempDir("settings-demo")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 200, seed: 7).write(to: demo)
        let sut = try await backend.makeRoles()
        #expect(try await BundleConformanceTests.importDir(sut.store, demo).committed)

        let initial = try await sut.store.workspaceSettings()
        #expect(initial.version == 0)
        #expect(initial.settings == WorkspaceSettings())

        // A batch with one bad value and one unknown key writes nothing.
        await #expect(throws: StoreError.self) {
            _ = try await sut.store.changeSettings(["workspace.timezone": "Europe/Berlin", "kpi.sla_hours": "-1", "colour": "red"], ifVersion: nil, actor: tester, at: t0)
        }
        do {
            _ = try await sut.store.changeSettings(["workspace.timezone": "Nowhere/City"], ifVersion: nil, actor: tester, at: t0)
            Issue.record("an unknown time zone was accepted")
        } catch let e as StoreError {
            guard case .invalid(let message) = e else { throw e }
            #expect(message.contains("workspace.timezone") && message.contains("IANA"))
        }
        #expect(try await sut.store.workspaceSettings() == initial)

        let changed = try await sut.store.changeSettings(
            ["workspace.timezone": "Europe/Berlin", "kpi.sla_hours": "8", "workspace.currency": "eur", "workspace.week_start": "monday"],
            ifVersion: 0, actor: tester, at: t0.adding(milliseconds: 1_000)
        )
        #expect(changed.changes.map(\.key) == [.slaHours, .currency, .timeZone])
        #expect(changed.rebuiltAggregates)
        #expect(changed.settings.version == 1)
        #expect(changed.settings.settings.timeZone.identifier == "Europe/Berlin")
        #expect(changed.settings.settings.currency == "EUR")

        // Another instance (or a restarted process) reads the same.
        let other = try await sut.reopen()
        #expect(try await other.workspaceSettings() == changed.settings)
        // The aggregates follow the new zone and SLA hours.
        #expect(try await other.verifyKPIs().mismatches.isEmpty)

        // Each changed key is one audit entry, old → new.
        let audit = try await sut.store.audit(limit: 50, before: nil).filter { $0.action == "settings.set" }
        #expect(Set(audit.map(\.recordID)) == ["workspace.timezone", "kpi.sla_hours", "workspace.currency"])
        #expect(audit.contains { $0.recordID == "workspace.timezone" && $0.detail == "UTC → Europe/Berlin" && $0.actor.hasPrefix("tester") })

        // A change made on a stale version is refused; the same values again change nothing.
        do {
            _ = try await sut.store.changeSettings(["kpi.stale_days": "21"], ifVersion: 0, actor: tester, at: t0)
            Issue.record("a change on a stale version was accepted")
        } catch let e as StoreError {
            guard case .conflict = e else { throw e }
        }
        let same = try await sut.store.changeSettings(["workspace.timezone": "Europe/Berlin", "kpi.sla_hours": "8.0"], ifVersion: 1, actor: tester, at: t0)
        #expect(same.changes.isEmpty && same.settings.version == 1 && !same.rebuiltAggregates)

        // A setting the aggregates do not cut by is read where it is used: the stale-lead count.
        let stale = try await sut.store.changeSettings(["kpi.stale_days": "30"], ifVersion: 1, actor: tester, at: t0)
        #expect(!stale.rebuiltAggregates && stale.settings.version == 2)
        #expect(try await sut.store.setting("kpi.stale_days") == "30")
        #expect(try await sut.store.verifyKPIs().mismatches.isEmpty)

        // The KPI set's ROMI uses the workspace's look-back and half-life.
        _ = try await sut.store.changeSettings(["attribution.lookback_days": "20", "attribution.half_life_days": "2"], ifVersion: nil, actor: tester, at: t0)
        let period = KPIPeriod(from: LocalDate(year: 2024, month: 1, day: 1), to: LocalDate(year: 2026, month: 7, day: 1))
        #expect(try await sut.store.attribution(period: period, by: [.channel], models: [.linear])[.channel]?.models.first?.revenueAttributed ?? 0 > 0)
        let romi = try #require(try await sut.store.kpis(KPIQuery(period: period, by: [.channel], romiModels: [.timeDecay])).romi?.first)
        let expected = try #require(
            try await sut.store.attribution(period: period, by: [.channel], models: [.timeDecay], lookbackDays: 20, halfLifeDays: 2)[.channel]?.models.first
        )
        let usual = try #require(try await sut.store.attribution(period: period, by: [.channel], models: [.timeDecay])[.channel]?.models.first)
        #expect(romi.revenueAttributed == expected.revenueAttributed && romi.byChannel == expected.rows)
        #expect(romi.byChannel != usual.rows, "a 20-day look-back and a 2-day half-life credit the channels differently")
    }
}
