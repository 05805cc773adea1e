/// An open opportunity as the pipeline review reads it.
public struct OpenDeal: Sendable, Hashable {
    public var id: String
    public var name: String
    public var accountID: String
    public var stage: String?
    public var ownerID: String?
    public var amount: Double
    public var expectedClose: LocalDate?
    public var createdAt: Timestamp

    /// Creates a deal.
    public init(id: String, name: String, accountID: String, stage: String?, ownerID: String?, amount: Double, expectedClose: LocalDate?, createdAt: Timestamp)
    {
        self.id = id
        self.name = name
        self.accountID = accountID
        self.stage = stage
        self.ownerID = ownerID
        self.amount = amount
        self.expectedClose = expectedClose
        self.createdAt = createdAt
    }
}

/// Open opportunities for the pipeline review.
public struct PipelineReview: Sendable, Hashable {
    /// Open deals per stage or per owner.
    public struct Group: Sendable, Hashable {
        public var key: String
        public var count: Int
        public var amount: Double
        /// Mean days since the deal was created.
        public var meanAgeDays: Double
        /// Deals whose expected close date has passed.
        public var slipped: Int
    }
    /// How many open deals are this old.
    public struct AgeBucket: Sendable, Hashable {
        public var label: String
        public var count: Int
    }
    /// A deal whose expected close date has passed.
    public struct Deal: Sendable, Hashable {
        public var id: String
        public var name: String
        public var accountID: String
        /// Filled in by the store (the review itself needs only the id).
        public var accountName: String?
        public var stage: String?
        public var ownerID: String?
        public var amount: Double?
        public var expectedClose: LocalDate?
        public var ageDays: Double
    }
    public var byStage: [Group]
    public var byOwner: [Group]
    /// Age buckets of the open deals: `<30d`, `30–90d`, `90–180d`, `≥180d`.
    public var aging: [AgeBucket]
    public var slipped: [Deal]
    public var openCount: Int
    public var openAmount: Double
}

extension PipelineReview {
    /// The age buckets' labels, youngest first (upper bounds 30, 90 and 180 days).
    public static let ageLabels = ["< 30 days", "30–90 days", "90–180 days", "≥ 180 days"]

    /// The review of the open deals at `now` (`today` in the workspace zone): per stage and
    /// owner (largest amount first), age buckets, and the `slippedLimit` largest deals whose
    /// expected close date is before today.
    public static func build(open: [OpenDeal], today: LocalDate, now: Timestamp, slippedLimit: Int) -> PipelineReview {
        func age(_ d: OpenDeal) -> Double { Double(now.milliseconds - d.createdAt.milliseconds) / 86_400_000 }
        func slipped(_ d: OpenDeal) -> Bool { d.expectedClose.map { $0 < today } ?? false }
        func groups(_ key: (OpenDeal) -> String?) -> [Group] {
            Dictionary(grouping: open) { key($0) ?? "(none)" }.map { k, deals in
                Group(
                    key: k,
                    count: deals.count,
                    amount: deals.reduce(0) { $0 + $1.amount },
                    meanAgeDays: deals.reduce(0) { $0 + age($1) } / Double(deals.count),
                    slipped: deals.filter(slipped).count
                )
            }.sorted { $0.amount != $1.amount ? $0.amount > $1.amount : $0.key < $1.key }
        }
        var ages = [0, 0, 0, 0]
        for d in open {
            let a = age(d)
            ages[a < 30 ? 0 : a < 90 ? 1 : a < 180 ? 2 : 3] += 1
        }
        let late = open.filter(slipped).sorted { $0.amount != $1.amount ? $0.amount > $1.amount : $0.id < $1.id }.prefix(slippedLimit)
        return PipelineReview(
            byStage: groups(\.stage),
            byOwner: groups(\.ownerID),
            aging: zip(ageLabels, ages).map { AgeBucket(label: $0, count: $1) },
            slipped: late.map {
                Deal(
                    id: $0.id,
                    name: $0.name,
                    accountID: $0.accountID,
                    accountName: nil,
                    stage: $0.stage,
                    ownerID: $0.ownerID,
                    amount: $0.amount,
                    expectedClose: $0.expectedClose,
                    ageDays: age($0)
                )
            },
            openCount: open.count,
            openAmount: open.reduce(0) { $0 + $1.amount }
        )
    }
}
