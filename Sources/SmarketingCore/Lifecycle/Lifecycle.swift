/// Who or what moved a contact.
public enum LifecycleActor: Sendable, Hashable, Codable {
    /// How a transition's actor is stored: `rule:mql`, `user:u-1`, `import`, `connector:hubspot`,
    /// `system:opportunity o-1`.
    public var storedText: String {
        switch self {
        case .rule(let r): return "rule:" + r
        case .user(let u): return "user:" + u
        case .importer: return "import"
        case .connector(let c): return "connector:" + c
        case .system(let s): return "system:" + s
        }
    }

    /// A scoring rule of a model version (the MQL rule).
    case rule(String)
    /// A person.
    case user(String)
    /// A bundle import (history as it happened in the source system).
    case importer
    /// A vendor connector.
    case connector(String)
    /// A domain reaction (an opportunity created or won).
    case system(String)
}

/// One stored move between stages.
public struct LifecycleTransition: Sendable, Hashable, Codable {
    public var from: LifecycleStage?
    public var to: LifecycleStage
    public var at: Timestamp
    public var actor: LifecycleActor
    public var reason: String?
    /// The scoring model version that caused the move, for rule moves.
    public var modelVersion: Int?

    /// Creates a transition.
    public init(from: LifecycleStage?, to: LifecycleStage, at: Timestamp, actor: LifecycleActor, reason: String? = nil, modelVersion: Int? = nil) {
        self.from = from
        self.to = to
        self.at = at
        self.actor = actor
        self.reason = reason
        self.modelVersion = modelVersion
    }
}

/// Why a move is refused, in one sentence.
public enum LifecycleRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    case alreadyThere(LifecycleStage)
    case backwards(from: LifecycleStage, to: LifecycleStage)
    case terminal(LifecycleStage)
    case needsReason(LifecycleStage)
    case onlyPeopleReopen

    public var description: String {
        switch self {
        case .alreadyThere(let s): return "the contact is already \(s.rawValue)"
        case .backwards(let f, let t): return "stages only move forward: \(f.rawValue) cannot go back to \(t.rawValue) (recycle or disqualify instead)"
        case .terminal(let s): return "a \(s.rawValue) contact cannot be recycled or disqualified"
        case .needsReason(let s): return "moving a contact to \(s.rawValue) needs a reason"
        case .onlyPeopleReopen: return "only a person can bring a disqualified contact back, and only to lead"
        }
    }
}

/// The lifecycle state machine: forward-only along the funnel, except recycle and disqualify.
///
/// Rules: a move to a later funnel stage is allowed from any earlier one (stages may be skipped:
/// creating an opportunity moves a lead straight to opportunity). `recycled` and `disqualified`
/// are reachable from every stage before `customer`, with a reason. A recycled contact moves
/// forward again from lead. A disqualified contact stays out unless a person reopens it to lead.
/// Customers stay customers.
public enum Lifecycle {
    /// The transition for moving a contact in `current` to `target`, or why it is refused.
    public static func move(
        from current: LifecycleStage?,
        to target: LifecycleStage,
        at: Timestamp,
        actor: LifecycleActor,
        reason: String? = nil,
        modelVersion: Int? = nil
    ) -> Result<LifecycleTransition, LifecycleRefusal> {
        let transition = LifecycleTransition(from: current, to: target, at: at, actor: actor, reason: reason, modelVersion: modelVersion)
        guard let current else { return .success(transition) }
        if current == target { return .failure(.alreadyThere(target)) }
        switch target {
        case .recycled, .disqualified:
            if current == .customer || current == .disqualified { return .failure(.terminal(current)) }
            guard let reason, !reason.isEmpty else { return .failure(.needsReason(target)) }
            return .success(transition)
        default:
            break
        }
        switch current {
        case .disqualified:
            guard case .user = actor, target == .lead else { return .failure(.onlyPeopleReopen) }
            return .success(transition)
        case .recycled:
            // Back in nurturing: it may qualify again from lead on.
            guard let t = target.rank, t >= LifecycleStage.lead.rank! else { return .failure(.backwards(from: current, to: target)) }
            return .success(transition)
        default:
            guard let c = current.rank, let t = target.rank, t > c else { return .failure(.backwards(from: current, to: target)) }
            return .success(transition)
        }
    }

    /// The history an import brings: one transition per filled `became_*_at` / `recycled_at`
    /// time, in time order, by the importer. Imported history is kept, never re-derived.
    public static func importedHistory(_ times: [LifecycleStage: Timestamp], recycleReason: String?) -> [LifecycleTransition] {
        let ordered = times.sorted { a, b in a.value != b.value ? a.value < b.value : (a.key.rank ?? 99) < (b.key.rank ?? 99) }
        var previous: LifecycleStage?
        var out: [LifecycleTransition] = []
        for (stage, at) in ordered {
            out.append(LifecycleTransition(from: previous, to: stage, at: at, actor: .importer, reason: stage == .recycled ? recycleReason : nil))
            previous = stage
        }
        return out
    }
}
