import Foundation
import HTTPTypes
import HummingbirdTesting
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

@Suite("Privacy API")
struct PrivacyAPITests {
    @Test("erase, export and erasures: admin only; a reason is required; a second erasure is 409; the export holds everything and then nothing personal", arguments: ServerBackend.allCases)
    func privacy(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let admin = f.tokens[.admin]
        try await f.app().test(.live) { client in
            let created = try await client.call(
                .post, "/api/v1/contacts", token: admin,
                body: #"{"id":"ct-p","email":"Pia.Privat@privat-example.com","first_name":"Pia","last_name":"Privatova","phone":"+49 1","created_at":"2026-01-01T00:00:00Z","lifecycle_stage":"lead"}"#
            )
            #expect(created.status == .created, "\(created.text)")
            let event = try await client.call(
                .post, "/api/v1/events", token: admin,
                body: #"{"id":"ev-p","type":"form_submission","occurred_at":"2026-01-02T00:00:00Z","contact_id":"ct-p","properties":{"form":"demo","note":"call Pia Privatova"}}"#
            )
            #expect(event.status == .ok && event.json["accepted"] as? Int == 1, "\(event.text)")
            for role in [AccessRole.marketing, .sales, .viewer] {
                let e = try await client.call(.post, "/api/v1/contacts/ct-p/erase", token: f.tokens[role], body: #"{"reason":"Art. 17"}"#)
                #expect(e.status == .forbidden && e.isProblem, "\(role)")
                #expect(try await client.call(.get, "/api/v1/contacts/ct-p/export", token: f.tokens[role]).status == .forbidden)
                #expect(try await client.call(.get, "/api/v1/erasures", token: f.tokens[role]).status == .forbidden)
            }
            #expect(try await client.call(.post, "/api/v1/contacts/ct-p/erase", token: nil, body: #"{"reason":"x"}"#).status == .unauthorized)

            let export = try await client.call(.get, "/api/v1/contacts/ct-p/export", token: admin)
            #expect(export.status == .ok && export.text.contains("Pia.Privat@privat-example.com") && export.text.contains("call Pia Privatova"), "\(export.text)")
            #expect((export.json["touchpoints"] as? [[String: Any]])?.first?["id"] as? String == "ev-p")
            #expect(try await client.call(.get, "/api/v1/contacts/nobody/export", token: admin).status == .notFound)

            let blank = try await client.call(.post, "/api/v1/contacts/ct-p/erase", token: admin, body: #"{"reason":"   "}"#)
            #expect(blank.status == .unprocessableContent && blank.isProblem && (blank.json["detail"] as? String)?.contains("reason") == true, "\(blank.text)")
            #expect(try await client.call(.post, "/api/v1/contacts/ct-p/erase", token: admin, body: "{}").status == .unprocessableContent)
            #expect(try await client.call(.post, "/api/v1/contacts/nobody/erase", token: admin, body: #"{"reason":"Art. 17"}"#).status == .notFound)

            let erased = try await client.call(.post, "/api/v1/contacts/ct-p/erase", token: admin, body: #"{"reason":"Art. 17 request, ticket 9"}"#)
            #expect(erased.status == .ok, "\(erased.text)")
            #expect(erased.json["contact_id"] as? String == "ct-p" && erased.json["reason"] as? String == "Art. 17 request, ticket 9")
            #expect((erased.json["changed"] as? [String: Int])?["contacts"] == 1 && (erased.json["vendors"] as? [Any])?.isEmpty == true)
            let again = try await client.call(.post, "/api/v1/contacts/ct-p/erase", token: admin, body: #"{"reason":"Art. 17"}"#)
            #expect(again.status == .conflict && again.isProblem)

            let after = try await client.call(.get, "/api/v1/contacts/ct-p/export", token: admin)
            #expect(after.status == .ok && !after.text.contains("Pia") && !after.text.contains("privat-example"), "\(after.text)")
            #expect((after.json["erasure"] as? [String: Any])?["reason"] as? String == "Art. 17 request, ticket 9")
            let list = try await client.call(.get, "/api/v1/erasures", token: admin)
            #expect((list.json["erasures"] as? [[String: Any]])?.map { $0["contact_id"] as? String } == ["ct-p"], "\(list.text)")

            // The address comes back through the API: a new contact, flagged in the list and its export.
            let back = try await client.call(
                .post, "/api/v1/contacts", token: admin,
                body: #"{"id":"ct-q","email":"pia.privat@privat-example.com","created_at":"2026-02-01T00:00:00Z","lifecycle_stage":"lead"}"#
            )
            #expect(back.status == .created)
            let flagged = try await client.call(.get, "/api/v1/erasures", token: admin)
            #expect((flagged.json["flagged"] as? [[String: Any]])?.first?["erased_contact_id"] as? String == "ct-p", "\(flagged.text)")
            #expect((try await client.call(.get, "/api/v1/contacts/ct-q/export", token: admin).json["earlier_person_erased"] as? [String: Any]) != nil)
        }
    }

    @Test("consent: any role reads it, roles that write contacts set it, an unsubscribe event sets it; the list filters by status", arguments: ServerBackend.allCases)
    func consent(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let admin = f.tokens[.admin]
        try await f.app().test(.live) { client in
            for id in ["ct-a", "ct-b"] {
                let body = #"{"id":"\#(id)","email":"\#(id)@consent.example","created_at":"2026-01-01T00:00:00Z","lifecycle_stage":"lead"}"#
                #expect(try await client.call(.post, "/api/v1/contacts", token: admin, body: body).status == .created)
            }
            let none = try await client.call(.get, "/api/v1/contacts/ct-a/consent", token: f.tokens[.viewer])
            #expect(none.status == .ok && none.json["status"] is NSNull && none.json["contact_id"] as? String == "ct-a", "\(none.text)")
            #expect(try await client.call(.get, "/api/v1/contacts/nobody/consent", token: admin).status == .notFound)
            let viewer = try await client.call(.put, "/api/v1/contacts/ct-a/consent", token: f.tokens[.viewer], body: #"{"status":"unsubscribed"}"#)
            #expect(viewer.status == .forbidden && viewer.isProblem)
            #expect(try await client.call(.put, "/api/v1/contacts/ct-a/consent", token: admin, body: #"{"status":"maybe"}"#).status == .unprocessableContent)
            let set = try await client.call(.put, "/api/v1/contacts/ct-a/consent", token: f.tokens[.marketing], body: #"{"status":"subscribed","source":"double opt-in form"}"#)
            #expect(set.status == .ok && set.json["status"] as? String == "subscribed" && set.json["source"] as? String == "double opt-in form", "\(set.text)")
            let dflt = try await client.call(.put, "/api/v1/contacts/ct-b/consent", token: f.tokens[.sales], body: #"{"status":"subscribed"}"#)
            #expect(dflt.json["source"] as? String == "user:u-sales")
            // An unsubscribe event after that stands.
            let unsub = try await client.call(
                .post, "/api/v1/events", token: admin, body: #"{"id":"ev-unsub","type":"unsubscribe","occurred_at":"2099-01-01T00:00:00Z","contact_id":"ct-a"}"#
            )
            #expect(unsub.status == .ok, "\(unsub.text)")
            let now = try await client.call(.get, "/api/v1/contacts/ct-a/consent", token: f.tokens[.viewer])
            #expect(now.json["status"] as? String == "unsubscribed" && now.json["source"] as? String == "event:ev-unsub", "\(now.text)")
            let list = try await client.call(.get, "/api/v1/consent?status=unsubscribed", token: f.tokens[.viewer])
            #expect(list.data.map { $0["contact_id"] as? String } == ["ct-a"] && list.json["next_after"] is NSNull, "\(list.text)")
            let page = try await client.call(.get, "/api/v1/consent?limit=1", token: f.tokens[.viewer])
            #expect(page.data.count == 1 && page.json["next_after"] as? String == "ct-a")

            // Retention's dry run: admin only; off by default; ?months= tries a value, changing nothing.
            #expect(try await client.call(.get, "/api/v1/retention", token: f.tokens[.marketing]).status == .forbidden)
            let off = try await client.call(.get, "/api/v1/retention", token: admin)
            #expect(off.status == .ok && off.json["months"] as? Int == 0 && off.json["cutoff"] is NSNull && off.json["due"] as? Int == 0, "\(off.text)")
            let old = #"{"id":"ct-old","email":"old@consent.example","created_at":"2024-01-01T00:00:00Z"}"#
            #expect(try await client.call(.post, "/api/v1/contacts", token: admin, body: old).status == .created)
            let tried = try await client.call(.get, "/api/v1/retention?months=12", token: admin)
            #expect(tried.json["dry_run"] as? Bool == true && tried.json["due"] as? Int == 1 && tried.json["anonymised"] as? Int == 0, "\(tried.text)")
            #expect((tried.json["sample"] as? [[String: Any]])?.map { $0["contact_id"] as? String } == ["ct-old"])
            #expect((try await client.call(.get, "/api/v1/erasures", token: admin).json["erasures"] as? [Any])?.isEmpty == true, "a dry run erases nothing")
            #expect(try await client.call(.get, "/api/v1/retention?months=601", token: admin).status == .unprocessableContent)
        }
    }
}
