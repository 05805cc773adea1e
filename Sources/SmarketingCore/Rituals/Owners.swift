/// Who acts on a lifecycle step, a KPI or a target: the owning team and a small RACI (the
/// responsible person, the accountable one, who is consulted and who is informed), so
/// "who acts on this?" always has an answer.
public struct Ownership: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public var subject: String
    public var label: String
    /// `step`, `kpi` or `target`.
    public var kind: String
    /// `marketing`, `sales` or `revops`.
    public var team: String
    public var responsible: String?
    public var responsibleName: String?
    public var accountable: String?
    public var consulted: [String]
    public var informed: [String]
    /// Not set by anyone yet: the team is the product's default and nobody is named.
    public var isDefault: Bool

    public init(
        subject: String,
        label: String,
        kind: String,
        team: String,
        responsible: String?,
        responsibleName: String?,
        accountable: String?,
        consulted: [String],
        informed: [String],
        isDefault: Bool
    ) {
        self.subject = subject
        self.label = label
        self.kind = kind
        self.team = team
        self.responsible = responsible
        self.responsibleName = responsibleName
        self.accountable = accountable
        self.consulted = consulted
        self.informed = informed
        self.isDefault = isDefault
    }

    /// "Marketing · Marta Marketing" (the team, and the responsible person when named).
    public var shortText: String {
        let team = OwnedSubjects.teamLabel(self.team)
        guard let r = responsible else { return team }
        return team + " · " + (responsibleName ?? r)
    }
}

/// Everything that has an owner, with the team that owns it unless the workspace says otherwise.
public enum OwnedSubjects {
    public static let teams = ["marketing", "sales", "revops"]

    public static let all: [(id: String, label: String, kind: String, team: String)] = [
        ("step.lead_to_mql", "Lead → MQL", "step", "marketing"),
        ("step.mql_to_sal", "MQL → SAL (acceptance)", "step", "sales"),
        ("step.sal_to_sql", "SAL → SQL", "step", "sales"),
        ("step.sql_to_opportunity", "SQL → opportunity", "step", "sales"),
        ("step.opportunity_to_customer", "Opportunity → customer", "step", "sales"),
        ("kpi.mqls", "MQLs", "kpi", "marketing"),
        ("kpi.cost_per_mql", "Cost per MQL", "kpi", "marketing"),
        ("kpi.mql_acceptance", "MQL accepted by sales", "kpi", "sales"),
        ("kpi.lead_to_opportunity", "Lead → opportunity", "kpi", "marketing"),
        ("kpi.lead_response_time", "Lead response time", "kpi", "sales"),
        ("kpi.sla_compliance", "SLA compliance", "kpi", "sales"),
        ("kpi.win_rate", "Win rate", "kpi", "sales"),
        ("kpi.deal_velocity", "Deal velocity", "kpi", "sales"),
        ("kpi.won_revenue", "Won revenue", "kpi", "sales"),
        ("kpi.pipeline_coverage", "Pipeline coverage", "kpi", "revops"),
        ("kpi.cac", "CAC", "kpi", "revops"),
        ("kpi.romi", "ROMI", "kpi", "marketing"),
        ("target.mqls", "MQL target", "target", "marketing"),
        ("target.pipeline", "Pipeline target", "target", "marketing"),
        ("target.revenue", "Revenue target", "target", "sales"),
    ]

    public static func known(_ id: String) -> (id: String, label: String, kind: String, team: String)? { all.first { $0.id == id } }

    public static func teamLabel(_ team: String) -> String { team == "revops" ? "RevOps" : team.prefix(1).uppercased() + team.dropFirst() }

    /// The default ownership of a subject.
    public static func defaultOwnership(_ s: (id: String, label: String, kind: String, team: String)) -> Ownership {
        Ownership(subject: s.id, label: s.label, kind: s.kind, team: s.team, responsible: nil, responsibleName: nil, accountable: nil, consulted: [], informed: [], isDefault: true)
    }
}
