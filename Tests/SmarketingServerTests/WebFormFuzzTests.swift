import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SmarketingCore
import SmarketingStore
import Testing

/// Every web form and page query of the web app, fed generated and hand-written hostile values
/// (seeded): nothing answers 5xx, bad values come back as messages beside their fields, and the
/// data stays within its ranges.
@Suite("Web forms under hostile input")
struct WebFormFuzzTests {
    static let hostile: [String] = [
        "", " ", "1e308", "-1e308", "NaN", "Infinity", "-0", "99999999999999999999999", "-1", "0x1F", "1,5",
        "0001-01-01", "9999-12-31", "2026-02-30", "2026-13", "2026-W99", "=cmd|' /C calc'!A0", "<script>alert(1)</script>",
        "\u{202E}\u{200D}👩‍💻", "\u{0}", "../../etc/passwd", "' OR 1=1 --", String(repeating: "x", count: 100_000),
        String(repeating: "[", count: 5_000), "a: &a [*a]", "{{#x}}{{/x}}",
    ]

    @Test("each form and page query gets hostile values from a seeded generator: no 5xx, the server keeps serving, stored values stay in range")
    func forms() async throws {
        let w = try await WebWorkspace.make(leads: 150)
        defer { w.remove() }
        try await w.app().test(.router) { client in
            let (admin, csrf, _) = try await WebSettingsTests.signIn(client, w.people[.admin]!)
            let forms: [(String, [String])] = [
                ("/settings/users/role", ["user_id", "access_role"]),
                ("/settings/users/password", ["user_id", "password"]),
                ("/settings/tokens/create", ["user_id", "role", "name"]),
                ("/settings/tokens/revoke", ["id"]),
                ("/settings/webhooks/create", ["url", "events", "format"]),
                ("/settings/webhooks/delete", ["id"]),
                ("/settings/scoring/preview", ["model", "comment"]),
                ("/settings/routing/preview", ["config", "comment"]),
                ("/settings/targets/save", ["period", "metric", "value", "segment"]),
                ("/settings/workspace/save", ["workspace.timezone", "workspace.currency", "kpi.sla_hours", "kpi.stale_days", "if_version"]),
                ("/inbox/1/accept", ["note"]), ("/inbox/99999999999999999999/reject", ["reason", "note"]), ("/inbox/x/nonsense", ["note"]),
                ("/inbox/1/rate", ["rating", "reason", "back"]), ("/settings/owners/save", ["subject", "team", "responsible", "accountable", "consulted", "informed"]),
                ("/meetings/start", ["week", "title"]), ("/meetings/1/decide", ["decision"]), ("/meetings/1/item", ["title", "owner", "due"]),
                ("/meetings/1/attendees", ["attendee_u-admin", "attendee_%00"]), ("/meetings/1/notes", ["notes"]), ("/meetings/99999999999999999999/finish", []),
                ("/meetings/x/nonsense", ["back"]), ("/action-items/1/done", ["back"]), ("/action-items/-1/reopen", ["back"]),
                ("/campaigns/%00/review", ["text", "decision"]), ("/campaigns/cmp-email-1/review", ["text", "decision"]),
            ]
            // An open meeting and an action item, so the meeting forms reach the store's checks.
            let meeting = try await w.store.createMeeting(week: try #require(AgendaWeek.parse("2025-W50")), title: "Fuzz", attendees: [], actor: Fixture.actor, at: Fixture.clock.now())
            #expect(meeting.id == 1)
            _ = try await w.store.createActionItem(
                ActionItemDraft(title: "Fuzz", ownerID: "u-admin", due: LocalDate(year: 2026, month: 1, day: 5), meetingID: 1),
                actor: Fixture.actor,
                at: Fixture.clock.now()
            )
            var rng = SeededRandom(seed: 14)
            var sent = 0
            for (path, fields) in forms {
                for round in 0..<12 {
                    var form = ["_csrf": csrf]
                    for f in fields { form[f] = round < Self.hostile.count ? Self.hostile[(round + fields.count) % Self.hostile.count] : "" }
                    for f in fields where rng.int(0...2) == 0 { form[f] = Self.hostile[rng.int(0...(Self.hostile.count - 1))] }
                    let page = try await WebSessionTests.call(client, .post, path, cookies: [admin], form: form)
                    sent += 1
                    #expect(page.status.code < 500, "\(path) \(form.mapValues { $0.prefix(30) }) → \(page.status)")
                    #expect(!page.text.contains("<script>alert(1)</script>"), "\(path) echoes markup unescaped")
                }
            }
            let pages = [
                "/?from=0001-01-01&to=9999-12-31", "/?from=2026-02-30", "/?by=planet&model=magic", "/kpis/nonsense", "/kpis/mqls?by=team&key=%00",
                "/leads?stale=1e308", "/leads?stale=-1&stage=%3Cscript%3E&q=" + String(repeating: "q", count: 5_000), "/leads/%00", "/campaigns/..%2F..",
                "/settings/nothing", "/inbox?user=%27%20OR%201%3D1", "/pipeline?from=x",
                "/meetings?week=2026-W99", "/meetings?week=%00", "/meetings/0", "/meetings/99999999999999999999", "/meetings/1/minutes/exe",
                "/lead-quality?by=planet&from=1", "/lead-quality?from=0001-01-01&to=9999-12-31", "/settings/owners",
            ]
            for uri in pages {
                let page = try await WebSessionTests.call(client, .get, uri, cookies: [admin])
                sent += 1
                #expect(page.status.code < 500, "\(uri) → \(page.status)")
            }
            #expect(sent > 150)
            #expect(try await WebSessionTests.call(client, .get, "/", cookies: [admin]).status == .ok)
            // Whatever the meeting took was checked: decisions within their length, no control characters.
            let after = try #require(try await w.store.meeting(id: 1))
            #expect(after.decisions.allSatisfy { $0.count <= MeetingRules.decisionMax && !$0.unicodeScalars.contains { $0.value == 0 } })
            #expect(try await w.store.actionItems(ActionItemQuery()).allSatisfy { $0.title.count <= MeetingRules.titleMax })
            // Whatever was accepted is within its field's range.
            var q = ListQuery()
            q.limit = 1000
            for target in try await w.store.list(.targets, q).records {
                for (spec, value) in zip(Resource.targets.schema.fields, target.values) { #expect(spec.check(value) == nil, "\(target.id): \(spec.name)") }
            }
        }
    }
}
