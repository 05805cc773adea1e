import Foundation
import HTTPTypes
import Hummingbird
import SmarketingCore
import SmarketingStore

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
