import Crypto
import Foundation
import SmarketingCore

/// A webhook delivery as the server received it.
public struct InboundRequest: Sendable {
    public var method: String
    /// The URL the vendor called, as it called it (HubSpot signs it).
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var query: [String: String]

    public init(method: String, url: String, headers: [(String, String)], body: [UInt8], query: [String: String]) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.query = query
    }

    func header(_ name: String) -> String? { headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1 }
}

/// One record a delivery names.
public struct InboundEvent: Sendable, Hashable {
    /// The vendor's event id (or a digest of the delivery when the vendor has none): a second
    /// delivery of the same event changes nothing.
    public var id: String
    public var object: SyncObject
    public var externalID: String
    public var deleted: Bool

    public init(id: String, object: SyncObject, externalID: String, deleted: Bool) {
        self.id = id
        self.object = object
        self.externalID = externalID
        self.deleted = deleted
    }
}

/// Why a delivery was refused (the server answers 401 or 400 and stores nothing).
public struct InboundRefusal: Error, Sendable, CustomStringConvertible {
    public var unauthenticated: Bool
    public var description: String
    init(_ d: String, unauthenticated: Bool = true) {
        description = d
        self.unauthenticated = unauthenticated
    }
}

/// Verifies and reads vendor webhooks (docs/INTEGRATIONS.md, "Inbound webhooks"):
/// HubSpot's v3 signature (HMAC-SHA256 of method, URL, body and timestamp, base64; 5-minute
/// window), Pipedrive's HTTP basic credentials, Marketo's shared token header, Salesforce
/// outbound messages with a token in the URL. swift-crypto computes the HMAC.
public enum InboundWebhooks {
    /// HubSpot's window for `X-HubSpot-Request-Timestamp`.
    public static let hubspotWindowMilliseconds: Int64 = 300_000

    public static func verify(_ vendor: Vendor, _ r: InboundRequest, secrets: [String: String], now: Timestamp) -> Result<[InboundEvent], InboundRefusal> {
        switch vendor {
        case .hubspot: return hubspot(r, secrets: secrets, now: now)
        case .pipedrive: return pipedrive(r, secrets: secrets)
        case .marketo: return marketo(r, secrets: secrets)
        case .salesforce: return salesforce(r, secrets: secrets)
        case .pardot:
            return .failure(InboundRefusal("Pardot sends no webhooks; its changes are read by the scheduled sync", unauthenticated: false))
        }
    }

    /// What the vendor expects back on success.
    public static func acknowledgement(_ vendor: Vendor) -> (contentType: String, body: String) {
        if vendor == .salesforce {
            return (
                "text/xml; charset=utf-8",
                """
                <?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>\
                <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>
                """
            )
        }
        return ("application/json", "{\"received\":true}")
    }

    /// Compares without leaking where two texts differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    static func digest(_ body: [UInt8]) -> String { SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined() }

    // MARK: HubSpot

    /// The v3 signature of a request (base64 HMAC-SHA256 with the app's client secret).
    public static func hubspotSignature(method: String, url: String, body: [UInt8], timestamp: String, secret: String) -> String {
        let source = Array((method + url).utf8) + body + Array(timestamp.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: source, using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    static func hubspot(_ r: InboundRequest, secrets: [String: String], now: Timestamp) -> Result<[InboundEvent], InboundRefusal> {
        guard let secret = secrets["webhook_secret"] ?? secrets["client_secret"] else {
            return .failure(InboundRefusal("the connection has no webhook secret (the HubSpot app's client secret)"))
        }
        guard let signature = r.header("X-HubSpot-Signature-v3"), let ts = r.header("X-HubSpot-Request-Timestamp"), let ms = Int64(ts) else {
            return .failure(InboundRefusal("X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required"))
        }
        guard abs(now.milliseconds - ms) <= hubspotWindowMilliseconds else {
            return .failure(InboundRefusal("the request timestamp is more than 5 minutes from now (a replay or a skewed clock)"))
        }
        let expected = hubspotSignature(method: r.method, url: hubspotURL(r.url), body: r.body, timestamp: ts, secret: secret)
        guard same(expected, signature) else { return .failure(InboundRefusal("the HubSpot signature does not match")) }
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(r.body)) else {
            return .failure(InboundRefusal("the body is not JSON", unauthenticated: false))
        }
        var events: [InboundEvent] = []
        for e in json.array.prefix(1000) {
            guard let type = e["subscriptionType"]?.text, let objectID = e["objectId"]?.text else { continue }
            let id = e["eventId"]?.text ?? digest(Array(e.compactText.utf8))
            let kind = type.split(separator: ".").first.map(String.init) ?? ""
            let object: SyncObject?
            switch kind {
            case "contact": object = .people
            case "company": object = .companies
            case "deal": object = .deals
            default: object = nil
            }
            guard let object else { continue }
            events.append(InboundEvent(id: id, object: object, externalID: objectID, deleted: type.hasSuffix(".deletion") || type.hasSuffix(".privacyDeletion")))
        }
        return .success(events)
    }

    /// HubSpot signs the URL with some escaped characters decoded (its documented list).
    static func hubspotURL(_ url: String) -> String {
        var out = url
        for (escaped, plain) in [("%3A", ":"), ("%2F", "/"), ("%3F", "?"), ("%40", "@"), ("%21", "!"), ("%24", "$"), ("%27", "'"), ("%28", "("), ("%29", ")"), ("%2A", "*"), ("%2C", ","), ("%3B", ";")] {
            out = out.replacingOccurrences(of: escaped, with: plain).replacingOccurrences(of: escaped.lowercased(), with: plain)
        }
        return out
    }

    // MARK: Pipedrive

    static func pipedrive(_ r: InboundRequest, secrets: [String: String]) -> Result<[InboundEvent], InboundRefusal> {
        guard let user = secrets["webhook_user"], let password = secrets["webhook_password"] else {
            return .failure(InboundRefusal("the connection has no webhook user and password (Pipedrive's basic auth for webhooks)"))
        }
        let expected = "Basic " + Data((user + ":" + password).utf8).base64EncodedString()
        guard let given = r.header("Authorization"), same(given, expected) else { return .failure(InboundRefusal("the basic credentials do not match")) }
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(r.body)), let meta = json["meta"] else {
            return .failure(InboundRefusal("the body is not a Pipedrive webhook (no meta)", unauthenticated: false))
        }
        let entity = meta["entity"]?.text ?? meta["object"]?.text ?? ""
        guard let objectID = meta["entity_id"]?.text ?? meta["id"]?.text ?? json["data"]?["id"]?.text else {
            return .failure(InboundRefusal("the webhook names no record (meta.entity_id)", unauthenticated: false))
        }
        let object: SyncObject?
        switch entity {
        case "person": object = .people
        case "organization": object = .companies
        case "deal": object = .deals
        case "activity": object = .activities
        default: object = nil
        }
        guard let object else { return .success([]) }
        let id = meta["correlation_id"]?.text ?? meta["request_id"]?.text ?? digest(r.body)
        let action = meta["action"]?.text ?? ""
        return .success([InboundEvent(id: id, object: object, externalID: objectID, deleted: action == "delete" || action == "deleted")])
    }

    // MARK: Marketo

    static func marketo(_ r: InboundRequest, secrets: [String: String]) -> Result<[InboundEvent], InboundRefusal> {
        guard let token = secrets["webhook_token"] else {
            return .failure(InboundRefusal("the connection has no webhook token (sent by the Marketo webhook as X-Smarketing-Token)"))
        }
        guard let given = r.header("X-Smarketing-Token") ?? r.query["token"], same(given, token) else {
            return .failure(InboundRefusal("the X-Smarketing-Token header does not match"))
        }
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(r.body)), let lead = json["leadId"]?.text ?? json["id"]?.text else {
            return .failure(InboundRefusal("the body must be JSON with \"leadId\" (the webhook's payload template: {\"leadId\": {{lead.Id}}})", unauthenticated: false))
        }
        return .success([InboundEvent(id: digest(r.body), object: .people, externalID: lead, deleted: false)])
    }

    // MARK: Salesforce outbound messages

    static func salesforce(_ r: InboundRequest, secrets: [String: String]) -> Result<[InboundEvent], InboundRefusal> {
        guard let token = secrets["outbound_token"] else {
            return .failure(InboundRefusal("the connection has no outbound_token (put it in the outbound message's URL as ?token=…)"))
        }
        guard let given = r.query["token"], same(given, token) else { return .failure(InboundRefusal("the token in the URL does not match")) }
        let xml = String(decoding: r.body, as: UTF8.self)
        guard xml.contains("notifications") else { return .failure(InboundRefusal("the body is not an outbound message", unauthenticated: false)) }
        var events: [InboundEvent] = []
        for chunk in xml.components(separatedBy: "<Notification>").dropFirst().prefix(100) {
            guard let id = between(chunk, "<Id>", "</Id>"), let recordID = between(chunk, "<sf:Id>", "</sf:Id>") else { continue }
            let type = between(chunk, "xsi:type=\"sf:", "\"") ?? ""
            let object: SyncObject
            switch type {
            case "Account": object = .companies
            case "Opportunity": object = .deals
            case "Campaign": object = .campaigns
            default: object = .people
            }
            events.append(InboundEvent(id: id, object: object, externalID: recordID, deleted: false))
        }
        return .success(events)
    }

    static func between(_ s: String, _ a: String, _ b: String) -> String? {
        guard let start = s.range(of: a), let end = s.range(of: b, range: start.upperBound..<s.endIndex) else { return nil }
        let v = String(s[start.upperBound..<end.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
        return v.isEmpty || v.count > 100 ? nil : v
    }
}
