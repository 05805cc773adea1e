import Crypto
import Foundation

/// Seals connection secrets with AES-GCM under the server key, so the database never holds a
/// vendor credential in clear. The key is `SMARKETING_SECRET_KEY` (any text; its SHA-256 is the
/// key) or, when that is unset, a random key in a file beside the database, created on first
/// use with owner-only permissions. swift-crypto does the cryptography; only the key handling
/// is ours.
public struct SecretBox: Sendable {
    let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// The box of a workspace: the environment's key, else the key file (created when missing).
    public static func forWorkspace(databasePath: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretBox {
        if let box = environmentBox(environment) { return box }
        if WorkspaceStores.isPostgres(databasePath) {
            // Several instances share one database: a key file beside one of them would not do.
            throw SecretBoxError(
                "on PostgreSQL the key that seals vendor credentials comes from SMARKETING_SECRET_KEY: set it to one long random value, the same on every instance"
            )
        }
        let path = databasePath + ".key"
        let fm = FileManager.default
        if let data = fm.contents(atPath: path) {
            guard data.count == 32 else {
                throw SecretBoxError("the key file \(path) is not a 32-byte key; restore it or set SMARKETING_SECRET_KEY")
            }
            return SecretBox(key: SymmetricKey(data: data))
        }
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        guard fm.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw SecretBoxError("cannot create the key file \(path)")
        }
        return SecretBox(key: key)
    }

    /// The box of `SMARKETING_SECRET_KEY` (its SHA-256 is the key), when it is set.
    static func environmentBox(_ environment: [String: String]) -> SecretBox? {
        guard let text = environment["SMARKETING_SECRET_KEY"], !text.isEmpty else { return nil }
        return SecretBox(key: SymmetricKey(data: SHA256.hash(data: Data(text.utf8))))
    }

    /// The keys that may have sealed a workspace's credentials, to open them with (a copy to
    /// another database): the environment's key when set, and a SQLite workspace's key file
    /// when it exists (never created here).
    public static func existingKeys(databasePath: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> [SecretBox] {
        var boxes: [SecretBox] = []
        if let box = environmentBox(environment) { boxes.append(box) }
        if !WorkspaceStores.isPostgres(databasePath), let data = FileManager.default.contents(atPath: databasePath + ".key"), data.count == 32 {
            boxes.append(SecretBox(key: SymmetricKey(data: data)))
        }
        return boxes
    }

    /// Opens sealed secrets with the first of `boxes` that can.
    public static func open(_ sealed: [UInt8], withAnyOf boxes: [SecretBox]) throws -> [String: String] {
        for box in boxes {
            if let secrets = try? box.open(sealed) { return secrets }
        }
        throw SecretBoxError(
            boxes.isEmpty
                ? "no key to open the connection's credentials: set SMARKETING_SECRET_KEY to the key they were sealed with, or keep the workspace's .key file beside it"
                : "the connection's credentials cannot be opened with SMARKETING_SECRET_KEY or the workspace's .key file"
        )
    }

    /// Seals a secrets map.
    public func seal(_ secrets: [String: String]) throws -> [UInt8] {
        let plain = try JSONEncoder().encode(secrets)
        guard let combined = try AES.GCM.seal(plain, using: key).combined else { throw SecretBoxError("sealing failed") }
        return [UInt8](combined)
    }

    /// Opens sealed secrets; fails with a clear sentence under another key.
    public func open(_ sealed: [UInt8]) throws -> [String: String] {
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed))
            let plain = try AES.GCM.open(box, using: key)
            return try JSONDecoder().decode([String: String].self, from: plain)
        } catch {
            throw SecretBoxError(
                "the connection's credentials cannot be opened with this server key (SMARKETING_SECRET_KEY or the .key file changed); add the connection again"
            )
        }
    }
}

/// A problem with the server key or sealed secrets.
public struct SecretBoxError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A webhook subscription's signing secret at rest: sealed with the server key
/// (`sealed:v1:<base64>`) when the server has one; in clear otherwise (a PostgreSQL server
/// without SMARKETING_SECRET_KEY, which logs a warning at start).
public enum WebhookSecret {
    static let prefix = "sealed:v1:"

    /// The stored form of a secret.
    public static func seal(_ secret: String, with box: SecretBox?) throws -> String {
        guard let box else { return secret }
        return prefix + Data(try box.seal(["secret": secret])).base64EncodedString()
    }

    /// The secret of a stored form (a clear one as it is).
    public static func open(_ stored: String, with boxes: [SecretBox]) throws -> String {
        guard stored.hasPrefix(prefix) else { return stored }
        guard let data = Data(base64Encoded: String(stored.dropFirst(prefix.count))) else { throw SecretBoxError("the webhook's sealed secret is damaged") }
        for box in boxes {
            if let secret = try? box.open([UInt8](data))["secret"] { return secret }
        }
        throw SecretBoxError("the webhook's secret cannot be opened with this server key (SMARKETING_SECRET_KEY or the .key file changed); create the webhook again")
    }

    public static func isSealed(_ stored: String) -> Bool { stored.hasPrefix(prefix) }
}
