import Foundation
import HTTPTypes
import Hummingbird
import SmarketingCore
import SmarketingStore
import Synchronization

extension WebApp {
    /// The sign-in form; it sets the double-submit cookie its hidden field must match.
    func loginPage(_ request: Request, error: String?, email: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        if error == nil, let user = try await signedIn(request) { return redirect(Self.home(user)) }
        let token = WebCookies.secret()
        let next = request.uri.queryParameters.get("next") ?? ""
        let body = view("login", ["csrf": token, "error": error as Any, "email": email ?? "", "next": next])
        var response = render(nil, title: "Sign in", path: "/login", body: body, flash: nil, status: status)
        response.headers.append(HTTPField(name: .setCookie, value: WebCookies.set(WebCookies.login, token, maxAge: 3600, secure: secureCookies)))
        return response
    }

    func login(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let form = try await formBody(request)
        let email = form["email"] ?? ""
        guard let sent = form["_csrf"], let cookie = WebCookies.value(request, WebCookies.login), WebCookies.same(sent, cookie) else {
            return try await loginPage(request, error: "The sign-in form expired. Please try again.", email: email, status: .forbidden)
        }
        let now = clock.now()
        let key = EmailAddress.key(email)
        let keys = ["email:" + (key ?? email.lowercased()), "ip:" + (context.remoteAddress ?? "?")]
        if let wait = try await limiter.retryAfter(keys, now: now) {
            var r = try await loginPage(
                request,
                error: "Too many failed sign-ins. Try again in \(wait / 60 + 1) minutes.",
                email: email,
                status: .tooManyRequests
            )
            r.headers[.retryAfter] = String(wait)
            return r
        }
        guard let key, let password = form.raw("password"), !password.isEmpty, let user = try await store.passwordHash(emailKey: key),
            PasswordHash.verify(password, hash: user.hash)
        else {
            try await limiter.fail(keys, now: now)
            return try await loginPage(request, error: "Email or password is wrong.", email: email, status: .unauthorized)
        }
        try await limiter.succeed(keys)
        let secret = WebCookies.secret()
        let session = WebSession(
            idHash: APIToken.hash(secret),
            userID: user.userID,
            role: user.role,
            csrf: WebCookies.secret(),
            createdAt: now,
            expiresAt: now.adding(milliseconds: WebCookies.lifetime)
        )
        try await store.createWebSession(session)
        cache.forgetUsers()
        var target = form["next"] ?? ""
        // Only a path on this site: never an absolute URL someone put into the link.
        if !target.hasPrefix("/") || target.hasPrefix("//") || target.hasPrefix("/login") { target = "" }
        if target.isEmpty {
            let users = try await cache.users(store)
            let manages = user.role == .admin || users.contains { $0["manager_id"].text == user.userID }
            target = Self.home(
                WebUser(actor: Actor(userID: user.userID, role: user.role, via: "session"), session: session, name: "", email: "", isManager: manages)
            )
        }
        return redirect(
            target,
            cookies: [
                WebCookies.set(WebCookies.session, secret, maxAge: WebCookies.lifetime / 1000, secure: secureCookies),
                WebCookies.set(WebCookies.login, "", maxAge: 0, secure: secureCookies),
            ]
        )
    }

    func logout(_ request: Request) async throws -> Response {
        let form = try await formBody(request)
        if let secret = WebCookies.value(request, WebCookies.session),
            let session = try await store.webSession(idHash: APIToken.hash(secret), now: clock.now())
        {
            guard let sent = form["_csrf"], WebCookies.same(sent, session.csrf) else { return redirect("/") }
            try await store.deleteWebSession(idHash: session.idHash)
        }
        return redirect("/login?ok=Signed+out.", cookies: [WebCookies.set(WebCookies.session, "", maxAge: 0, secure: secureCookies)])
    }
}

/// Reads the pages repeat and that change rarely: the user list for a few seconds, and
/// attribution results until the aggregates' version moves (any committed change).
final class WebCache: Sendable {
    private struct State {
        var usersAt: UInt64 = 0
        var users: [Record] = []
        var zoneAt: UInt64 = 0
        var zone: TimeZone?
        var settings: WorkspaceSettings?
        var values: [String: (version: Int64, value: any Sendable)] = [:]
        var slow: [String: (version: Int64, at: UInt64)] = [:]
        var refreshing: Set<String> = []
    }
    private let state = Mutex(State())

    /// The workspace's time zone for pages whose viewer has none of their own, read at most
    /// every few seconds like the user list (not once per page request).
    func workspaceZone(_ store: any FunnelStore) async throws -> TimeZone {
        try await workspaceSettings(store).timeZone
    }

    /// The workspace's settings (zone, fiscal year, …), read at most every few seconds.
    func workspaceSettings(_ store: any FunnelStore) async throws -> WorkspaceSettings {
        let now = DispatchTime.now().uptimeNanoseconds
        if let hit = state.withLock({ s in now - s.zoneAt < 5_000_000_000 ? s.settings : nil }) { return hit }
        let settings = try await store.workspaceSettings().settings
        state.withLock {
            $0.zone = settings.timeZone
            $0.settings = settings
            $0.zoneAt = now
        }
        return settings
    }

    func users(_ store: any FunnelStore) async throws -> [Record] {
        let now = DispatchTime.now().uptimeNanoseconds
        if let hit = state.withLock({ s in now - s.usersAt < 5_000_000_000 && !s.users.isEmpty ? s.users : nil }) { return hit }
        var q = ListQuery()
        q.limit = 10_000
        let list = try await store.list(.users, q).records
        state.withLock {
            $0.users = list
            $0.usersAt = now
        }
        return list
    }

    func forgetUsers() { state.withLock { $0.usersAt = 0 } }

    /// `version`, but held for at least `seconds` after it last moved: for results that cost
    /// too much to recompute after every write.
    /// Each `lane` holds its own version (figures of closed months can wait longer than the
    /// current period's).
    func slowVersion(_ version: Int64, seconds: Double, lane: String = "recent") -> Int64 {
        let now = DispatchTime.now().uptimeNanoseconds
        return state.withLock { s in
            if let held = s.slow[lane], version == held.version || Double(now - held.at) < seconds * 1e9 { return held.version }
            s.slow[lane] = (version, now)
            return version
        }
    }

    /// The value for `key` computed at aggregates version `version`, or a new one from `make`.
    func value<T: Sendable>(_ key: String, version: Int64, _ make: () async throws -> T) async throws -> T {
        if let hit = state.withLock({ s in s.values[key].flatMap { $0.version == version ? $0.value as? T : nil } }) { return hit }
        let v = try await make()
        put(key, version, v)
        return v
    }

    /// Like `value`, but an older version's value is returned at once while a new one is
    /// computed in the background (one at a time per key): for results that take seconds on a
    /// large workspace (attribution, content use), so that only the very first read waits.
    func latest<T: Sendable>(_ key: String, version: Int64, _ make: @escaping @Sendable () async throws -> T) async throws -> T {
        let (hit, stale, start) = state.withLock { s -> (T?, T?, Bool) in
            guard let entry = s.values[key], let v = entry.value as? T else { return (nil, nil, false) }
            if entry.version == version { return (v, nil, false) }
            let start = s.refreshing.insert(key).inserted
            return (nil, v, start)
        }
        if let hit { return hit }
        guard let stale else { return try await value(key, version: version, make) }
        if start {
            Task.detached(priority: .utility) { [self] in
                defer { _ = state.withLock { $0.refreshing.remove(key) } }
                if let v = try? await make() { put(key, version, v) }
            }
        }
        return stale
    }

    /// Whether `key` holds the value of `version` (false while an older one is shown).
    func isCurrent(_ key: String, version: Int64) -> Bool {
        state.withLock { $0.values[key]?.version == version }
    }

    private func put(_ key: String, _ version: Int64, _ v: any Sendable) {
        state.withLock { s in
            if s.values.count > 256 { s.values.removeAll() }
            s.values[key] = (version, v)
        }
    }
}
