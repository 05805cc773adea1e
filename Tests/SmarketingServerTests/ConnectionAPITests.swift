import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing
import VendorFakes

@Suite("Connections over HTTP: the admin API and inbound vendor webhooks")
struct ConnectionAPITests {
    static let secret = "hubspot-app-client-secret"

    func app(_ f: Fixture) -> some ApplicationProtocol {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.secretBox = SecretBox(key: SymmetricKey(size: .bits256))
        configuration.publicURL = "https://smarketing.example"
        // The fake vendor listens on loopback.
        configuration.allowPrivateURLs = true
        return buildApplication(configuration: configuration, store: f.store, clock: Fixture.clock, logger: Logger(label: "test"))
    }

    /// A HubSpot webhook delivery signed as HubSpot signs it.
    func signed(_ body: String, at ms: Int64, secret: String = ConnectionAPITests.secret) -> [(String, String)] {
        let signature = InboundWebhooks.hubspotSignature(
            method: "POST",
            url: "https://smarketing.example/hooks/hs",
            body: Array(body.utf8),
            timestamp: String(ms),
            secret: secret
        )
        return [("X-HubSpot-Signature-v3", signature), ("X-HubSpot-Request-Timestamp", String(ms)), ("Content-Type", "application/json")]
    }

    @Test("admins connect, sync and read runs; credentials never come back; other roles are refused")
    func adminAPI() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let fake = FakeHubSpot()
        fake.grant(token: "pat-secret-token")
        FakeData.fillHubSpot(fake, people: 120, activities: 120, seed: 2)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        try await app(f).test(.live) { client in
            let body = """
                {"vendor":"hubspot","name":"hs","base_url":"\(server.baseURL)","credentials":{"access_token":"pat-secret-token","webhook_secret":"\(Self.secret)"},"settings":{"sync_interval_minutes":"0"}}
                """
            #expect(try await client.call(.post, "/api/v1/connections", token: f.tokens[.marketing], body: body).status == .forbidden)
            let created = try await client.call(.post, "/api/v1/connections", token: f.tokens[.admin], body: body)
            #expect(created.status == .created, "\(created.text)")
            #expect(!created.text.contains("pat-secret-token") && !created.text.contains(Self.secret))
            let again = try await client.call(.post, "/api/v1/connections", token: f.tokens[.admin], body: body)
            #expect(again.status == .conflict && again.isProblem)
            let bad = try await client.call(.post, "/api/v1/connections", token: f.tokens[.admin], body: #"{"vendor":"hubspot","name":"x","credentials":{}}"#)
            #expect(bad.status == .unprocessableContent && bad.isProblem, "\(bad.text)")
            let list = try await client.call(.get, "/api/v1/connections", token: f.tokens[.admin])
            #expect(list.status == .ok && list.text.contains("\"name\":\"hs\"") && !list.text.contains("pat-secret-token"))
            let sync = try await client.call(.post, "/api/v1/connections/hs/sync", token: f.tokens[.admin])
            #expect(sync.status == .accepted)
            var runs = Reply(status: .ok, headers: [:], text: "")
            for _ in 0..<100 {
                runs = try await client.call(.get, "/api/v1/connections/hs/runs", token: f.tokens[.admin])
                if runs.text.contains("\"status\":\"ok\"") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(runs.text.contains("\"status\":\"ok\""), "\(runs.text)")
            #expect(try await f.store.count(.contacts) == 120)
            #expect(try await client.call(.get, "/api/v1/connections/nope/runs", token: f.tokens[.admin]).status == .notFound)
            // The stored secrets are sealed: the database file does not hold the token.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: f.dir + "/api.sqlite"))
            #expect(bytes.range(of: Data("pat-secret-token".utf8)) == nil)
            #expect(try await client.call(.delete, "/api/v1/connections/hs", token: f.tokens[.admin]).status == .noContent)
            #expect(try await client.call(.delete, "/api/v1/connections/hs", token: f.tokens[.admin]).status == .notFound)
        }
    }

    @Test("HubSpot webhooks: signed and recent are taken once; a bad signature or an old timestamp is refused; deletions unlink")
    func hubspotWebhooks() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let fake = FakeHubSpot()
        fake.grant(token: "t")
        FakeData.fillHubSpot(fake, people: 30, activities: 0, seed: 4)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let service = ConnectionService(store: try #require(f.store as? SQLiteStore), box: SecretBox(key: SymmetricKey(size: .bits256)), clock: Fixture.clock)
        try await app(f).test(.live) { client in
            let body = """
                {"vendor":"hubspot","name":"hs","base_url":"\(server.baseURL)","credentials":{"access_token":"t","webhook_secret":"\(Self.secret)"},"settings":{"sync_interval_minutes":"0"}}
                """
            #expect(try await client.call(.post, "/api/v1/connections", token: f.tokens[.admin], body: body).status == .created)
            _ = try await client.call(.post, "/api/v1/connections/hs/sync", token: f.tokens[.admin])
            for _ in 0..<100 where try await f.store.count(.contacts) < 30 { try await Task.sleep(for: .milliseconds(100)) }
            _ = service
            let now = Fixture.clock.now().milliseconds
            let event = #"[{"eventId":77,"subscriptionId":1,"portalId":9,"occurredAt":1767225600000,"subscriptionType":"contact.deletion","attemptNumber":0,"objectId":10003,"changeSource":"CRM"}]"#
            func post(_ body: String, _ headers: [(String, String)]) async throws -> HTTPResponse.Status {
                var fields = HTTPFields()
                for (k, v) in headers { fields[HTTPField.Name(k)!] = v }
                return try await client.execute(uri: "/hooks/hs", method: .post, headers: fields, body: ByteBuffer(string: body)) { $0.status }
            }
            #expect(try await post(event, signed(event, at: now, secret: "wrong")) == .unauthorized)
            #expect(try await post(event, signed(event, at: now - 400_000)) == .unauthorized)
            #expect(try await post(event, [("Content-Type", "application/json")]) == .unauthorized)
            #expect(try await post(event, signed(event, at: now - 60_000)) == .ok)
            let linked = try await #require(f.store as? SQLiteStore).linkedRecord(connection: "hs", object: "contacts", externalID: "10003")
            #expect(linked == nil, "the deleted contact's link is gone")
            #expect(try await f.store.count(.contacts) == 30, "the record and its history stay")
            // The same delivery again (HubSpot retries) changes nothing and is still acknowledged.
            #expect(try await post(event, signed(event, at: now)) == .ok)
            let audit = try await f.store.audit(limit: 50, before: nil).filter { $0.action == "unlink" }
            #expect(audit.count == 1)
            // A signed body that is not HubSpot's array of events names nothing.
            #expect(try await post("{}", signed("{}", at: now)) == .ok)
            // A change event starts an incremental sync of the people soon after (the scheduler).
            let runsBefore = try await #require(f.store as? SQLiteStore).syncRuns(connection: "hs", limit: 100).count
            let change = #"[{"eventId":78,"subscriptionType":"contact.propertyChange","objectId":10004,"propertyName":"jobtitle","propertyValue":"CEO"}]"#
            #expect(try await post(change, signed(change, at: now)) == .ok)
            var runsAfter = runsBefore
            for _ in 0..<80 where runsAfter == runsBefore {
                try await Task.sleep(for: .milliseconds(100))
                runsAfter = try await #require(f.store as? SQLiteStore).syncRuns(connection: "hs", limit: 100).count
            }
            #expect(runsAfter == runsBefore + 1, "the webhook led to a sync")
            // Unknown connection names are 404 before any signature work.
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            let missing = try await client.execute(uri: "/hooks/nobody", method: .post, headers: fields, body: ByteBuffer(string: "[]")) { $0.status }
            #expect(missing == .notFound)
        }
    }

    @Test("the Connections settings page lists status, counts and errors, never credentials; sync now needs the CSRF token")
    func settingsPage() async throws {
        let w = try await WebWorkspace.make(leads: 50)
        defer { w.remove() }
        let fake = FakeHubSpot()
        fake.grant(token: "web-secret-token")
        FakeData.fillHubSpot(fake, people: 40, activities: 0, seed: 3)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let service = ConnectionService(store: w.store, box: Fixture.secretBox, clock: WebWorkspace.clock)
        _ = try await service.add(
            name: "crm",
            vendor: .hubspot,
            baseURL: server.baseURL,
            secrets: ["access_token": "web-secret-token"],
            settings: ["sync_interval_minutes": "0"],
            actor: Fixture.actor
        )
        try await w.app().test(.router) { client in
            let (admin, csrf, _) = try await WebSettingsTests.signIn(client, w.people[.admin]!)
            let page = try await WebSessionTests.call(client, .get, "/settings/connections", cookies: [admin])
            #expect(page.status == .ok && page.text.contains(">crm<") && page.text.contains("HubSpot") && page.text.contains("Sync now"))
            #expect(!page.text.contains("web-secret-token"))
            let forged = try await WebSessionTests.call(client, .post, "/settings/connections/sync", cookies: [admin], form: ["name": "crm"])
            #expect(forged.status == .forbidden)
            let ok = try await WebSessionTests.call(client, .post, "/settings/connections/sync", cookies: [admin], form: ["name": "crm", "_csrf": csrf])
            #expect(ok.status == .seeOther)
            for _ in 0..<100 where try await w.store.syncRuns(connection: "crm", limit: 1).first?.status != "ok" { try await Task.sleep(for: .milliseconds(100)) }
            let after = try await WebSessionTests.call(client, .get, "/settings/connections", cookies: [admin])
            #expect(after.text.contains(">ok<"), "\(after.text.prefix(200))")
            let (sales, _, _) = try await WebSettingsTests.signIn(client, w.people[.sales]!)
            #expect(try await WebSessionTests.call(client, .get, "/settings/connections", cookies: [sales]).status == .forbidden)
        }
    }

    @Test("the scheduler syncs a connection on its interval without being asked")
    func interval() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let fake = FakeHubSpot()
        fake.grant(token: "t")
        FakeData.fillHubSpot(fake, people: 25, activities: 0, seed: 5)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        try await app(f).test(.live) { client in
            let body = #"{"vendor":"hubspot","name":"hs","base_url":"\#(server.baseURL)","credentials":{"access_token":"t"},"settings":{"sync_interval_minutes":"60"}}"#
            #expect(try await client.call(.post, "/api/v1/connections", token: f.tokens[.admin], body: body).status == .created)
            // Never synced: due at once.
            for _ in 0..<80 where try await f.store.count(.contacts) < 25 { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await f.store.count(.contacts) == 25)
            #expect(try await #require(f.store as? SQLiteStore).syncRuns(connection: "hs", limit: 10).count == 1)
        }
    }

    @Test("Pipedrive basic auth, Marketo token and Salesforce outbound messages are verified; the outbound message is acknowledged in SOAP")
    func otherWebhooks() {
        let now = Timestamp(seconds: 1_767_225_600)
        let pdBody = #"{"meta":{"action":"change","entity":"person","entity_id":"42","correlation_id":"c-1","version":"2.0"},"data":{"id":42},"previous":{}}"#
        let auth = "Basic " + Data("hook:pw".utf8).base64EncodedString()
        let pd = InboundWebhooks.verify(
            .pipedrive,
            InboundRequest(method: "POST", url: "/hooks/pd", headers: [("Authorization", auth)], body: Array(pdBody.utf8), query: [:]),
            secrets: ["webhook_user": "hook", "webhook_password": "pw"],
            now: now
        )
        #expect((try? pd.get())?.first == InboundEvent(id: "c-1", object: .people, externalID: "42", deleted: false))
        let pdBad = InboundWebhooks.verify(
            .pipedrive,
            InboundRequest(method: "POST", url: "/hooks/pd", headers: [("Authorization", "Basic eDp5")], body: Array(pdBody.utf8), query: [:]),
            secrets: ["webhook_user": "hook", "webhook_password": "pw"],
            now: now
        )
        #expect((try? pdBad.get()) == nil)
        let mk = InboundWebhooks.verify(
            .marketo,
            InboundRequest(method: "POST", url: "/hooks/mk", headers: [("X-Smarketing-Token", "tok")], body: Array(#"{"leadId": 318581}"#.utf8), query: [:]),
            secrets: ["webhook_token": "tok"],
            now: now
        )
        #expect((try? mk.get())?.first?.externalID == "318581")
        let soap = """
            <?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
            <notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000001</OrganizationId><ActionId>04k</ActionId>
            <Notification><Id>04l000000000001</Id><sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>00Q000000000001AAA</sf:Id></sObject></Notification>
            </notifications></soapenv:Body></soapenv:Envelope>
            """
        let sf = InboundWebhooks.verify(
            .salesforce,
            InboundRequest(method: "POST", url: "/hooks/sf", headers: [], body: Array(soap.utf8), query: ["token": "om"]),
            secrets: ["outbound_token": "om"],
            now: now
        )
        #expect((try? sf.get()) == [InboundEvent(id: "04l000000000001", object: .people, externalID: "00Q000000000001AAA", deleted: false)])
        #expect(InboundWebhooks.acknowledgement(.salesforce).body.contains("<Ack>true</Ack>"))
        let sfBad = InboundWebhooks.verify(
            .salesforce,
            InboundRequest(method: "POST", url: "/hooks/sf", headers: [], body: Array(soap.utf8), query: ["token": "guess"]),
            secrets: ["outbound_token": "om"],
            now: now
        )
        #expect((try? sfBad.get()) == nil)
    }
}
