import Foundation
import SmarketingCore
import SmarketingStore

/// What an erasure did here and at the vendors.
public struct ErasureOutcome: Sendable, Encodable, Equatable {
    public var report: ErasureReport
    public var vendors: [VendorErasure]

    enum CodingKeys: String, CodingKey {
        case contactID = "contact_id"
        case erasedAt = "erased_at"
        case reason, changed, vendors
    }

    public init(report: ErasureReport, vendors: [VendorErasure]) {
        self.report = report
        self.vendors = vendors
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(report.contactID, forKey: .contactID)
        try c.encode(report.erasedAt, forKey: .erasedAt)
        try c.encode(report.reason, forKey: .reason)
        try c.encode(report.changed, forKey: .changed)
        try c.encode(vendors, forKey: .vendors)
    }
}

/// Erasure and access as users ask for them (CLI, API): a contact named by id or address,
/// the erasure pushed to the vendors the person is linked to, the export as one JSON document.
public enum PersonPrivacy {
    /// The contact `idOrEmail` names: an id, else the (earliest created) contact with that address.
    public static func resolve(_ store: any FunnelStore, _ idOrEmail: String) async throws -> String? {
        let text = idOrEmail.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.contains("@"), let key = EmailAddress.key(text) { return try await store.contactID(emailKey: key) }
        return try await store.get(.contacts, id: text) != nil ? text : nil
    }

    /// Erases the person here (one transaction), then at each vendor they are linked to where
    /// the vendor's API allows. A vendor that fails does not undo the erasure here: its outcome
    /// says what to do. `connections` is nil where no vendor credentials can be opened.
    public static func erase(
        _ store: any FunnelStore,
        contactID: String,
        reason: String,
        actor: Actor,
        at: Timestamp,
        connections: ConnectionService?
    ) async throws -> ErasureOutcome {
        let report = try await store.eraseContact(id: contactID, reason: reason, actor: actor, at: at)
        var vendors: [VendorErasure] = []
        for link in report.vendorLinks {
            vendors.append(await push(link, connections))
        }
        return ErasureOutcome(report: report, vendors: vendors)
    }

    static func push(_ link: VendorLink, _ connections: ConnectionService?) async -> VendorErasure {
        func failed(_ m: String) -> VendorErasure {
            VendorErasure(connection: link.connection, object: link.object, externalID: link.externalID, outcome: .failed, message: m)
        }
        guard let connections else { return failed("the vendor credentials cannot be opened here (no secret key): erase \(link.object) \(link.externalID) in \(link.connection) by hand") }
        do {
            let c = try await connections.connection(link.connection)
            let connector = try Connectors.make(try connections.config(c))
            var result = await connector.erase(object: link.object, externalID: link.externalID)
            await connector.shutdown()
            result.connection = link.connection
            return result
        } catch {
            return failed("could not reach \(link.connection): \(error)")
        }
    }

    /// The sections of a person's export beside the contact record (each a list of rows).
    public static let sections = [
        "touchpoints", "deal_roles", "primary_contact_of", "score", "score_history", "lifecycle_transitions", "handovers", "handover_log",
        "lead_ratings", "merged_records", "vendor_links", "events", "consent", "audit_log",
    ]

    /// Everything stored about a person, as one JSON document (GDPR Art. 15 and 20); nil when
    /// there is no such contact.
    public static func export(_ store: any FunnelStore, contactID: String, at: Timestamp) async throws -> JSONValue? {
        guard let data = try await store.personData(contactID: contactID) else { return nil }
        var contact: [String: JSONValue] = [:]
        for (f, v) in zip(Resource.contacts.schema.fields, data.contact.values) { contact[f.name] = json(v) }
        var doc: [String: JSONValue] = [
            "exported_at": .string(at.iso8601),
            "contact": .object(contact),
        ]
        for s in data.sections { doc[s.name] = .array(s.rows.map { .object($0) }) }
        if let t = data.tombstone {
            doc["erasure"] = .object(["erased_at": .string(t.erasedAt.iso8601), "actor": .string(t.actor), "reason": .string(t.reason)])
        }
        if let m = data.match {
            doc["earlier_person_erased"] = .object([
                "erased_contact_id": .string(m.erasedContactID), "erased_at": .string(m.erasedAt.iso8601),
                "note": .string("an earlier person with this address was erased; this record was created afterwards"),
            ])
        }
        return .object(doc)
    }

    static func json(_ v: FieldValue) -> JSONValue {
        switch v {
        case .null: return .null
        case .text(let s): return .string(s)
        case .json(let s): return (try? JSONDecoder().decode(JSONValue.self, from: Data(s.utf8))) ?? .string(s)
        case .integer(let i): return .number(Double(i))
        case .number(let d): return .number(d)
        case .bool(let b): return .bool(b)
        case .timestamp(let t): return .string(t.iso8601)
        case .date(let d): return .string(d.text)
        }
    }
}
