/// A routing rule, tried in order.
public enum RoutingRule: Sendable, Hashable {
    /// The owner of the lead's account, when they are a known, present user.
    case accountOwner(id: String)
    /// Leads matching the conditions go to a team's pool (weighted round-robin).
    case pool(id: String, when: Conditions, team: String)

    /// The rule's id.
    public var id: String {
        switch self {
        case .accountOwner(let id), .pool(let id, _, _): return id
        }
    }
}

/// What routing knows about a rep at the moment of a decision.
public struct RepLoad: Sendable, Hashable {
    public var userID: String
    /// Open leads allowed at once; also the rep's weight in the round-robin (nil: weight 1, no cap).
    public var capacity: Int?
    /// Handovers the rep holds open now.
    public var open: Int
    /// Leads each team's pool has given the rep so far (the round-robin's memory), by team.
    public var assigned: [String: Int]

    /// Creates a load.
    public init(userID: String, capacity: Int?, open: Int, assigned: [String: Int] = [:]) {
        self.userID = userID
        self.capacity = capacity
        self.open = open
        self.assigned = assigned
    }
}

/// A candidate routing looked at and what became of them.
public struct RoutingCandidate: Sendable, Hashable, Codable {
    public var userID: String
    /// `chosen`, or why not: `out_of_office`, `outside_working_hours`, `at_capacity`,
    /// `not_next` (another rep was due first), `excluded`.
    public var outcome: String

    /// Creates a candidate.
    public init(userID: String, outcome: String) {
        self.userID = userID
        self.outcome = outcome
    }
}

/// Why a lead went where it went.
public struct RoutingDecision: Sendable, Hashable, Codable {
    /// The new owner.
    public var owner: String
    /// The queue the lead waits in (nil: assigned to a rep by a rule).
    public var queue: String?
    /// The rule that decided (`fallback` when none did).
    public var rule: String
    /// The team of the owner (or of the pool that chose them), if any.
    public var team: String?
    /// The team whose round-robin chose the owner (nil for the account owner, a manual choice or
    /// the queue): its memory of who is next counts this lead.
    public var pool: String?
    /// Every rule tried, in order, and what it said.
    public var trail: [String]
    /// The reps the deciding pool (or earlier pools) considered.
    public var candidates: [RoutingCandidate]

    /// Creates a decision.
    public init(owner: String, queue: String?, rule: String, team: String?, pool: String? = nil, trail: [String], candidates: [RoutingCandidate]) {
        self.owner = owner
        self.pool = pool
        self.queue = queue
        self.rule = rule
        self.team = team
        self.trail = trail
        self.candidates = candidates
    }
}

/// Routing rules in order, then a fallback queue with an owner. Pure and deterministic: the same
/// lead, loads and instant give the same decision.
public struct Router: Sendable, Hashable {
    public var rules: [RoutingRule]
    public var fallbackQueue: String
    public var fallbackOwner: String
    /// The calendar of the queue (its owner's SLA clocks); nil: wall clock.
    public var fallbackCalendar: String?

    /// Creates a router.
    public init(rules: [RoutingRule], fallbackQueue: String, fallbackOwner: String, fallbackCalendar: String? = nil) {
        self.rules = rules
        self.fallbackQueue = fallbackQueue
        self.fallbackOwner = fallbackOwner
        self.fallbackCalendar = fallbackCalendar
    }

    /// Decides the owner of a lead.
    ///
    /// - `attributes`: the lead's routing attributes (country, persona, employees, segment, …).
    /// - `accountOwner`: the account's owner, if any.
    /// - `loads`: every rep the pools name, by id (a rep without a load is unknown and skipped).
    /// - `exclude`: reps not to pick (the owner a breach takes the lead from).
    public func route(
        attributes: [String: String],
        accountOwner: String?,
        config: HandoverConfig,
        loads: [String: RepLoad],
        exclude: Set<String> = [],
        at now: Timestamp,
        startingAt firstRule: Int = 0
    ) -> RoutingDecision {
        var trail: [String] = []
        var considered: [RoutingCandidate] = []
        for rule in rules.dropFirst(firstRule) {
            switch rule {
            case .accountOwner(let id):
                guard let owner = accountOwner else {
                    trail.append("\(id): the account has no owner")
                    continue
                }
                if exclude.contains(owner) {
                    trail.append("\(id): the account owner \(owner) is excluded")
                    continue
                }
                if loads[owner] == nil && !config.userIDs.contains(owner) {
                    trail.append("\(id): the account owner \(owner) is not a sales rep")
                    continue
                }
                if Self.absent(owner, config, now) {
                    trail.append("\(id): the account owner \(owner) is out of office")
                    considered.append(RoutingCandidate(userID: owner, outcome: "out_of_office"))
                    continue
                }
                trail.append("\(id): the account owner \(owner)")
                considered.append(RoutingCandidate(userID: owner, outcome: "chosen"))
                return RoutingDecision(owner: owner, queue: nil, rule: id, team: config.team(of: owner)?.id, trail: trail, candidates: considered)
            case .pool(let id, let when, let teamID):
                guard when.hold(attributes) else {
                    trail.append("\(id): \(when.text) does not hold")
                    continue
                }
                guard let team = config.teams[teamID] else { continue }
                var best: (user: String, ratio: Double, index: Int)?
                var pool: [RoutingCandidate] = []
                for (index, member) in team.members.enumerated() {
                    let outcome: String?
                    if exclude.contains(member) {
                        outcome = "excluded"
                    } else if loads[member] == nil {
                        outcome = "unknown_user"
                    } else if Self.absent(member, config, now) {
                        outcome = "out_of_office"
                    } else if let c = config.workingCalendar(of: member), !c.isOpen(at: now) {
                        outcome = "outside_working_hours"
                    } else if let load = loads[member], let cap = load.capacity, load.open >= cap {
                        outcome = "at_capacity"
                    } else {
                        outcome = nil
                    }
                    if let outcome {
                        pool.append(RoutingCandidate(userID: member, outcome: outcome))
                        continue
                    }
                    // Weighted round-robin: the rep with the fewest leads per unit of capacity
                    // goes next; ties go to the rep listed first.
                    let load = loads[member]!
                    let weight = Double(max(load.capacity ?? 1, 1))
                    let ratio = Double(load.assigned[teamID] ?? 0) / weight
                    pool.append(RoutingCandidate(userID: member, outcome: "eligible"))
                    if best == nil || ratio < best!.ratio { best = (member, ratio, index) }
                }
                if let best {
                    for i in pool.indices where pool[i].outcome == "eligible" {
                        pool[i].outcome = pool[i].userID == best.user ? "chosen" : "not_next"
                    }
                    considered += pool
                    trail.append("\(id): \(when.text) → team \(teamID), \(best.user) is next")
                    return RoutingDecision(owner: best.user, queue: nil, rule: id, team: teamID, pool: teamID, trail: trail, candidates: considered)
                }
                considered += pool
                trail.append("\(id): \(when.text) → team \(teamID), nobody available")
            }
        }
        trail.append("fallback: queue \(fallbackQueue), owner \(fallbackOwner)")
        return RoutingDecision(
            owner: fallbackOwner,
            queue: fallbackQueue,
            rule: "fallback",
            team: config.team(of: fallbackOwner)?.id,
            trail: trail,
            candidates: considered
        )
    }

    static func absent(_ user: String, _ config: HandoverConfig, _ now: Timestamp) -> Bool {
        config.reps[user]?.outOfOffice.contains { $0.contains(now) } ?? false
    }
}
