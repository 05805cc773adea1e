import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import SmarketingCore
import SmarketingStore

/// The web app both teams work in: server-rendered pages over the same store and rules as the
/// JSON API (it calls them; it computes nothing of its own), signed in with a session cookie.
struct WebApp: Sendable {
    let store: any FunnelStore
    let clock: any WorkspaceClock
    let api: APIHandlers
    let templates: MustacheLibrary
    let limiter: LoginLimiter
    /// The API's cache: an attribution computed for a page serves the API and the reverse.
    var cache: WebCache { api.cache }
    let secureCookies: Bool

    init(store: any FunnelStore, clock: any WorkspaceClock, api: APIHandlers, secureCookies: Bool) {
        self.store = store
        self.clock = clock
        self.api = api
        self.secureCookies = secureCookies
        limiter = LoginLimiter(store: store)
        var library = MustacheLibrary()
        for (name, text) in WebTemplates.all {
            // The templates are compiled into the binary; one that does not parse is a programming error.
            do { try library.register(text, named: name) } catch { fatalError("web template \(name) does not parse: \(error)") }
        }
        templates = library
    }

    /// Registers every page, form action, live stream and asset.
    func register(on router: Hummingbird.Router<AppRequestContext>) {
        router.get("/static/app.css") { _, _ in asset(WebAssets.css, "text/css; charset=utf-8") }
        router.get("/static/app.js") { _, _ in asset(WebAssets.js, "text/javascript; charset=utf-8") }
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        router.get("/login") { request, _ in try await loginPage(request, error: nil, email: nil) }
        router.post("/login") { request, context in try await login(request, context) }
        router.post("/logout") { request, _ in try await logout(request) }
        page(router, "/", title: "Dashboard", dashboard)
        router.get("/live/dashboard") { request, _ in try await guarded(request) { user, _ in try await liveDashboard(request, user) } }
        page(router, "/kpis/:metric", title: "Records", records)
        page(router, "/inbox", title: "Inbox", inbox)
        router.post("/inbox/:id/:action") { request, context in try await guarded(request) { user, form in try await inboxAction(form, context, user) } }
        page(router, "/leads", title: "Leads", leads)
        page(router, "/leads/:id", title: "Lead", lead)
        page(router, "/campaigns", title: "Campaigns", campaigns)
        page(router, "/campaigns/:id", title: "Campaign", campaign)
        router.post("/campaigns/:id/review") { request, context in
            try await guarded(request) { user, form in try await campaignNote(form, context, user) }
        }
        page(router, "/pipeline", title: "Pipeline review", pipeline)
        page(router, "/personas", title: "Personas", personas)
        page(router, "/content", title: "Content", content)
        page(router, "/lead-quality", title: "Lead quality", leadQuality)
        page(router, "/meetings", title: "Weekly sync", meetings)
        page(router, "/meetings/:id", title: "Meeting", meetingPage)
        page(router, "/meetings/:id/minutes/:format", title: "Minutes", meetingMinutes)
        router.post("/meetings/start") { request, context in
            try await guarded(request) { user, form in try await meetingAction(form, context, user, items: false, start: true) }
        }
        router.post("/meetings/:id/:action") { request, context in
            try await guarded(request) { user, form in try await meetingAction(form, context, user, items: false) }
        }
        router.post("/action-items/:id/:action") { request, context in
            try await guarded(request) { user, form in try await meetingAction(form, context, user, items: true) }
        }
        page(router, "/settings", title: "Settings", settings)
        page(router, "/settings/:section", title: "Settings", settings)
        router.post("/settings/:section/:action") { request, context in
            try await guarded(request) { user, form in try await settingsAction(form, context, user) }
        }
    }

    // MARK: Pages and guards

    /// A page handler: the signed-in user, the request and the route context give the page's body.
    typealias PageBody = @Sendable (WebUser, Request, AppRequestContext) async throws -> PageOut

    /// What a page handler returns: the body HTML, or a full response (a redirect, a download).
    enum PageOut: Sendable {
        case html(String, title: String? = nil, status: HTTPResponse.Status = .ok)
        case response(Response)
    }

    func page(_ router: Hummingbird.Router<AppRequestContext>, _ path: String, title: String, _ body: @escaping PageBody) {
        router.get(RouterPath(path)) { request, context in
            try await guarded(request) { user, _ in
                switch try await body(user, request, context) {
                case .response(let r): return r
                case .html(let html, let pageTitle, let status):
                    return render(user, title: pageTitle ?? title, path: request.uri.path, body: html, flash: flash(request), status: status)
                }
            }
        }
    }

    /// Runs `body` for a signed-in user; anyone else goes to the sign-in page (or gets 401 for
    /// the live stream, which a browser cannot follow to a form). Errors become HTML pages.
    func guarded(_ request: Request, _ body: (WebUser, FormBody) async throws -> Response) async throws -> Response {
        guard let user = try await signedIn(request) else {
            if request.uri.path.hasPrefix("/live/") { return htmlResponse("<p>Sign in again.</p>", status: .unauthorized) }
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return redirect("/login?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
        }
        var form = FormBody("")
        if request.method == .post {
            // Every form post carries the session's CSRF token (SameSite=Lax already keeps other
            // sites' forms from sending the cookie; the token also covers same-site subdomains).
            form = try await formBody(request)
            guard let sent = form["_csrf"], WebCookies.same(sent, user.session.csrf) else {
                return errorPage(user, .forbidden, "This form has expired or did not come from this site. Go back, reload the page and try again.")
            }
        }
        do {
            // Amounts on every page in the workspace's currency.
            let currency = try await cache.workspaceSettings(store).currency
            return try await Fmt.$currency.withValue(currency) { try await body(user, form) }
        } catch let p as Problem {
            return errorPage(user, p.status, p.detail)
        } catch let e as StoreError {
            let p = Problem.from(e)
            return errorPage(user, p.status, p.detail)
        }
    }

    /// The user of the request's session cookie, if it is valid.
    func signedIn(_ request: Request) async throws -> WebUser? {
        guard let secret = WebCookies.value(request, WebCookies.session), !secret.isEmpty else { return nil }
        guard let session = try await store.webSession(idHash: APIToken.hash(secret), now: clock.now()) else { return nil }
        let users = try await cache.users(store)
        guard let me = users.first(where: { $0.id == session.userID }) else { return nil }
        let manages = session.role == .admin || users.contains { $0["manager_id"].text == me.id }
        return WebUser(
            actor: Actor(userID: session.userID, role: session.role, via: "session"),
            session: session,
            name: me["name"].text ?? me["email"].text ?? me.id,
            email: me["email"].text ?? "",
            isManager: manages,
            timeZone: try await viewerZone(me)
        )
    }

    /// A user's own time zone when it is a valid IANA name, else the workspace's.
    func viewerZone(_ user: Record) async throws -> TimeZone {
        if let text = user["timezone"].text, case .success(let id) = WorkspaceSettingKey.timeZone.normalize(text), let zone = TimeZone(identifier: id) {
            return zone
        }
        return try await cache.workspaceZone(store)
    }

    /// The form fields of a POST (at most 1 MiB: a scoring model file fits many times over).
    func formBody(_ request: Request) async throws -> FormBody {
        FormBody(String(buffer: try await request.body.collect(upTo: 1 << 20)))
    }

    // MARK: Rendering

    /// The navigation of a role, in the order its users work: sales reps start in the inbox,
    /// marketers in campaigns and the funnel, managers and admins on the dashboard.
    static func navigation(_ user: WebUser) -> [(href: String, label: String)] {
        var items: [(String, String)] = []
        switch user.role {
        case .sales:
            items = [("/inbox", "Inbox"), ("/leads", "Leads"), ("/pipeline", "Pipeline"), ("/", "Dashboard"), ("/meetings", "Weekly sync"), ("/content", "Content")]
            if user.isManager {
                items = [
                    ("/", "Dashboard"), ("/inbox", "Inbox"), ("/leads", "Leads"), ("/pipeline", "Pipeline"), ("/meetings", "Weekly sync"),
                    ("/campaigns", "Campaigns"), ("/lead-quality", "Lead quality"), ("/content", "Content"),
                ]
            }
        case .marketing:
            items = [
                ("/campaigns", "Campaigns"), ("/", "Dashboard"), ("/meetings", "Weekly sync"), ("/lead-quality", "Lead quality"), ("/leads", "Leads"),
                ("/personas", "Personas"), ("/content", "Content"), ("/settings/scoring", "Scoring"),
            ]
        case .admin:
            items = [
                ("/", "Dashboard"), ("/meetings", "Weekly sync"), ("/inbox", "Inbox"), ("/leads", "Leads"), ("/campaigns", "Campaigns"),
                ("/lead-quality", "Lead quality"), ("/pipeline", "Pipeline"), ("/personas", "Personas"), ("/content", "Content"), ("/settings", "Settings"),
            ]
        case .viewer:
            items = [
                ("/", "Dashboard"), ("/meetings", "Weekly sync"), ("/leads", "Leads"), ("/campaigns", "Campaigns"), ("/pipeline", "Pipeline"),
                ("/content", "Content"),
            ]
        }
        return items.map { (href: $0.0, label: $0.1) }
    }

    /// Where a role lands after signing in.
    static func home(_ user: WebUser) -> String {
        if user.role == .sales && !user.isManager { return "/inbox" }
        if user.role == .marketing { return "/campaigns" }
        return "/"
    }

    func render(_ user: WebUser?, title: String, path: String, body: String, flash: (String, Bool)?, status: HTTPResponse.Status = .ok) -> Response {
        var data: [String: Any] = ["title": title, "body": body]
        if let user {
            let nav = Self.navigation(user).map { item -> [String: Any] in
                let current = item.href == "/" ? path == "/" : (path == item.href || path.hasPrefix(item.href + "/"))
                return ["href": item.href, "label": item.label, "current": current]
            }
            data["user"] = ["name": user.name, "role": user.role.rawValue, "csrf": user.session.csrf, "nav": nav]
        }
        if let (text, good) = flash { data["flash"] = ["text": text, "bad": !good] }
        return htmlResponse(templates.render(Self.dropNils(data), withTemplate: "layout") ?? "", status: status)
    }

    func view(_ name: String, _ data: [String: Any]) -> String { templates.render(Self.dropNils(data), withTemplate: name) ?? "" }

    /// The data without absent optionals: mustache would print `nil` for them and treat them as
    /// a true section.
    static func dropNils(_ value: Any) -> Any {
        switch value {
        case let d as [String: Any]:
            var out: [String: Any] = [:]
            // Empty text goes too: mustache treats it as a true section (“ · ” before nothing).
            for (k, v) in d where !isNil(v) && (v as? String) != "" { out[k] = dropNils(v) }
            return out
        case let a as [[String: Any]]:
            return a.map { dropNils($0) }
        default:
            if let unwrapped = unwrap(value) { return unwrapped }
            return value
        }
    }

    static func isNil(_ v: Any) -> Bool {
        let m = Mirror(reflecting: v)
        return m.displayStyle == .optional && m.children.isEmpty
    }

    static func unwrap(_ v: Any) -> Any? {
        let m = Mirror(reflecting: v)
        guard m.displayStyle == .optional, let first = m.children.first else { return nil }
        return dropNils(first.value)
    }

    func errorPage(_ user: WebUser?, _ status: HTTPResponse.Status, _ detail: String) -> Response {
        let body = view("error", ["status": Int(status.code), "reason": status.reasonPhrase, "detail": detail])
        return render(user, title: status.reasonPhrase, path: "", body: body, flash: nil, status: status)
    }

    /// A message after a redirect (`?ok=` or `?bad=`); free text stays escaped by the template.
    func flash(_ request: Request) -> (String, Bool)? {
        let q = request.uri.queryParameters
        if let ok = q.get("ok") { return (ok, true) }
        if let bad = q.get("bad") { return (bad, false) }
        return nil
    }
}

func htmlResponse(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status,
        headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            .xContentTypeOptions: "nosniff", HTTPField.Name("Referrer-Policy")!: "same-origin",
        ],
        body: .init(byteBuffer: ByteBuffer(string: html))
    )
}

func redirect(_ location: String, cookies: [String] = []) -> Response {
    var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
    for c in cookies { headers.append(HTTPField(name: .setCookie, value: c)) }
    return Response(status: .seeOther, headers: headers)
}

func asset(_ text: String, _ type: String) -> Response {
    Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"], body: .init(byteBuffer: ByteBuffer(string: text)))
}
