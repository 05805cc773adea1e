import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SmarketingCore
import SmarketingStore

/// The signed-in person behind a page request.
struct WebUser: Sendable {
    var actor: Actor
    var session: WebSession
    var name: String
    var email: String
    /// Someone reports to them (or they are an admin): they see the team's inboxes.
    var isManager: Bool
    /// The zone every time on their pages is shown in: their own (`users.timezone`), else the
    /// workspace's (`workspace.timezone`).
    var timeZone: TimeZone = WebUser.utc

    static let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current

    /// An instant as this viewer reads it, with the zone named.
    func dateTime(_ t: Timestamp) -> String { LocalTime.minute(t, in: timeZone) }

    var role: AccessRole { actor.role }
}

/// Browser sessions: a random secret in an HttpOnly, SameSite=Lax cookie; the store keeps only
/// its SHA-256, so a stolen database does not sign anyone in. Sessions live in the store (not in
/// memory) so that several app instances on one database share them.
enum WebCookies {
    static let session = "smk_session"
    /// The login form's double-submit token: the form and this cookie must carry the same value.
    static let login = "smk_login"
    static let lifetime: Int64 = 12 * 3600 * 1000

    /// The value of cookie `name` in a request.
    static func value(_ request: Request, _ name: String) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name {
                    return String(pair[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path /; `Secure` when the server runs behind HTTPS.
    static func set(_ name: String, _ value: String, maxAge: Int64, secure: Bool) -> String {
        "\(name)=\(value); Path=/; HttpOnly; SameSite=Lax; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    /// A random URL-safe secret of 32 bytes.
    static func secret() -> String { APIToken.randomHex() }

    /// Compares two secrets in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// Failed sign-ins per email address and per client address: after `limit` failures inside
/// `window`, further attempts are refused until the window passes. The failures are kept in the
/// store, so every app instance on one database counts the same ones.
struct LoginLimiter: Sendable {
    let store: any FunnelStore
    var limit = 10
    var window: Int64 = 900_000

    /// Seconds until `keys` may try again, or nil when they may now.
    func retryAfter(_ keys: [String], now: Timestamp) async throws -> Int64? {
        let failures = try await store.loginFailures(keys: keys, since: now.adding(milliseconds: -window))
        let waits = failures.values.filter { $0.count >= limit }.map { ($0.oldest.milliseconds + window - now.milliseconds + 999) / 1000 }
        return waits.max()
    }

    func fail(_ keys: [String], now: Timestamp) async throws {
        try await store.recordLoginFailure(keys: keys, at: now, forgetBefore: now.adding(milliseconds: -window))
    }

    func succeed(_ keys: [String]) async throws { try await store.clearLoginFailures(keys: keys) }
}

/// An `application/x-www-form-urlencoded` body (forms post nothing else here).
struct FormBody: Sendable {
    var fields: [String: String] = [:]

    init(_ text: String) {
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(kv[0])
            let value = kv.count > 1 ? Self.decode(kv[1]) : ""
            fields[key] = value
        }
    }

    static func decode(_ s: Substring) -> String {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
    }

    subscript(_ key: String) -> String? {
        guard let v = fields[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        return v
    }

    /// The raw value (multi-line text areas keep their whitespace).
    func raw(_ key: String) -> String? { fields[key] }
}
