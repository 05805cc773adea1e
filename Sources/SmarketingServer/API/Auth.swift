import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import SmarketingCore
import SmarketingStore

/// API tokens: 32 random bytes shown once as `smk_<hex>`; only their SHA-256 is stored. A
/// token's entropy makes a slow hash unnecessary (bcrypt is for passwords, which people pick).
public enum APIToken {
    /// A new random token.
    public static func generate() -> String { "smk_" + randomHex() }

    /// 32 random bytes as hex (tokens, session secrets, CSRF tokens).
    static func randomHex() -> String {
        var rng = SystemRandomNumberGenerator()
        return hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The stored form of a token.
    public static func hash(_ token: String) -> String {
        hex(SHA256.hash(data: Data(token.utf8)))
    }
}

/// Passwords, hashed with bcrypt.
public enum PasswordHash {
    /// The bcrypt hash of a password (cost 10).
    public static func make(_ password: String) -> String { Bcrypt.hash(password, cost: 10) }

    /// Whether a password matches a hash.
    public static func verify(_ password: String, hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }
}

/// Authenticates every API request: `Authorization: Bearer <token>`, or HTTP Basic with a
/// user's email and password (for people trying the API by hand; bcrypt makes it slow on
/// purpose, so automation should use tokens).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: any FunnelStore
    let cache: TokenCache
    /// Requests per token (or per signed-in user); nil: none.
    let limiter: RateLimiter?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        guard let header = request.headers[.authorization] else {
            var p = Problem(.unauthorized, "send an API token as \"Authorization: Bearer <token>\" (create one with `smarketing token create`)")
            p.headers[.wwwAuthenticate] = "Bearer realm=\"smarketing\""
            throw p
        }
        if header.lowercased().hasPrefix("bearer ") {
            let token = String(header.dropFirst(7)).trimmingSpaces
            let hash = APIToken.hash(token)
            let principal: TokenPrincipal
            if let cached = cache.get(hash) {
                principal = cached
            } else {
                guard let stored = try await store.principal(tokenHash: hash) else {
                    throw Problem(.unauthorized, "the API token is unknown or revoked")
                }
                cache.put(hash, stored)
                principal = stored
            }
            context.actor = Actor(userID: principal.userID, role: principal.role, via: "token:" + principal.tokenID)
        } else if header.lowercased().hasPrefix("basic ") {
            guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingSpaces),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
                let key = EmailAddress.key(String(text[..<colon])),
                let user = try await store.passwordHash(emailKey: key),
                PasswordHash.verify(String(text[text.index(after: colon)...]), hash: user.hash)
            else { throw Problem(.unauthorized, "email or password is wrong") }
            context.actor = Actor(userID: user.userID, role: user.role, via: "password")
        } else {
            throw Problem(.unauthorized, "the Authorization header must be \"Bearer <token>\" or Basic")
        }
        if let limiter, let actor = context.actor, let wait = limiter.take(actor.via.hasPrefix("token:") ? actor.via : "user:" + actor.userID) {
            throw Problem.tooMany("this token", limiter.limit, retryAfter: wait)
        }
        return try await next(request, context)
    }
}

/// Recently verified tokens, so that a busy client does not cost a database read per request.
/// Entries live one second: a token revoked on another instance (several instances on one
/// PostgreSQL database) stops working here within a second; one revoked through this instance
/// stops at once (`clear`).
final class TokenCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (TokenPrincipal, UInt64)] = [:]
    private let ttlNanoseconds: UInt64

    /// `ttlSeconds` is held to 0…3600 (no conversion can trap).
    init(ttlSeconds: Double = 1) {
        let seconds = ttlSeconds.isFinite ? min(max(ttlSeconds, 0), 3600) : 1
        ttlNanoseconds = UInt64(exactly: (seconds * 1e9).rounded()) ?? 1_000_000_000
    }

    func get(_ hash: String) -> TokenPrincipal? {
        lock.lock()
        defer { lock.unlock() }
        guard let (p, at) = entries[hash], DispatchTime.now().uptimeNanoseconds - at < ttlNanoseconds else { return nil }
        return p
    }

    func put(_ hash: String, _ p: TokenPrincipal) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count > 10_000 { entries.removeAll() }
        entries[hash] = (p, DispatchTime.now().uptimeNanoseconds)
    }

    func clear() {
        lock.lock()
        entries.removeAll()
        lock.unlock()
    }
}
