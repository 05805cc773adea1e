/// One contact's history as a backtest replays it.
public struct BacktestContact: Sendable {
    public var id: String
    public var profile: ContactProfile
    /// When the contact entered the funnel (its creation).
    public var start: Timestamp
    /// Its touches in time order.
    public var touches: [TouchFacts]
    /// When it reached the target (opportunity or won deal), if it did.
    public var target: Timestamp?

    /// Creates a contact history.
    public init(id: String, profile: ContactProfile, start: Timestamp, touches: [TouchFacts], target: Timestamp?) {
        self.id = id
        self.profile = profile
        self.start = start
        self.touches = touches
        self.target = target
    }
}

/// What a backtest looks at.
public struct BacktestOptions: Sendable {
    /// Contacts created in [from, to) are replayed; `to` also ends every observation.
    public var from: Timestamp
    public var to: Timestamp
    /// A contact is a positive when it reaches the target within this long after its creation.
    public var horizon: Int64
    /// MQLs the sales team can take per week (the sum of the sales users' capacity), if known.
    public var weeklyCapacity: Double?
    /// Score thresholds to report; nil: steps of 5 up to the highest score seen.
    public var thresholds: [Double]?

    /// Creates options.
    public init(from: Timestamp, to: Timestamp, horizon: Int64, weeklyCapacity: Double? = nil, thresholds: [Double]? = nil) {
        self.from = from
        self.to = to
        self.horizon = horizon
        self.weeklyCapacity = weeklyCapacity
        self.thresholds = thresholds
    }
}

/// How one MQL threshold (or the MQL rule itself) would have done.
public struct ThresholdResult: Sendable, Hashable, Codable {
    /// The score threshold; nil for the model's own MQL rule.
    public var threshold: Double?
    /// Contacts that would have become MQL in the period (censored ones included).
    public var mqls: Int
    /// Of the labelled contacts: MQLs that reached the target after qualifying.
    public var truePositives: Int
    public var labelledMQLs: Int
    public var precision: Double?
    public var recall: Double?
    public var mqlsPerWeek: Double
    public var maxMQLsPerWeek: Int
}

/// One tenth of the labelled contacts, best scores first.
public struct LiftDecile: Sendable, Hashable, Codable {
    public var decile: Int
    public var contacts: Int
    public var positives: Int
    public var minScore: Double
    public var conversionRate: Double
    public var lift: Double?
}

/// A contact's backtest score and label (what `--csv` writes).
public struct BacktestScore: Sendable, Hashable {
    public var contactID: String
    public var score: Double
    public var label: Bool
}

/// The result of replaying history through one model.
public struct BacktestReport: Sendable {
    public var modelVersion: Int?
    public var contacts: Int
    /// Contacts with a known outcome (reached the target within the horizon, or observed for the
    /// whole horizon without reaching it).
    public var labelled: Int
    public var positives: Int
    /// Contacts whose horizon runs past `to` without reaching the target: no label, left out of
    /// AUC, precision, recall and lift (they still count in MQL volume).
    public var censored: Int
    /// Contacts that had reached the target when they were created (nothing to predict).
    public var convertedAtStart: Int
    public var weeks: Int
    public var auc: Double?
    public var thresholds: [ThresholdResult]
    public var rule: ThresholdResult
    public var lift: [LiftDecile]
    /// The threshold with the best recall whose weekly MQL volume stays within capacity.
    public var recommended: ThresholdResult?
    public var scores: [BacktestScore]
}

/// Replays stored history through a model without changing anything.
///
/// Definitions (also in the README): a contact's *score* at a moment is fit points + engagement
/// then. Each contact created in [from, to) is observed from its creation until the earliest of
/// reaching the target, its horizon, and `to`; its backtest score is the highest score it had
/// in that window (scores only rise at touches, so the peak is taken right after one). It is
/// *positive* when it reached the target within the horizon, *negative* when it was observed for
/// the whole horizon without, and censored otherwise. At threshold T a contact becomes MQL at
/// the first moment its score reaches T; the MQL rule row uses the model's own rule instead.
/// Weekly volume counts MQLs per ISO week (Monday, UTC) in [from, to).
public enum Backtest {
    /// The default replay period: from the first contact's creation to just after the latest
    /// creation or touch (nil without contacts).
    public static func period(of contacts: [BacktestContact]) -> (from: Timestamp, to: Timestamp)? {
        guard let from = contacts.map(\.start).min(),
            let last = contacts.map({ max($0.start, $0.touches.last?.at ?? $0.start) }).max()
        else { return nil }
        return (from, last.adding(milliseconds: 1))
    }

    public static func run(_ contacts: [BacktestContact], scorer: Scorer, options o: BacktestOptions) -> BacktestReport {
        struct Seen {
            var id: String
            var label: Bool?
            /// (time, new record score): the running maximum's steps.
            var steps: [(Timestamp, Double)]
            var ruleAt: Timestamp?
        }
        var seen: [Seen] = []
        var convertedAtStart = 0
        for c in contacts where c.start >= o.from && c.start < o.to {
            if let t = c.target, t <= c.start {
                convertedAtStart += 1
                continue
            }
            let horizonEnd = c.start.adding(milliseconds: o.horizon)
            var end = min(horizonEnd, o.to)
            var label: Bool?
            if let t = c.target, t <= horizonEnd {
                label = t <= o.to ? true : nil
                end = min(end, t)
            } else if horizonEnd <= o.to {
                label = false
            }
            var state = scorer.newState(c.profile, lastAssigned: c.profile["contact.persona_id"])
            var peak = state.fitPoints
            var steps: [(Timestamp, Double)] = [(c.start, peak)]
            var ruleAt: Timestamp?
            if scorer.qualifies(state, at: c.start) { ruleAt = c.start }
            for touch in c.touches {
                // Touches before the contact existed (anonymous history) count; the window ends
                // before the target is reached.
                if touch.at >= end { break }
                scorer.add(touch, to: &state)
                let at = max(touch.at, c.start)
                let score = state.fitPoints + state.engagement.value(at: at)
                if score > peak {
                    peak = score
                    steps.append((at, score))
                }
                if ruleAt == nil, scorer.qualifies(state, at: at) { ruleAt = at }
            }
            seen.append(Seen(id: c.id, label: label, steps: steps, ruleAt: ruleAt))
        }

        func weekIndex(_ t: Timestamp) -> Int64 { CapLedger.weekIndex(t) }
        let firstWeek = weekIndex(o.from)
        let weeks = max(1, Int(weekIndex(o.to.adding(milliseconds: -1)) - firstWeek + 1))

        func evaluate(threshold: Double?, firstAt: (Seen) -> Timestamp?) -> ThresholdResult {
            var perWeek = [Int](repeating: 0, count: weeks)
            var mqls = 0
            var tp = 0
            var labelledMQLs = 0
            var positives = 0
            for s in seen {
                if s.label == true { positives += 1 }
                guard let at = firstAt(s), at < o.to else { continue }
                mqls += 1
                let w = Int(weekIndex(max(at, o.from)) - firstWeek)
                if w >= 0, w < weeks { perWeek[w] += 1 }
                if let label = s.label {
                    labelledMQLs += 1
                    if label { tp += 1 }
                }
            }
            return ThresholdResult(
                threshold: threshold,
                mqls: mqls,
                truePositives: tp,
                labelledMQLs: labelledMQLs,
                precision: labelledMQLs > 0 ? Double(tp) / Double(labelledMQLs) : nil,
                recall: positives > 0 ? Double(tp) / Double(positives) : nil,
                mqlsPerWeek: Double(mqls) / Double(weeks),
                maxMQLsPerWeek: perWeek.max() ?? 0
            )
        }

        let peaks = seen.map { $0.steps.last!.1 }
        let thresholds: [Double]
        if let given = o.thresholds {
            thresholds = given.sorted()
        } else {
            let top = peaks.max() ?? 0
            let step = max(5, (top / 40 / 5).rounded(.up) * 5)
            thresholds = stride(from: step, through: max(step, top), by: step).map { $0 }
        }
        let rows = thresholds.map { t in
            evaluate(threshold: t) { s in s.steps.first { $0.1 >= t }?.0 }
        }
        let rule = evaluate(threshold: nil) { $0.ruleAt }
        var recommended: ThresholdResult?
        if let capacity = o.weeklyCapacity {
            for r in rows where r.mqlsPerWeek <= capacity {
                if recommended == nil || (r.recall ?? 0) > (recommended!.recall ?? 0)
                    || ((r.recall ?? 0) == (recommended!.recall ?? 0) && (r.precision ?? 0) > (recommended!.precision ?? 0))
                {
                    recommended = r
                }
            }
        }

        var scores: [BacktestScore] = []
        for (s, peak) in zip(seen, peaks) {
            if let label = s.label { scores.append(BacktestScore(contactID: s.id, score: peak, label: label)) }
        }
        let positives = scores.count { $0.label }
        return BacktestReport(
            modelVersion: nil,
            contacts: seen.count,
            labelled: scores.count,
            positives: positives,
            censored: seen.count - scores.count,
            convertedAtStart: convertedAtStart,
            weeks: weeks,
            auc: rocAUC(scores.map(\.score), scores.map(\.label)),
            thresholds: rows,
            rule: rule,
            lift: lift(scores),
            recommended: recommended,
            scores: scores
        )
    }

    /// The area under the ROC curve: the probability that a random positive scores higher than a
    /// random negative, ties counting half (Mann–Whitney U with average ranks — the same number
    /// as scikit-learn's `roc_auc_score`). Nil without both classes.
    public static func rocAUC(_ scores: [Double], _ labels: [Bool]) -> Double? {
        let n = scores.count
        let pos = labels.count { $0 }
        let neg = n - pos
        guard pos > 0, neg > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var i = 0
        while i < n {
            var j = i
            while j + 1 < n, scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j + 2) / 2
            for k in i...j where labels[order[k]] { rankSum += averageRank }
            i = j + 1
        }
        return (rankSum - Double(pos) * Double(pos + 1) / 2) / (Double(pos) * Double(neg))
    }

    /// Conversion by score decile (best first; ties broken by contact id so the split is stable).
    static func lift(_ scores: [BacktestScore]) -> [LiftDecile] {
        guard !scores.isEmpty else { return [] }
        let sorted = scores.sorted { $0.score != $1.score ? $0.score > $1.score : $0.contactID < $1.contactID }
        let base = Double(sorted.count { $0.label }) / Double(sorted.count)
        var out: [LiftDecile] = []
        for d in 0..<10 {
            let lo = sorted.count * d / 10
            let hi = sorted.count * (d + 1) / 10
            guard hi > lo else { continue }
            let slice = sorted[lo..<hi]
            let p = slice.count { $0.label }
            let rate = Double(p) / Double(slice.count)
            out.append(
                LiftDecile(
                    decile: d + 1,
                    contacts: slice.count,
                    positives: p,
                    minScore: slice.last!.score,
                    conversionRate: rate,
                    lift: base > 0 ? rate / base : nil
                )
            )
        }
        return out
    }
}
