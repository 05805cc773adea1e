/// A marketing touch on a deal's path.
public struct PathTouch: Sendable, Hashable {
    public var id: String
    public var at: Timestamp
    public var contact: String
    /// The touch's channel, else its campaign's; `(none)` when neither.
    public var channel: String
    public var campaign: String
    public var content: String

    public init(id: String, at: Timestamp, contact: String, channel: String?, campaign: String?, content: String?) {
        self.id = id
        self.at = at
        self.contact = contact
        self.channel = channel ?? KPIDimension.none
        self.campaign = campaign ?? KPIDimension.none
        self.content = content ?? KPIDimension.none
    }

    /// Puts one contact's touches, read in instant order, into journey order: by instant, then by
    /// id compared bytewise (as SQLite's BINARY and PostgreSQL's "C" collation order it). Sorts
    /// only when two touches share an instant, so a store can read them in its index's order.
    public static func orderTies(_ touches: inout [PathTouch]) {
        guard zip(touches, touches.dropFirst()).contains(where: { $0.at == $1.at }) else { return }
        touches.sort { $0.at != $1.at ? $0.at < $1.at : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }

    /// A touch's channel: its own, else its campaign's (nil: neither).
    public static func channel(own: String?, campaign: String?, campaignChannels: [String: String]) -> String? {
        own ?? campaign.flatMap { campaignChannels[$0] }
    }

    /// The label of this touch under a cut.
    public func label(_ by: AttributionCut) -> String {
        switch by {
        case .channel: return channel
        case .campaign: return campaign
        case .content: return content
        }
    }
}

/// What credit is reported by.
public enum AttributionCut: String, Sendable, Hashable, CaseIterable, Codable {
    case channel, campaign, content
}

/// A won deal with the marketing touches of its contacts (PRODUCT.md: at or before the close,
/// within the look-back window), and each contact's lead time.
public struct DealPath: Sendable, Hashable {
    public var dealID: String
    public var amountCents: Int64
    public var createdAt: Timestamp
    public var closedAt: Timestamp
    /// Ordered by (instant, id).
    public var touches: [PathTouch]
    /// `became_lead_at`, else `created_at`, per contact of the deal.
    public var leadTimes: [String: Timestamp]

    public init(dealID: String, amountCents: Int64, createdAt: Timestamp, closedAt: Timestamp, touches: [PathTouch], leadTimes: [String: Timestamp]) {
        self.dealID = dealID
        self.amountCents = amountCents
        self.createdAt = createdAt
        self.closedAt = closedAt
        self.touches = touches.sorted { ($0.at, $0.id) < ($1.at, $1.id) }
        self.leadTimes = leadTimes
    }

    /// The positions of the path (nil for an empty path): OC is the last touch at or before the
    /// opportunity's creation, else the first after it; LC is, for the contact with the earliest
    /// lead time (ties: the earlier touch), its own last touch at or before that time, else its
    /// first own touch after it.
    public var attributionPath: AttributionPath? {
        guard !touches.isEmpty else { return nil }
        let oc = touches.lastIndex { $0.at <= createdAt } ?? 0
        var best: (lead: Timestamp, index: Int)?
        var byContact: [String: [Int]] = [:]
        for (i, t) in touches.enumerated() { byContact[t.contact, default: []].append(i) }
        for (contact, indices) in byContact {
            guard let lead = leadTimes[contact] else { continue }
            let own = indices.last { touches[$0].at <= lead } ?? indices[0]
            if best == nil || (lead, own) < (best!.lead, best!.index) { best = (lead, own) }
        }
        return AttributionPath(times: touches.map(\.at), leadCreation: best?.index ?? 0, opportunityCreation: oc, close: closedAt)
    }
}

/// The credit one label receives: revenue and (fractional) deals.
public struct AttributionCredit: Sendable, Hashable, Codable {
    public var label: String
    public var revenue: Double
    public var deals: Double

    public init(label: String, revenue: Double, deals: Double) {
        self.label = label
        self.revenue = revenue
        self.deals = deals
    }
}

/// Every attribution model of PRODUCT.md by name.
public enum AttributionModel: String, Sendable, Hashable, CaseIterable, Codable {
    case firstTouch = "first_touch"
    case lastTouch = "last_touch"
    case leadCreation = "lead_creation"
    case linear
    case uShaped = "u_shaped"
    case wShaped = "w_shaped"
    case fullPath = "full_path"
    case timeDecay = "time_decay"
    case markov, shapley

    public var rule: RuleModel? { RuleModel(rawValue: rawValue) }

    /// `all` or comma-separated model names; the error names the bad one and the choices.
    public static func list(_ text: String) -> Result<[AttributionModel], AttributionModelError> {
        if text == "all" { return .success(allCases) }
        var out: [AttributionModel] = []
        for name in text.split(separator: ",") {
            guard let m = AttributionModel(rawValue: String(name)) else {
                return .failure(AttributionModelError(message: "takes all or " + allCases.map(\.rawValue).joined(separator: ", ") + ", not \(name)"))
            }
            out.append(m)
        }
        return .success(out)
    }

    /// Whether any of `models` needs contact journeys (the data-driven ones).
    public static func needsJourneys(_ models: [AttributionModel]) -> Bool { models.contains(.markov) || models.contains(.shapley) }
}

/// A bad model list, as the end of a sentence ("--model takes …").
public struct AttributionModelError: Error, Sendable {
    public var message: String
}

/// Rule-based credit for deals.
public enum DealAttribution {
    /// Credit per label of `by` under a rule model: each deal's amount and one deal split by the
    /// model's weights over its path. Deals with an empty path are not credited (the caller
    /// reports them as unattributed).
    public static func credit(
        _ deals: [DealPath],
        model: RuleModel,
        by: AttributionCut,
        halfLife: Int64 = RuleAttribution.defaultHalfLife
    )
        -> [String: (revenueCents: Double, deals: Double)]
    {
        credit(deals, models: [model], by: by, halfLife: halfLife)[model] ?? [:]
    }

    /// The credit of several rule models in one pass: each deal's path positions and each
    /// touch's label are worked out once, and credit is summed in arrays indexed by label (the
    /// same order of additions as one model at a time, so the sums are identical).
    public static func credit(
        _ deals: [DealPath],
        models: [RuleModel],
        by: AttributionCut,
        halfLife: Int64 = RuleAttribution.defaultHalfLife
    )
        -> [RuleModel: [String: (revenueCents: Double, deals: Double)]]
    {
        var ids: [String: Int] = [:]
        var labels: [String] = []
        var revenue = [[Double]](repeating: [], count: models.count)
        var count = [[Double]](repeating: [], count: models.count)
        var credited = [[Bool]](repeating: [], count: models.count)
        for d in deals {
            guard let path = d.attributionPath else { continue }
            let touchLabels = d.touches.map { t -> Int in
                let l = t.label(by)
                if let i = ids[l] { return i }
                ids[l] = labels.count
                labels.append(l)
                for m in models.indices {
                    revenue[m].append(0)
                    count[m].append(0)
                    credited[m].append(false)
                }
                return labels.count - 1
            }
            let amount = Double(d.amountCents)
            for (m, model) in models.enumerated() {
                let w = RuleAttribution.weights(model, path, halfLife: halfLife)
                for i in w.indices where w[i] != 0 {
                    let l = touchLabels[i]
                    revenue[m][l] += amount * w[i]
                    count[m][l] += w[i]
                    credited[m][l] = true
                }
            }
        }
        var out: [RuleModel: [String: (revenueCents: Double, deals: Double)]] = [:]
        for (m, model) in models.enumerated() {
            var credit: [String: (revenueCents: Double, deals: Double)] = [:]
            for l in labels.indices where credited[m][l] { credit[labels[l]] = (revenue[m][l], count[m][l]) }
            out[model] = credit
        }
        return out
    }
}
