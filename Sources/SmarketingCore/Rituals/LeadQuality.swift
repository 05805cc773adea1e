import Foundation

/// Sales' verdict on a lead it accepted or rejected: good or not, and why.
public enum LeadRatingValue: String, Sendable, Codable, CaseIterable {
    case good, bad
}

/// A stored rating of one handover's lead (re-rating replaces it; every rating is audited).
public struct LeadRating: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public var handoverID: Int64
    public var contactID: String
    public var rating: LeadRatingValue
    public var reason: String?
    public var ratedBy: String
    public var ratedAt: Timestamp

    public init(handoverID: Int64, contactID: String, rating: LeadRatingValue, reason: String?, ratedBy: String, ratedAt: Timestamp) {
        self.handoverID = handoverID
        self.contactID = contactID
        self.rating = rating
        self.reason = reason
        self.ratedBy = ratedBy
        self.ratedAt = ratedAt
    }
}

/// The reasons a rating may give (one list for the inbox, the lead page, the API and the CLI, so
/// the mix per campaign adds up).
public enum LeadRatingReasons {
    public static let all: [(id: String, label: String, rating: LeadRatingValue)] = [
        ("right_fit", "Right company and role", .good),
        ("real_need", "Real need, active project", .good),
        ("budget", "Has budget", .good),
        ("good_timing", "Good timing", .good),
        ("wrong_persona", "Wrong role or persona", .bad),
        ("no_need", "No need", .bad),
        ("no_budget", "No budget", .bad),
        ("too_early", "Too early, just researching", .bad),
        ("bad_data", "Bad or fake contact data", .bad),
        ("student_or_competitor", "Student, job seeker or competitor", .bad),
        ("existing_customer", "Already a customer", .bad),
        ("other", "Other", .good),
        ("other", "Other", .bad),
    ]

    public static func label(_ id: String) -> String { all.first { $0.id == id }?.label ?? id }

    /// The reason's id when it fits the rating (nil reason is allowed), else the sentence that refuses it.
    public static func check(_ reason: String?, for rating: LeadRatingValue) -> Result<String?, MeetingInputProblem> {
        guard let reason, !reason.isEmpty else { return .success(nil) }
        if all.contains(where: { $0.id == reason && $0.rating == rating }) { return .success(reason) }
        let fitting = all.filter { $0.rating == rating }.map(\.id)
        return .failure(MeetingInputProblem("reason \(reason.prefix(60)) does not go with a \(rating.rawValue) rating; one of " + fitting.joined(separator: ", ")))
    }
}

/// One handover answered by sales in a period, with its rating if it has one: what the lead
/// quality report counts.
public struct LeadFeedback: Sendable, Equatable {
    public var handoverID: Int64
    public var campaign: String?
    public var channel: String?
    public var persona: String?
    /// Content the lead touched before the handover (only read for the content cut).
    public var content: [String]
    public var status: HandoverStatus
    public var rejectReason: String?
    public var rating: LeadRatingValue?
    public var ratingReason: String?
    /// When sales answered it.
    public var answeredAt: Timestamp

    public init(
        handoverID: Int64,
        campaign: String?,
        channel: String?,
        persona: String?,
        content: [String],
        status: HandoverStatus,
        rejectReason: String?,
        rating: LeadRatingValue?,
        ratingReason: String?,
        answeredAt: Timestamp
    ) {
        self.handoverID = handoverID
        self.campaign = campaign
        self.channel = channel
        self.persona = persona
        self.content = content
        self.status = status
        self.rejectReason = rejectReason
        self.rating = rating
        self.ratingReason = ratingReason
        self.answeredAt = answeredAt
    }
}

/// How the lead quality report groups.
public enum LeadQualityCut: String, Sendable, CaseIterable, Codable {
    case campaign, channel, persona, content, month
}

/// Sales' feedback on marketing's leads per campaign, channel, persona, content or month (JSON
/// schema `smarketing-lead-quality/1`): of the handovers sales answered in the period, how many
/// it accepted and rejected (and why), how many it rated, and the share rated good.
public struct LeadQualityReport: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public struct Group: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var key: String
        /// The campaign's or content's name, the persona's name, when known.
        public var name: String?
        public var answered: Int
        /// Accepted or qualified.
        public var accepted: Int
        public var rejected: Int
        public var rated: Int
        public var good: Int
        public var bad: Int
        /// good ÷ rated.
        public var goodShare: Double?
        /// rejected ÷ (accepted + rejected).
        public var rejectionRate: Double?
        public var rejectionReasons: [KPIValues.ReasonCount]
        /// Why leads were rated bad.
        public var badReasons: [KPIValues.ReasonCount]
    }

    public var schema = "smarketing-lead-quality/1"
    public var period: ReportPeriod
    public var by: String
    public var total: Group
    /// Per cut value, most answered first (months in order).
    public var groups: [Group]

    public static func build(_ rows: [LeadFeedback], by: LeadQualityCut, period: ReportPeriod, zone: TimeZone, names: [String: String] = [:]) -> LeadQualityReport {
        let calendar = KPICalendar(timeZone: zone)
        func keys(_ r: LeadFeedback) -> [String] {
            switch by {
            case .campaign: return [r.campaign ?? "(none)"]
            case .channel: return [r.channel ?? "(none)"]
            case .persona: return [r.persona ?? "(none)"]
            case .content: return r.content.isEmpty ? ["(none)"] : Array(Set(r.content)).sorted()
            case .month: return [String(LocalDate(daysSinceEpoch: calendar.day(r.answeredAt)).text.prefix(7))]
            }
        }
        var grouped: [String: [LeadFeedback]] = [:]
        for r in rows { for k in keys(r) { grouped[k, default: []].append(r) } }
        let groups = grouped.map { group($0.key, $0.value, names[$0.key]) }
            .sorted { by == .month ? $0.key < $1.key : ($1.answered, $0.key) < ($0.answered, $1.key) }
        return LeadQualityReport(period: period, by: by.rawValue, total: group("all", rows, nil), groups: groups)
    }

    static func group(_ key: String, _ rows: [LeadFeedback], _ name: String?) -> Group {
        var rejections: [String: Int64] = [:]
        var bad: [String: Int64] = [:]
        var accepted = 0
        var rejected = 0
        var good = 0
        var badCount = 0
        for r in rows {
            switch r.status {
            case .accepted, .qualified: accepted += 1
            case .rejected:
                rejected += 1
                rejections[r.rejectReason ?? "(none)", default: 0] += 1
            default: break
            }
            switch r.rating {
            case .good?: good += 1
            case .bad?:
                badCount += 1
                bad[r.ratingReason ?? "(none)", default: 0] += 1
            case nil: break
            }
        }
        let rated = good + badCount
        return Group(
            key: key,
            name: name,
            answered: rows.count,
            accepted: accepted,
            rejected: rejected,
            rated: rated,
            good: good,
            bad: badCount,
            goodShare: rated == 0 ? nil : Double(good) / Double(rated),
            rejectionRate: accepted + rejected == 0 ? nil : Double(rejected) / Double(accepted + rejected),
            rejectionReasons: KPIValues.ReasonCount.ranked(rejections),
            badReasons: KPIValues.ReasonCount.ranked(bad)
        )
    }
}

/// "Would this model have sent fewer of the leads sales called bad?": each rated lead replayed
/// under a model up to its handover, counted as sent when the model's MQL rule fires by then.
public struct RatingBacktest: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public var rated: Int
    public var good: Int
    public var bad: Int
    /// Rated leads the model would have made MQLs by their handover.
    public var sentGood: Int
    public var sentBad: Int
    /// bad ÷ sent among the rated leads the model sends.
    public var badShareOfSent: Double?
    /// Good leads the model would not have sent.
    public var goodMissed: Int

    /// A rated lead: its contact's replay input and the moment it was handed over.
    public struct Rated: Sendable {
        public var contact: BacktestContact
        public var handedOverAt: Timestamp
        public var good: Bool
        public init(contact: BacktestContact, handedOverAt: Timestamp, good: Bool) {
            self.contact = contact
            self.handedOverAt = handedOverAt
            self.good = good
        }
    }

    public static func run(_ rated: [Rated], scorer: Scorer) -> RatingBacktest {
        var r = RatingBacktest(rated: rated.count, good: 0, bad: 0, sentGood: 0, sentBad: 0, badShareOfSent: nil, goodMissed: 0)
        for lead in rated {
            var state = scorer.newState(lead.contact.profile, lastAssigned: lead.contact.profile["contact.persona_id"])
            var sent = scorer.qualifies(state, at: lead.contact.start)
            for touch in lead.contact.touches where !sent {
                if touch.at > lead.handedOverAt { break }
                scorer.add(touch, to: &state)
                sent = scorer.qualifies(state, at: max(touch.at, lead.contact.start))
            }
            if !sent { sent = scorer.qualifies(state, at: lead.handedOverAt) }
            if lead.good {
                r.good += 1
                if sent { r.sentGood += 1 } else { r.goodMissed += 1 }
            } else {
                r.bad += 1
                if sent { r.sentBad += 1 }
            }
        }
        let sent = r.sentGood + r.sentBad
        r.badShareOfSent = sent == 0 ? nil : Double(r.sentBad) / Double(sent)
        return r
    }
}
