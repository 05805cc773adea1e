import Foundation

/// Whether a person may be sent marketing: the latest word wins, whoever said it (an
/// `unsubscribe` or `subscribe` event, a vendor sync, a user). docs/OPERATIONS.md, "Consent".
public enum SubscriptionStatus: String, Sendable, Codable, CaseIterable, Hashable {
    case subscribed, unsubscribed
}

/// A contact's subscription status, where it came from and when.
public struct ContactConsent: Sendable, Codable, Equatable, Hashable {
    public var contactID: String
    public var status: SubscriptionStatus
    /// Who or what said so: `event:<id>`, `user:<id>`, `cli`, a vendor connection.
    public var source: String
    public var at: Timestamp

    public init(contactID: String, status: SubscriptionStatus, source: String, at: Timestamp) {
        self.contactID = contactID
        self.status = status
        self.source = source
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case contactID = "contact_id"
        case status, source, at
    }
}

public enum Consent {
    /// The touch types that set the status (any way in: events, bundles, vendor activities).
    public static let touchTypes: [String: SubscriptionStatus] = ["unsubscribe": .unsubscribed, "subscribe": .subscribed]

    /// A source as given by a user: one line of at most 200 characters; blank: `fallback`.
    public static func source(_ raw: String?, fallback: String) -> Result<String, ErasureError> {
        let s = String((raw ?? "").map { $0.isNewline ? " " : $0 }).trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return .success(fallback) }
        if s.count > 200 { return .failure(.init("the source is \(s.count) characters; at most 200")) }
        return .success(s)
    }

    /// Which of two statements stands: the later one; at the same instant, the new one.
    public static func stands(_ new: ContactConsent, over old: ContactConsent?) -> Bool {
        guard let old else { return true }
        return new.at >= old.at
    }
}
