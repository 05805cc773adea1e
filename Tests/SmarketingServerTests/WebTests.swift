import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

/// A demo workspace (two years ending at the fixed clock) with the demo scoring model, routing
/// and SLA applied, the waiting MQLs routed, and one signed-in-able person per role.
struct WebWorkspace {
    let dir: String
    let store: SQLiteStore
    /// Email and password per role; `sales` is a rep with open handovers.
    var people: [AccessRole: (email: String, password: String)] = [:]
    static let clock = Fixture.clock

    static func make(leads: Int = 500, scoringModel: Bool = true) async throws -> WebWorkspace {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-web-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var w = WebWorkspace(dir: dir, store: try SQLiteStore.workspace(path: dir + "/web.sqlite"))
        let bundle = dir + "/bundle"
        _ = try DemoWorkspace(leads: leads, seed: 3).write(to: bundle)
        let actor = Fixture.actor
        let now = clock.now()
        let imported = try await w.store.importRows(try Bundle.open(bundle), options: ImportOptions(), actor: actor, at: now) { _ in }
        #expect(imported.committed)
        if scoringModel {
            let model = try #require(ScoringModelFile.parser(DemoWorkspace.scoringModelText))
            _ = try await w.store.applyScoringModel(text: DemoWorkspace.scoringModelText, model: model, comment: "demo", actor: actor, at: now, progress: nil)
        }
        let handover = try #require(HandoverConfigFile.parser(DemoWorkspace.handoverConfigText))
        _ = try await w.store.applyHandoverConfig(text: DemoWorkspace.handoverConfigText, config: handover, comment: "demo", actor: actor, at: now)
        // Four recent leads become MQLs now, so that reps have work waiting in their inboxes.
        var lq = ListQuery()
        lq.equals["lifecycle_stage"] = .text("lead")
        lq.sort = "created_at"
        lq.descending = true
        lq.limit = 4
        for c in try await w.store.list(.contacts, lq).records {
            _ = try await w.store.update(
                .contacts,
                id: c.id,
                fields: ["lifecycle_stage": .text("mql"), "became_mql_at": .timestamp(now)],
                actor: actor,
                at: now
            )
        }
        _ = try await w.store.routeWaitingMQLs(at: now)
        var hq = HandoverQuery()
        hq.openOnly = true
        hq.limit = 100
        var open = try await w.store.handovers(hq, at: now)
        var q = ListQuery()
        q.limit = 1000
        let users = try await w.store.list(.users, q).records
        // New Year's Day is a holiday in the demo calendars: the router queues the leads, and a
        // manager hands them to a rep.
        let someRep = try #require(users.first { $0["team"].text == "sales" && $0["role"].text != "manager" }).id
        for h in open where h.status == .queued {
            _ = try await w.store.reassignHandover(id: h.id, to: someRep, actor: actor, at: now)
        }
        open = try await w.store.handovers(hq, at: now).filter { $0.status == .assigned }
        let rep = try #require(open.first?.ownerID, "the demo routes no MQL to a rep")
        var viewer = Record(.users, values: Array(repeating: .null, count: Resource.users.schema.fields.count))
        viewer["id"] = .text("u-viewer-web")
        viewer["email"] = .text("viewer@web.example")
        viewer["name"] = .text("Vera Viewer")
        viewer["access_role"] = .text("viewer")
        try await w.store.create(viewer, actor: actor, at: now)
        let marketer = try #require(users.first { $0["team"].text == "marketing" && $0["access_role"].text != "admin" })
        for (role, id) in [(AccessRole.admin, "u-admin"), (.marketing, marketer.id), (.sales, rep), (.viewer, "u-viewer-web")] {
            let password = "pw-\(role.rawValue)-0123456789"
            try await w.store.setPasswordHash(userID: id, hash: PasswordHash.make(password), actor: actor, at: now)
            let email = try #require(try await w.store.get(.users, id: id)?["email"].text)
            w.people[role] = (email, password)
        }
        return w
    }

    func app() -> some ApplicationProtocol {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.backgroundServices = false
        configuration.secretBox = Fixture.secretBox
        return buildApplication(configuration: configuration, store: store, clock: Self.clock, logger: Logger(label: "web-test"))
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

@Suite("Web app in headless Chromium", .serialized, .enabled(if: Browser.executable != nil, "needs Debian's chromium (.ci/run installs it)"))
struct WebBrowserTests {
    /// Signs in through the form and returns where the browser landed.
    static func signIn(_ tab: Tab, base: String, _ person: (email: String, password: String), from path: String = "/login") async throws -> String {
        try await tab.open(base + path)
        try await tab.fill(["input[name=email]": person.email, "input[name=password]": person.password])
        try await tab.clickAndWait("form[action='/login'] button[type=submit]")
        return try await tab.path
    }

    @Test("each role signs in, lands on its start page and every page it may open renders without console errors or failed requests")
    func everyRoleEveryPage() async throws {
        let w = try await WebWorkspace.make()
        defer { w.remove() }
        let shots = ProcessInfo.processInfo.environment["SMARKETING_SCREENSHOTS"]
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let expectedHome: [AccessRole: String] = [.admin: "/", .marketing: "/campaigns", .sales: "/inbox", .viewer: "/"]
            for role in [AccessRole.admin, .marketing, .sales, .viewer] {
                let tab = try await browser.tab()
                // A page asked for without a session goes to the sign-in form and back after it.
                try await tab.open(base + "/leads?stage=mql")
                #expect(try await tab.path.hasPrefix("/login?next="), "\(role)")
                try await tab.fill(["input[name=email]": w.people[role]!.email, "input[name=password]": w.people[role]!.password])
                try await tab.clickAndWait("form[action='/login'] button[type=submit]")
                #expect(try await tab.path == "/leads?stage=mql", "\(role)")
                _ = tab.takeProblems()  // the redirect to /login is not a failure
                // Signing in from the form itself lands on the role's start page.
                let other = try await browser.tab()
                #expect(try await Self.signIn(other, base: base, w.people[role]!) == expectedHome[role]!, "\(role)")
                // Every navigation link of the role renders cleanly.
                let links =
                    (try await tab.eval("Array.from(document.querySelectorAll('nav[aria-label=Main] a')).map(a => a.getAttribute('href'))") as? [String]) ?? []
                #expect(!links.isEmpty)
                var pages = links
                if role == .admin { pages += ["/settings/tokens", "/settings/webhooks", "/settings/scoring", "/settings/routing", "/settings/targets"] }
                for link in pages {
                    try await tab.open(base + link)
                    let h1 = try await tab.text("h1")
                    #expect(!h1.isEmpty && !h1.contains("Forbidden") && !h1.contains("Not Found"), "\(role) \(link): \(h1)")
                    #expect(tab.takeProblems().isEmpty, "\(role) \(link): \(tab.takeProblems())")
                    #expect(
                        try await tab.eval("/[>\\s\"]nil[<\\s\"]/.test(document.documentElement.outerHTML)") as? Bool == false,
                        "\(role) \(link) prints nil"
                    )
                }
                // A lead page and a campaign page (linked from the lists).
                try await tab.open(base + "/leads")
                if let lead = try await tab.eval("document.querySelector('table a[href^=\"/leads/\"]')?.getAttribute('href')") as? String {
                    try await tab.open(base + lead)
                    #expect(try await tab.eval("document.querySelectorAll('.timeline li').length") as? Int ?? 0 > 0, "\(role) \(lead)")
                    #expect(tab.takeProblems().isEmpty, "\(role) \(lead)")
                }
                try await tab.open(base + "/campaigns?from=2025-07-01&to=2026-01-01")
                if let campaign = try await tab.eval("document.querySelector('table a[href^=\"/campaigns/\"]')?.getAttribute('href')") as? String {
                    try await tab.open(base + campaign)
                    #expect(try await tab.eval("document.querySelectorAll('svg.chart.bars g').length") as? Int ?? 0 >= 8, "\(role) \(campaign)")
                    #expect(tab.takeProblems().isEmpty, "\(role) \(campaign)")
                }
                // What the role may not open says so.
                if role != .admin {
                    try await tab.open(base + "/settings/users")
                    #expect(try await tab.text("h1") == "Forbidden", "\(role)")
                    _ = tab.takeProblems()
                }
                if let shots, role == .admin {
                    for (name, page) in [
                        ("dashboard", "/?from=2025-10-01&to=2026-01-01&by=channel"), ("campaigns", "/campaigns?from=2025-07-01&to=2026-01-01"),
                        ("pipeline", "/pipeline"),
                        ("leads", "/leads"), ("settings-routing", "/settings/routing"),
                    ] {
                        try await tab.open(base + page)
                        try await tab.screenshot(to: "\(shots)/\(name).png")
                    }
                }
                if let shots, role == .sales {
                    try await tab.open(base + "/inbox")
                    try await tab.screenshot(to: "\(shots)/inbox.png")
                    let phone = try await browser.tab(width: 390, height: 844)
                    _ = try await Self.signIn(phone, base: base, w.people[.sales]!)
                    try await phone.screenshot(to: "\(shots)/inbox-phone.png")
                }
            }
        }
    }

    @Test("a sales rep accepts a lead in the inbox in one click and the dashboard open in a second tab updates live")
    func acceptUpdatesDashboardLive() async throws {
        let w = try await WebWorkspace.make()
        defer { w.remove() }
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let rep = try await browser.tab(isolated: false)
            #expect(try await WebBrowserTests.signIn(rep, base: base, w.people[.sales]!) == "/inbox")
            let dashboard = try await browser.tab(isolated: false)
            try await dashboard.open(base + "/?from=2025-10-01&to=2026-01-01")
            // Wait until the live stream is connected.
            for _ in 0..<100 where try await dashboard.text("#live-status") != "Live" { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try await dashboard.text("#live-status") == "Live")
            let before = try await dashboard.eval("document.querySelector('#live .tiles').getAttribute('data-version')") as? String
            let items = try await rep.eval("document.querySelectorAll('[data-handover]').length") as? Int ?? 0
            #expect(items > 0)
            let first = try #require(
                try await rep.eval("document.querySelector('[data-handover] button[data-action=accept]').closest('article').getAttribute('data-handover')")
                    as? String
            )
            try await rep.clickAndWait("#handover-\(first) button[data-action=accept]")
            #expect(try await rep.text(".flash").hasPrefix("Accepted"))
            #expect(try await rep.eval("document.querySelector('#handover-\(first) button[data-action=accept]') === null") as? Bool == true)
            let h = try #require(try await w.store.handover(id: Int64(first)!, at: WebWorkspace.clock.now()))
            #expect(h.status == .accepted)
            // The dashboard's live region is re-rendered from the new aggregates without a reload.
            var after = before
            for _ in 0..<60 where after == before {
                try await Task.sleep(for: .milliseconds(50))
                after = try await dashboard.eval("document.querySelector('#live .tiles').getAttribute('data-version')") as? String
            }
            #expect(after != before, "the dashboard did not update within 3 s")
            #expect(try await dashboard.text("#live-status").hasPrefix("Live · updated"))
            #expect(rep.takeProblems().isEmpty && dashboard.takeProblems().isEmpty)
        }
    }

    @Test("a form with a bad value shows the error next to the field and keeps what was typed")
    func formErrorsNextToFields() async throws {
        let w = try await WebWorkspace.make(leads: 200)
        defer { w.remove() }
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let tab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(tab, base: base, w.people[.admin]!)
            try await tab.open(base + "/settings/targets")
            try await tab.fill(["input[name=period]": "2026-02", "input[name=value]": "lots"])
            try await tab.clickAndWait("form[action='/settings/targets/save'] button")
            #expect(try await tab.text("#err-value") == "A number from 0 to 1000000000000.")
            #expect(try await tab.eval("document.querySelector('input[name=value]').getAttribute('aria-invalid')") as? String == "true")
            #expect(try await tab.eval("document.querySelector('input[name=value]').getAttribute('aria-describedby')") as? String == "err-value")
            #expect(try await tab.eval("document.querySelector('input[name=period]').value") as? String == "2026-02")
            #expect(try await tab.text("#err-period").isEmpty)
            _ = tab.takeProblems()  // the 422 of the form post
            // A good value saves and lists the target.
            try await tab.fill(["input[name=value]": "1234"])
            try await tab.clickAndWait("form[action='/settings/targets/save'] button")
            #expect(try await tab.text(".flash").contains("saved"))
            let saved = try await w.store.get(.targets, id: "2026-02|mqls|")
            #expect(saved?["value"].double == 1234, "\(String(describing: saved))")
            // A scoring model with a mistake lists every problem with line and column under the text.
            try await tab.open(base + "/settings/scoring")
            try await tab.eval("document.querySelector('#model').value = 'fit:\\n  rules: 3\\n'")
            try await tab.clickAndWait("form[action='/settings/scoring/validate'] button.secondary")
            let problems = try await tab.text("#model-problems")
            #expect(problems.contains("line "), "\(problems)")
            #expect(try await tab.eval("document.querySelector('#model').value") as? String == "fit:\n  rules: 3\n")
            // The dashboard's period picker reports a bad date beside it.
            try await tab.open(base + "/?from=2025-13-40")
            #expect(try await tab.text("#err-from").contains("is not a date"))
        }
    }
}

@Suite("Web sign-in, sessions and CSRF")
struct WebSessionTests {
    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var text: String
        var location: String { headers[.location] ?? "" }
        func cookie(_ name: String) -> String? {
            headers[values: .setCookie].first { $0.hasPrefix(name + "=") }
        }
        func hidden(_ name: String) -> String? {
            guard let r = text.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(text[r.upperBound...].prefix { $0 != "\"" })
        }
    }

    static func call(
        _ client: some TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        cookies: [String] = [],
        form: [String: String]? = nil
    )
        async throws -> Page
    {
        var headers: HTTPFields = [:]
        if !cookies.isEmpty { headers[.cookie] = cookies.joined(separator: "; ") }
        var body: ByteBuffer?
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            let text = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
            body = ByteBuffer(string: text)
        }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body) { r in
            Page(status: r.status, headers: r.headers, text: String(buffer: r.body))
        }
    }

    @Test("pages need a session; sign-in checks its form token, stores only a hash, rate-limits failures; posts need the CSRF token; logout ends the session")
    func sessions() async throws {
        let w = try await WebWorkspace.make(leads: 150)
        defer { w.remove() }
        let rep = w.people[.sales]!
        try await w.app().test(.router) { client in
            // Without a session every page goes to the sign-in form, remembering where it was.
            let anonymous = try await Self.call(client, .get, "/inbox")
            #expect(anonymous.status == .seeOther && anonymous.location == "/login?next=%2Finbox")
            #expect(try await Self.call(client, .get, "/live/dashboard").status == .unauthorized)
            // The API stays token-only and answers problems, not pages.
            let api = try await Self.call(client, .get, "/api/v1/kpis")
            #expect(api.status == .unauthorized && api.headers[.contentType] == "application/problem+json")

            // A wrong address in a browser is a page; under /api it stays a problem.
            let missing = try await client.execute(uri: "/nowhere", method: .get, headers: [.accept: "text/html,*/*"]) { r in
                (r.status, r.headers[.contentType] ?? "")
            }
            #expect(missing.0 == .notFound && missing.1.hasPrefix("text/html"))
            let missingAPI = try await client.execute(uri: "/api/v1/nowhere", method: .get, headers: [.accept: "text/html,*/*"]) { r in
                (r.status, r.headers[.contentType] ?? "")
            }
            #expect(missingAPI.0 == .notFound && missingAPI.1 == "application/problem+json")

            let form = try await Self.call(client, .get, "/login?next=%2Fleads")
            let loginCookie = try #require(form.cookie("smk_login"))
            #expect(loginCookie.contains("HttpOnly") && loginCookie.contains("SameSite=Lax"))
            let token = try #require(form.hidden("_csrf"))
            let pre = "smk_login=" + token
            // A sign-in without the form's token is refused.
            let forged = try await Self.call(client, .post, "/login", form: ["email": rep.email, "password": rep.password, "_csrf": token])
            #expect(forged.status == .forbidden)
            let wrong = try await Self.call(client, .post, "/login", cookies: [pre], form: ["email": rep.email, "password": "nope", "_csrf": token])
            #expect(wrong.status == .unauthorized && wrong.text.contains("Email or password is wrong."))
            // Signed in: the session cookie is HttpOnly and SameSite, and the store has only its hash.
            let ok = try await Self.call(
                client,
                .post,
                "/login",
                cookies: [pre],
                form: ["email": rep.email, "password": rep.password, "_csrf": token, "next": "/leads"]
            )
            #expect(ok.status == .seeOther && ok.location == "/leads")
            let setCookie = try #require(ok.cookie("smk_session"))
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Max-Age=43200"))
            let secret = String(setCookie.dropFirst("smk_session=".count).prefix { $0 != ";" })
            let session = "smk_session=" + secret
            #expect(try await w.store.webSession(idHash: secret, now: WebWorkspace.clock.now()) == nil)
            #expect(try await w.store.webSession(idHash: APIToken.hash(secret), now: WebWorkspace.clock.now())?.role == .sales)
            // An absolute URL in `next` is not followed.
            let offsite = try await Self.call(
                client,
                .post,
                "/login",
                cookies: [pre],
                form: ["email": rep.email, "password": rep.password, "_csrf": token, "next": "//evil.example/"]
            )
            #expect(offsite.location == "/inbox")

            let inbox = try await Self.call(client, .get, "/inbox", cookies: [session])
            #expect(inbox.status == .ok && inbox.headers[.contentType] == "text/html; charset=utf-8")
            #expect(inbox.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let csrf = try #require(inbox.hidden("_csrf"))
            let id = try #require(inbox.text.range(of: "data-handover=\"").map { String(inbox.text[$0.upperBound...].prefix { $0 != "\"" }) })
            // A post without the session's CSRF token changes nothing.
            let noToken = try await Self.call(client, .post, "/inbox/\(id)/accept", cookies: [session], form: [:])
            #expect(noToken.status == .forbidden && noToken.text.contains("did not come from this site"))
            #expect(try await w.store.handover(id: Int64(id)!, at: WebWorkspace.clock.now())?.status == .assigned)
            let accepted = try await Self.call(client, .post, "/inbox/\(id)/accept", cookies: [session], form: ["_csrf": csrf])
            #expect(accepted.status == .seeOther && accepted.location.hasPrefix("/inbox?ok=Accepted"))
            #expect(try await w.store.handover(id: Int64(id)!, at: WebWorkspace.clock.now())?.status == .accepted)
            // A rejection without a reason says so and changes nothing.
            let noReason = try await Self.call(client, .post, "/inbox/\(id)/reject", cookies: [session], form: ["_csrf": csrf])
            #expect(noReason.location.contains("bad=Choose%20a%20reason"))
            #expect(try await w.store.handover(id: Int64(id)!, at: WebWorkspace.clock.now())?.status == .accepted)
            // A rep may not open the settings or another rep's inbox.
            #expect(try await Self.call(client, .get, "/settings/users", cookies: [session]).status == .forbidden)
            #expect(try await Self.call(client, .get, "/inbox?user=u-admin", cookies: [session]).status == .forbidden)

            // Logout needs the token too, then the cookie no longer signs anyone in.
            let out = try await Self.call(client, .post, "/logout", cookies: [session], form: ["_csrf": csrf])
            #expect(out.status == .seeOther && out.location.hasPrefix("/login"))
            #expect(try await Self.call(client, .get, "/inbox", cookies: [session]).status == .seeOther)

            // Ten failures in a row lock the address out, even for the right password.
            for _ in 0..<10 {
                _ = try await Self.call(client, .post, "/login", cookies: [pre], form: ["email": rep.email, "password": "guess", "_csrf": token])
            }
            let locked = try await Self.call(client, .post, "/login", cookies: [pre], form: ["email": rep.email, "password": rep.password, "_csrf": token])
            #expect(locked.status == .tooManyRequests && locked.headers[.retryAfter] != nil && locked.text.contains("Too many failed sign-ins"))
            // The failures are in the store: another app instance on the same database refuses too.
            try await w.app().test(.router) { other in
                let form = try await Self.call(other, .get, "/login")
                let t = try #require(form.hidden("_csrf"))
                let again = try await Self.call(
                    other,
                    .post,
                    "/login",
                    cookies: ["smk_login=" + t],
                    form: ["email": rep.email, "password": rep.password, "_csrf": t]
                )
                #expect(again.status == .tooManyRequests)
            }
        }
    }
}

@Suite("Web settings and the manager's view")
struct WebSettingsTests {
    typealias Page = WebSessionTests.Page

    /// Signs in over HTTP: the session cookie, its CSRF token (from the page it lands on) and that page.
    static func signIn(
        _ client: some TestClientProtocol,
        _ person: (email: String, password: String)
    ) async throws -> (
        cookie: String, csrf: String, landing: String
    ) {
        let form = try await WebSessionTests.call(client, .get, "/login")
        let token = try #require(form.hidden("_csrf"))
        let ok = try await WebSessionTests.call(
            client,
            .post,
            "/login",
            cookies: ["smk_login=" + token],
            form: ["email": person.email, "password": person.password, "_csrf": token]
        )
        let set = try #require(ok.cookie("smk_session"))
        let cookie = String(set.prefix { $0 != ";" })
        let page = try await WebSessionTests.call(client, .get, ok.location, cookies: [cookie])
        return (cookie, try #require(page.hidden("_csrf")), ok.location)
    }

    @Test(
        "tokens and webhook secrets are shown once; bad webhook URLs, routing files and scoring files are reported inline; previews change nothing; marketing may open only the scoring model"
    )
    func settingsActions() async throws {
        let w = try await WebWorkspace.make(leads: 150)
        defer { w.remove() }
        try await w.app().test(.router) { client in
            let (admin, csrf, _) = try await Self.signIn(client, w.people[.admin]!)
            func post(_ path: String, _ form: [String: String]) async throws -> Page {
                try await WebSessionTests.call(client, .post, path, cookies: [admin], form: form.merging(["_csrf": csrf]) { a, _ in a })
            }
            // A token: shown once on the reply, listed by name afterwards, usable on the API, revocable.
            let created = try await post("/settings/tokens/create", ["user_id": "u-admin", "role": "viewer", "name": "wall screen"])
            #expect(created.status == .created)
            let token = try #require(created.text.range(of: "id=\"new-token\">").map { String(created.text[$0.upperBound...].prefix { $0 != "<" }) })
            #expect(token.hasPrefix("smk_"))
            let listed = try await WebSessionTests.call(client, .get, "/settings/tokens", cookies: [admin])
            #expect(listed.text.contains("wall screen") && !listed.text.contains(token))
            let viaAPI = try await client.execute(uri: "/api/v1/kpis", method: .get, headers: [.authorization: "Bearer " + token]) { $0.status }
            #expect(viaAPI == .ok)
            let tokenID = try #require(try await w.store.tokens().first { $0.name == "wall screen" }?.id)
            #expect(try await post("/settings/tokens/revoke", ["id": tokenID]).status == .seeOther)
            let revoked = try await client.execute(uri: "/api/v1/kpis", method: .get, headers: [.authorization: "Bearer " + token]) { $0.status }
            #expect(revoked == .unauthorized)

            // A webhook: a bad URL is reported beside its field and nothing is stored; a good one shows its secret once.
            let bad = try await post("/settings/webhooks/create", ["url": "ftp://nowhere", "events": "*"])
            #expect(bad.status == .unprocessableContent && bad.text.contains("id=\"err-url\"") && bad.text.contains("value=\"ftp://nowhere\""))
            #expect(try await w.store.webhooks().isEmpty)
            // A URL into the server's own network (here: the cloud metadata address) is refused.
            let inside = try await post("/settings/webhooks/create", ["url": "http://169.254.169.254/latest", "events": "*"])
            #expect(inside.status == .unprocessableContent && inside.text.contains("own network") && inside.text.contains("link-local"), "\(inside.text.prefix(300))")
            #expect(try await w.store.webhooks().isEmpty)
            let hook = try await post("/settings/webhooks/create", ["url": "https://hooks.example/hook", "events": "handover.assigned, sla.breached"])
            #expect(hook.status == .created && hook.text.contains("id=\"new-secret\">whsec_"))
            let stored = try #require(try await w.store.webhooks().first)
            #expect(stored.events == ["handover.assigned", "sla.breached"])
            let log = try await WebSessionTests.call(client, .get, "/settings/webhooks?deliveries=\(stored.id)", cookies: [admin])
            #expect(log.status == .ok && log.text.contains("Deliveries to https://hooks.example/hook"))

            // Routing: a broken file lists its problems with line and column and changes nothing;
            // a good one previews its line diff; apply makes a new version.
            let versions = try await w.store.handoverConfigVersions().count
            let broken = try await post("/settings/routing/validate", ["config": "teams: [\n"])
            #expect(broken.status == .unprocessableContent && broken.text.contains("id=\"config-problems\"") && broken.text.contains("line "))
            let active = try #require(try await w.store.activeHandoverConfigText()?.1)
            let edited = active + "\n# reviewed in the web app\n"
            let preview = try await post("/settings/routing/validate", ["config": edited])
            #expect(preview.status == .ok && preview.text.contains("+ ") && preview.text.contains("# reviewed in the web app"))
            #expect(try await w.store.handoverConfigVersions().count == versions)
            let applied = try await post("/settings/routing/apply", ["config": edited, "comment": "web test"])
            #expect(applied.status == .seeOther && applied.location.contains("ok="))
            #expect(try await w.store.handoverConfigVersions().count == versions + 1)

            // Scoring: the preview says what would change and changes nothing.
            let model = try #require(try await w.store.activeScoringVersion())
            let scoring = try await post("/settings/scoring/preview", ["model": model.text])
            #expect(scoring.status == .ok && scoring.text.contains("contacts scored"))
            #expect(try await w.store.scoringVersions().count == 1)

            // Every tile links to the records behind its figure; their count is the figure.
            let dashboard = try await WebSessionTests.call(client, .get, "/?from=2025-10-01&to=2026-01-01", cookies: [admin])
            #expect(dashboard.text.contains("href=\"/kpis/mqls?from=2025-10-01&amp;to=2026-01-01\""))
            let mqls = try await w.store.kpis(
                KPIQuery(period: KPIPeriod(from: LocalDate(year: 2025, month: 10, day: 1), to: LocalDate(year: 2026, month: 1, day: 1)))
            )
            .total.current.mqlVolume.mqls
            let behind = try await WebSessionTests.call(client, .get, "/kpis/mqls?from=2025-10-01&to=2026-01-01", cookies: [admin])
            #expect(behind.status == .ok && behind.text.contains("\(mqls) records from 2025-10-01 to 2026-01-01"), "\(mqls)")
            #expect(behind.text.components(separatedBy: "href=\"/leads/").count - 1 == Int(mqls))
            #expect(try await WebSessionTests.call(client, .get, "/kpis/nonsense", cookies: [admin]).status == .notFound)

            // A role change takes effect: the marketer may open the scoring model but not users.
            let (marketing, _, _) = try await Self.signIn(client, w.people[.marketing]!)
            #expect(try await WebSessionTests.call(client, .get, "/settings", cookies: [marketing]).location == "/settings/scoring")
            #expect(try await WebSessionTests.call(client, .get, "/settings/users", cookies: [marketing]).status == .forbidden)
            let posted = try await WebSessionTests.call(
                client,
                .post,
                "/settings/users/role",
                cookies: [marketing],
                form: ["user_id": "u-admin", "access_role": "viewer"]
            )
            #expect(posted.status == .forbidden)
        }
    }

    @Test("a sales manager opens the inbox of a rep of the team; a rep may not")
    func managerInbox() async throws {
        let w = try await WebWorkspace.make(leads: 150)
        defer { w.remove() }
        var q = ListQuery()
        q.limit = 1000
        let users = try await w.store.list(.users, q).records
        let repEmail = w.people[.sales]!.email
        let rep = try #require(users.first { $0["email"].text == repEmail })
        let managerID = try #require(rep["manager_id"].text, "the demo rep has no manager")
        try await w.store.setPasswordHash(userID: managerID, hash: PasswordHash.make("manager-password-1"), actor: Fixture.actor, at: WebWorkspace.clock.now())
        let managerEmail = try #require(users.first { $0.id == managerID }?["email"].text)
        try await w.app().test(.router) { client in
            let (cookie, _, landing) = try await Self.signIn(client, (managerEmail, "manager-password-1"))
            #expect(landing == "/")  // managers start on the dashboard
            let inbox = try await WebSessionTests.call(client, .get, "/inbox?user=\(rep.id)", cookies: [cookie])
            #expect(inbox.status == .ok && inbox.text.contains("data-handover=") && inbox.text.contains("<select name=\"user\""))
        }
    }
}
