import Foundation
import SmarketingCore
import SmarketingStore

/// A connection as a connector sees it: where, with which credentials and settings.
public struct ConnectionConfig: Sendable {
    public var name: String
    public var vendor: Vendor
    /// The vendor's API base (sandboxes, proxies, tests); the vendor's public host when nil.
    public var baseURL: String?
    public var secrets: [String: String]
    public var settings: [String: String]
    /// Vendor person fields to read besides the standard ones (the mapping's `fields:`).
    public var extraPersonFields: [String] = []

    public init(name: String, vendor: Vendor, baseURL: String?, secrets: [String: String], settings: [String: String]) {
        self.name = name
        self.vendor = vendor
        self.baseURL = baseURL
        self.secrets = secrets
        self.settings = settings
    }

    /// Extra field names that are safe to put into a request (letters, digits, `_`, `.`).
    var safeExtraFields: [String] {
        extraPersonFields.filter { f in !f.isEmpty && f.count <= 100 && f.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "." } }
    }

    /// The base URL without a trailing slash.
    func base(_ fallback: String) -> String {
        var b = baseURL ?? fallback
        while b.hasSuffix("/") { b.removeLast() }
        return b
    }
}

/// What `connect test` found.
public struct ConnectionCheck: Sendable, Codable {
    public var ok: Bool
    /// One sentence: what works, or what is missing.
    public var message: String
    /// What was checked, one line each.
    public var checked: [String]

    public init(ok: Bool, message: String, checked: [String]) {
        self.ok = ok
        self.message = message
        self.checked = checked
    }
}

/// The contract every vendor module fulfils: check the credentials, read pages, write batches,
/// create the write-back fields. The identity, mapping and outbox logic is shared (the core's
/// `SyncMapping`/`SyncRecords`, the store's sync role, `SyncEngine`, `WritebackEngine`).
public protocol VendorConnector: Sendable {
    /// The objects this vendor's module reads, in sync order.
    var objects: [SyncObject] { get }
    /// The most records one write-back request carries.
    var pushBatchSize: Int { get }
    /// Checks the credentials and the scopes the sync and write-back need.
    func check() async -> ConnectionCheck
    /// One page of an object: from `cursor` (the connector's own), or a new pass that reads
    /// what changed since `since` (an ISO 8601 instant; nil reads everything).
    func page(_ object: SyncObject, cursor: String?, since: String?) async throws -> SyncPage
    /// Writes changes (vendor field names from the mapping); one result per change.
    func push(_ changes: [WritebackChange], mapping: SyncMapping) async throws -> [WritebackResult]
    /// Creates the write-back fields where the API allows; says what it did or what to do.
    func setupFields(mapping: SyncMapping) async throws -> [String]
    /// Erases a person at the vendor (GDPR Art. 17) where its API allows; what happened.
    func erase(object: String, externalID: String) async -> VendorErasure
    /// Stops the connector's HTTP client.
    func shutdown() async
}

/// What became of an erasure pushed to a vendor.
public struct VendorErasure: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// The vendor erased (or deleted) the record.
        case erased
        /// The vendor has no record with this id (gone already).
        case notFound = "not_found"
        /// The vendor refused or could not be reached; `message` says why.
        case failed
        /// This vendor's API offers no erasure smarketing uses; `message` says what to do by hand.
        case manual
    }
    public var connection: String
    public var object: String
    public var externalID: String
    public var outcome: Outcome
    public var message: String

    public init(connection: String, object: String, externalID: String, outcome: Outcome, message: String) {
        self.connection = connection
        self.object = object
        self.externalID = externalID
        self.outcome = outcome
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case connection, object
        case externalID = "external_id"
        case outcome, message
    }
}

extension VendorConnector {
    /// Vendors whose erasure smarketing does not push yet: the person must be erased there by
    /// hand (docs/OPERATIONS.md names the vendor's own tool).
    public func erase(object: String, externalID: String) async -> VendorErasure {
        VendorErasure(
            connection: "", object: object, externalID: externalID, outcome: .manual,
            message: "erase \(object) \(externalID) in the vendor's own tool: smarketing does not push erasures to this vendor yet"
        )
    }

    public func setupFields(mapping: SyncMapping) async throws -> [String] {
        mapping.writeback.isEmpty
            ? ["nothing to create: this connection writes nothing back"]
            : ["create these fields on the person object by hand: " + mapping.writeback.values.sorted().joined(separator: ", ")]
    }
}

/// The published default rate of each vendor (docs/INTEGRATIONS.md): requests per window.
public enum VendorLimits {
    public static func `default`(_ vendor: Vendor) -> (limit: Int, window: Duration) {
        switch vendor {
        case .hubspot: return (100, .seconds(10))  // private apps, Professional: 100 per 10 s
        case .salesforce: return (25, .seconds(1))  // no burst limit; a daily allowance — stay gentle
        case .pipedrive: return (80, .seconds(2))  // token-based bursts per 2 s window
        case .marketo: return (100, .seconds(20))  // 100 calls per 20 s per instance
        case .pardot: return (5, .seconds(1))  // 5 concurrent; a daily allowance
        }
    }

    /// The connection's limit: the `rate_limit` and `rate_window_seconds` settings override the
    /// vendor's default (a higher tier, a sandbox, a test fake).
    public static func limit(_ config: ConnectionConfig) -> (limit: Int, window: Duration) {
        var (limit, window) = Self.default(config.vendor)
        if let l = config.settings["rate_limit"].flatMap(Int.init), (1...100_000).contains(l) { limit = l }
        if let w = config.settings["rate_window_seconds"].flatMap(Double.init), w > 0, w <= 86_400,
            let ms = Int64(exactly: (w * 1000).rounded())
        {
            window = .milliseconds(ms)
        }
        return (limit, window)
    }
}

/// Makes the connector of a connection.
public enum Connectors {
    /// The credential names each vendor needs (`required`) and may take (`optional`).
    public static func credentials(_ vendor: Vendor) -> (required: [String], optional: [String]) {
        switch vendor {
        case .hubspot: return (["access_token"], ["refresh_token", "client_id", "client_secret", "webhook_secret"])
        case .salesforce: return (["client_id", "client_secret"], ["refresh_token", "login_url", "outbound_token"])
        case .pipedrive: return (["api_token"], ["company_domain", "webhook_user", "webhook_password"])
        case .marketo: return (["client_id", "client_secret"], ["webhook_token"])
        case .pardot: return (["client_id", "client_secret", "business_unit_id"], ["refresh_token", "login_url"])
        }
    }

    public static func make(_ config: ConnectionConfig) throws -> any VendorConnector {
        let (limit, window) = VendorLimits.limit(config)
        // The account's one pacer in this process (see PacerRegistry).
        let account = config.vendor.rawValue + "|" + (config.baseURL ?? "") + "|" + config.name
        let http = VendorHTTP(limit: limit, window: window, pacer: PacerRegistry.shared.pacer(for: account, limit: limit, window: window))
        switch config.vendor {
        case .hubspot: return HubSpotConnector(config: config, http: http)
        case .salesforce: return SalesforceConnector(config: config, http: http)
        case .pipedrive: return PipedriveConnector(config: config, http: http)
        case .marketo: return MarketoConnector(config: config, http: http)
        case .pardot: return PardotConnector(config: config, http: http)
        }
    }
}

/// A value that one task sets and others read (an access token).
final class Locked<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func get() -> T { lock.withLock { value } }
    func set(_ v: T) { lock.withLock { value = v } }
}
