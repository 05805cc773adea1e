import Foundation

/// A weekly sync: the week it reviews, who attended, what was decided, and — once finished — the
/// agenda as it was discussed (the minutes keep the figures of that moment).
public struct Meeting: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public enum Status: String, Sendable, Codable, CaseIterable { case open, finished }

    public var id: Int64
    public var week: String
    public var title: String
    public var status: Status
    /// User ids, in the order they were recorded.
    public var attendees: [String]
    public var decisions: [String]
    public var notes: String
    public var createdAt: Timestamp
    public var createdBy: String
    public var finishedAt: Timestamp?
    /// The agenda frozen when the meeting finished (nil while open: the live agenda is built on read).
    public var agenda: WeeklyAgenda?

    public init(
        id: Int64,
        week: String,
        title: String,
        status: Status,
        attendees: [String],
        decisions: [String],
        notes: String,
        createdAt: Timestamp,
        createdBy: String,
        finishedAt: Timestamp?,
        agenda: WeeklyAgenda?
    ) {
        self.id = id
        self.week = week
        self.title = title
        self.status = status
        self.attendees = attendees
        self.decisions = decisions
        self.notes = notes
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.finishedAt = finishedAt
        self.agenda = agenda
    }
}

/// A task agreed in a meeting (or added later): one owner, a due day, open until done.
public struct ActionItem: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable { case open, done }

    public var id: Int64
    public var title: String
    public var ownerID: String
    /// The owner's name, when the user exists.
    public var ownerName: String?
    /// The last day it is due on (in the workspace's time zone).
    public var due: LocalDate
    public var status: Status
    /// The meeting it was agreed in, if any.
    public var meetingID: Int64?
    public var createdAt: Timestamp
    public var createdBy: String
    public var doneAt: Timestamp?
    public var doneBy: String?

    public init(
        id: Int64,
        title: String,
        ownerID: String,
        ownerName: String?,
        due: LocalDate,
        status: Status,
        meetingID: Int64?,
        createdAt: Timestamp,
        createdBy: String,
        doneAt: Timestamp?,
        doneBy: String?
    ) {
        self.id = id
        self.title = title
        self.ownerID = ownerID
        self.ownerName = ownerName
        self.due = due
        self.status = status
        self.meetingID = meetingID
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.doneAt = doneAt
        self.doneBy = doneBy
    }

    enum CodingKeys: String, CodingKey {
        case id, title, ownerID, ownerName, due, status, meetingID, createdAt, createdBy, doneAt, doneBy
    }

    /// Every key written, absent values as null; the due day as `YYYY-MM-DD`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(title, forKey: .title)
        try c.encode(ownerID, forKey: .ownerID)
        try c.encode(ownerName, forKey: .ownerName)
        try c.encode(due.text, forKey: .due)
        try c.encode(status, forKey: .status)
        try c.encode(meetingID, forKey: .meetingID)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(doneAt, forKey: .doneAt)
        try c.encode(doneBy, forKey: .doneBy)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let dueText = try c.decode(String.self, forKey: .due)
        guard let due = LocalDate.parse(dueText) else {
            throw DecodingError.dataCorruptedError(forKey: .due, in: c, debugDescription: "not a date YYYY-MM-DD")
        }
        self.init(
            id: try c.decode(Int64.self, forKey: .id),
            title: try c.decode(String.self, forKey: .title),
            ownerID: try c.decode(String.self, forKey: .ownerID),
            ownerName: try c.decodeIfPresent(String.self, forKey: .ownerName),
            due: due,
            status: try c.decode(Status.self, forKey: .status),
            meetingID: try c.decodeIfPresent(Int64.self, forKey: .meetingID),
            createdAt: try c.decode(Timestamp.self, forKey: .createdAt),
            createdBy: try c.decode(String.self, forKey: .createdBy),
            doneAt: try c.decodeIfPresent(Timestamp.self, forKey: .doneAt),
            doneBy: try c.decodeIfPresent(String.self, forKey: .doneBy)
        )
    }

    /// Open and due before `today`.
    public func isOverdue(today: LocalDate) -> Bool { status == .open && due < today }

    /// Open items in the order an agenda or inbox lists them: overdue first, then by due day, then by id.
    public static func agendaOrder(_ items: [ActionItem]) -> [ActionItem] {
        items.sorted { ($0.due, $0.id) < ($1.due, $1.id) }
    }
}

/// The checks of what people type into a meeting (one place for the API, the CLI and the web app).
public enum MeetingRules {
    public static let titleMax = 200
    public static let decisionMax = 2_000
    public static let notesMax = 20_000
    public static let attendeesMax = 100
    public static let decisionsMax = 200
    /// How far ahead a due day may lie (about five years) and how far back (a year, for minutes typed late).
    public static let dueDaysAhead = 1_830
    public static let dueDaysBack = 366

    /// Trims a title or decision: refused when empty, too long or holding control characters.
    public static func text(_ raw: String, field: String, max: Int) -> Result<String, MeetingInputProblem> {
        let t = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.isEmpty { return .failure(MeetingInputProblem("\(field) must not be empty")) }
        if t.count > max { return .failure(MeetingInputProblem("\(field) has \(t.count) characters; at most \(max) are kept")) }
        if t.unicodeScalars.contains(where: { $0.value < 32 && $0 != "\n" && $0 != "\t" || $0.value == 127 }) {
            return .failure(MeetingInputProblem("\(field) holds a control character"))
        }
        return .success(t)
    }

    /// A due day `YYYY-MM-DD` within a year back and five years ahead of `today`.
    public static func due(_ raw: String, today: LocalDate) -> Result<LocalDate, MeetingInputProblem> {
        guard let d = LocalDate.parse(raw) else { return .failure(MeetingInputProblem("due must be a date YYYY-MM-DD, not \(raw.prefix(40))")) }
        let delta = d.daysSinceEpoch - today.daysSinceEpoch
        if delta > Int64(dueDaysAhead) { return .failure(MeetingInputProblem("due \(d.text) is more than five years ahead")) }
        if delta < -Int64(dueDaysBack) { return .failure(MeetingInputProblem("due \(d.text) is more than a year ago")) }
        return .success(d)
    }
}

/// Why a meeting input was refused, as one sentence.
public struct MeetingInputProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A note in a campaign's joint review: who wrote it (and for which team), what, and optionally
/// the decision it records.
public struct CampaignNote: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public enum Decision: String, Sendable, Codable, CaseIterable { case `continue`, change, stop }

    public var id: Int64
    public var campaignID: String
    public var author: String
    public var authorName: String?
    public var team: String?
    public var text: String
    public var decision: Decision?
    public var createdAt: Timestamp

    public init(id: Int64, campaignID: String, author: String, authorName: String?, team: String?, text: String, decision: Decision?, createdAt: Timestamp) {
        self.id = id
        self.campaignID = campaignID
        self.author = author
        self.authorName = authorName
        self.team = team
        self.text = text
        self.decision = decision
        self.createdAt = createdAt
    }

    /// The review's standing decision: the latest note that recorded one.
    public static func standing(_ notes: [CampaignNote]) -> CampaignNote? {
        notes.filter { $0.decision != nil }.max { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }
}
