/// What a user or token may do.
public enum AccessRole: String, Sendable, CaseIterable, Codable, Comparable {
    /// Everything, including users, tokens and settings.
    case admin
    /// Marketing records: campaigns, costs, content, personas, targets; contacts, accounts, events.
    case marketing
    /// Sales records: contacts, accounts, opportunities and their contacts, events.
    case sales
    /// Read only.
    case viewer

    public static func < (a: AccessRole, b: AccessRole) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The default access of a user of a team.
    public static func defaultFor(team: String?) -> AccessRole {
        switch team {
        case "admin": return .admin
        case "marketing": return .marketing
        case "sales": return .sales
        default: return .viewer
        }
    }
}

/// Who may do what: the one authorisation policy, used by every route.
public enum AccessPolicy {
    /// Whether `role` may read records of `resource`. Everyone signed in may read.
    public static func mayRead(_ role: AccessRole, _ resource: Resource) -> Bool { true }

    /// Whether `role` may create, change or delete records of `resource`.
    public static func mayWrite(_ role: AccessRole, _ resource: Resource) -> Bool {
        switch role {
        case .admin: return true
        case .viewer: return false
        case .marketing:
            return [.campaigns, .costs, .content, .personas, .targets, .contacts, .accounts, .touchpoints].contains(resource)
        case .sales:
            return [.contacts, .accounts, .opportunities, .opportunityContacts, .touchpoints].contains(resource)
        }
    }

    /// Whether `role` may send events (touchpoints) through the ingest API.
    public static func mayIngest(_ role: AccessRole) -> Bool { role != .viewer }

    /// Whether `role` may merge contacts.
    public static func mayMerge(_ role: AccessRole) -> Bool { role != .viewer }

    /// Whether `role` may manage users, tokens and read the audit log.
    public static func mayAdminister(_ role: AccessRole) -> Bool { role == .admin }

    /// Whether `role` may change the scoring model (diff, apply).
    public static func mayChangeScoring(_ role: AccessRole) -> Bool { role == .admin || role == .marketing }

    /// Whether `role` may change routing, SLA policies and calendars (the handover configuration).
    /// RevOps works with the admin role.
    public static func mayChangeHandover(_ role: AccessRole) -> Bool { role == .admin }

    /// Whether `role` may manage webhook subscriptions and replay deliveries.
    public static func mayManageWebhooks(_ role: AccessRole) -> Bool { role == .admin }

    /// Whether `role` may act on handovers at all (owners, their managers, admins).
    public static func mayWorkHandovers(_ role: AccessRole) -> Bool { role == .admin || role == .sales }

    /// Whether `role` may run the weekly sync: open meetings, record decisions, keep action
    /// items. Both teams do; viewers read.
    public static func mayRunMeetings(_ role: AccessRole) -> Bool { role != .viewer }
}
