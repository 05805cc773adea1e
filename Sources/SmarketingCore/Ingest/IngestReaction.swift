/// The seam through which the domain reacts to each stored event inside the ingest
/// transaction. The core decides (a reaction returns changes); the store persists them in the
/// same transaction. Identity resolution runs before the event is stored; scoring, lifecycle,
/// handover clocks and KPI aggregates plug in here.
public protocol IngestReaction: Sendable {
    /// The changes to persist because `event` was stored for `contactID`.
    func react(to event: IncomingEvent, contactID: String) -> [RecordChange]
}

/// A change a reaction asks the store to make.
public enum RecordChange: Sendable, Hashable {
    /// Set fields of an existing record.
    case update(Resource, id: String, fields: [String: FieldValue])
}
