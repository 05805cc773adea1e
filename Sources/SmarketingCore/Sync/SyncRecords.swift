/// How vendor records become ours: ids, the fields of each resource, and the checks every value
/// passes (the same `FieldSpec` ranges as every other way in). Pure; the store resolves the
/// references (owners, companies, people) first and passes their smarketing ids.
public enum SyncRecords {
    /// The reserved domain of people a vendor holds without an email (RFC 2606 `.invalid`):
    /// they are kept one record each, never matched by email and never written back by email.
    public static let noEmailDomain = "no-email.invalid"

    /// The id of a record a sync creates: readable, and the same for the same vendor record.
    public static func recordID(connection: String, object: String, externalID: String) -> String {
        String((connection + ":" + object + ":" + externalID).unicodeScalars.prefix(200))
    }

    /// The stand-in address of a person without an email.
    public static func placeholderEmail(connection: String, object: String, externalID: String) -> String {
        let local = (connection + "." + object + "." + externalID).lowercased().unicodeScalars.map {
            ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" ? Character($0) : "-"
        }
        return String(String(local).prefix(64)) + "@" + noEmailDomain
    }

    /// Whether an address is a stand-in for a person without an email.
    public static func isPlaceholder(_ email: String?) -> Bool { email?.lowercased().hasSuffix("@" + noEmailDomain) ?? false }

    /// Checks every value against its field's rules; the first problem names the field.
    public static func check(_ resource: Resource, _ fields: [String: FieldValue]) -> MappingProblem? {
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            guard let spec = resource.schema.field(name) else { return MappingProblem("\(resource.rawValue) has no field \"\(name)\"") }
            if let p = spec.check(value) { return MappingProblem("\(name) \(p.message)") }
        }
        return nil
    }

    static func text(_ s: String?) -> FieldValue {
        guard let t = s?.trimmingSpaces, !t.isEmpty else { return .null }
        return .text(t)
    }

    static func number(_ d: Double?) -> FieldValue { d.map { .number($0) } ?? .null }

    /// A person's contact fields. `email` is the address to store (the stand-in when blank).
    public static func contactFields(
        _ p: SyncedPerson,
        mapping: SyncMapping,
        email: String,
        accountID: String?,
        ownerUserID: String?,
        now: Timestamp
    ) -> Result<[String: FieldValue], MappingProblem> {
        let stage: LifecycleStage?
        switch mapping.lifecycleStage(p.stage) {
        case .success(let s): stage = s
        case .failure(let e): return .failure(e)
        }
        let created = p.createdAt ?? now
        var f: [String: FieldValue] = [
            "email": .text(email), "first_name": text(p.firstName), "last_name": text(p.lastName), "title": text(p.title),
            "phone": text(p.phone), "country": text(p.country), "account_id": accountID.map { .text($0) } ?? .null,
            "owner_id": ownerUserID.map { .text($0) } ?? .null, "created_at": .timestamp(created),
            "source_channel": text(p.source.map { $0.lowercased() }),
        ]
        for (vendorField, ours) in mapping.personFields where SyncMapping.mappableContactFields.contains(ours) {
            if let v = p.extra[vendorField] { f[ours] = text(ours == "source_channel" ? v.lowercased() : v) }
        }
        let reached = stage ?? .lead
        f["lifecycle_stage"] = .text(reached.rawValue)
        // History: when the vendor says each stage was reached, else the creation time for the
        // stages up to the current one (docs/INTEGRATIONS.md, "Stages").
        var dated: [LifecycleStage: Timestamp] = [:]
        for (raw, t) in p.stageDates {
            if case .success(let s?) = mapping.lifecycleStage(raw) { dated[s] = min(t, dated[s] ?? t) }
        }
        if let rank = reached.rank {
            for s in LifecycleStage.funnel where (s.rank ?? 0) <= rank {
                guard let column = s.historyColumn else { continue }
                f[column] = .timestamp(max(created, dated[s] ?? created))
            }
        } else if let column = reached.historyColumn {
            f[column] = .timestamp(dated[reached] ?? created)
        }
        if reached == .recycled || reached == .disqualified { f["recycle_reason"] = .text("set in \(mapping.vendor.displayName)") }
        if let p = check(.contacts, f) { return .failure(p) }
        return .success(f)
    }

    /// The fields of `contactFields` a vendor may set only on a new contact: an existing
    /// contact's stage and history move through the lifecycle rules, not through syncs.
    public static let newContactOnlyFields: Set<String> = [
        "lifecycle_stage", "became_lead_at", "became_mql_at", "became_sal_at", "became_sql_at", "became_opportunity_at",
        "became_customer_at", "recycle_reason",
    ]

    /// A company's account fields.
    public static func accountFields(_ c: SyncedCompany, ownerUserID: String?, now: Timestamp) -> Result<[String: FieldValue], MappingProblem> {
        var f: [String: FieldValue] = [
            "name": text(c.name ?? c.domain ?? c.externalID), "industry": text(c.industry), "country": text(c.country),
            "annual_revenue": number(c.annualRevenue), "owner_id": ownerUserID.map { .text($0) } ?? .null,
            "created_at": .timestamp(c.createdAt ?? now),
        ]
        if let e = c.employees {
            guard e >= 0, e <= 1e9, let n = Int64(exactly: e.rounded()) else {
                return .failure(MappingProblem("employees must be between 0 and 1000000000, not \(e)"))
            }
            f["employees"] = .integer(n)
        }
        if let d = c.domain, !d.trimmingSpaces.isEmpty {
            guard let n = Domain.normalise(d) else { return .failure(MappingProblem("domain \"\(d)\" is not a domain")) }
            f["domain"] = .text(n)
        }
        if let p = check(.accounts, f) { return .failure(p) }
        return .success(f)
    }

    /// A campaign's fields.
    public static func campaignFields(_ c: SyncedCampaign, mapping: SyncMapping) -> Result<[String: FieldValue], MappingProblem> {
        let f: [String: FieldValue] = [
            "name": text(c.name ?? c.externalID), "type": text(c.type),
            "channel": .text(c.channel.map { $0.lowercased() } ?? mapping.channel(campaignType: c.type)),
            "start_date": c.startDate.map { .date($0) } ?? .null, "end_date": c.endDate.map { .date($0) } ?? .null,
            "budget": number(c.budget),
        ]
        if let p = check(.campaigns, f) { return .failure(p) }
        return .success(f)
    }

    /// A deal's opportunity fields.
    public static func opportunityFields(
        _ d: SyncedDeal,
        mapping: SyncMapping,
        accountID: String,
        ownerUserID: String?,
        primaryContactID: String?,
        now: Timestamp
    ) -> Result<[String: FieldValue], MappingProblem> {
        let stage: DealStageMapping?
        switch mapping.dealStage(d.stage, won: d.won, closed: d.closed) {
        case .success(let s): stage = s
        case .failure(let e): return .failure(e)
        }
        let created = d.createdAt ?? now
        var f: [String: FieldValue] = [
            "account_id": .text(accountID), "created_at": .timestamp(created), "name": text(d.name), "amount": number(d.amount),
            "stage": text(stage?.stage), "owner_id": ownerUserID.map { .text($0) } ?? .null,
            "primary_contact_id": primaryContactID.map { .text($0) } ?? .null,
            "expected_close_date": d.closeDate.map { .date($0) } ?? .null,
        ]
        if let s = stage, s.closed {
            f["is_won"] = .bool(s.won)
            let closedAt = d.closedAt ?? d.closeDate?.startUTC ?? now
            f["closed_at"] = .timestamp(max(closedAt, created))
            if !s.won { f["lost_reason"] = text(d.lostReason) }
        } else {
            f["is_won"] = .null
            f["closed_at"] = .null
        }
        if let p = check(.opportunities, f) { return .failure(p) }
        return .success(f)
    }

    /// The touchpoint of an activity.
    public static func activityTouch(
        _ a: SyncedActivity,
        mapping: SyncMapping,
        contactID: String,
        campaignID: String?,
        actorID: String?
    ) -> Result<[String: FieldValue], MappingProblem> {
        let m: ActivityMapping
        switch mapping.activity(a.kind) {
        case .success(let x): m = x
        case .failure(let e): return .failure(e)
        }
        var props: [String: JSONValue] = ["source": .string(mapping.vendor.rawValue), "source_type": .string(a.kind)]
        for (k, v) in a.details { props[k] = .string(String(v.unicodeScalars.prefix(500))) }
        let f: [String: FieldValue] = [
            "contact_id": .text(contactID), "occurred_at": .timestamp(a.occurredAt), "type": .text(m.type),
            "channel": m.channel.map { .text($0) } ?? .null, "campaign_id": campaignID.map { .text($0) } ?? .null,
            "actor_id": actorID.map { .text($0) } ?? .null, "properties": .json(JSONValue.object(props).compactText),
        ]
        if let p = check(.touchpoints, f) { return .failure(p) }
        return .success(f)
    }

    /// The touchpoint of a campaign membership (`campaign_member`, or `campaign_response` once
    /// the person responded).
    public static func membershipTouch(
        _ m: SyncedMembership,
        vendor: Vendor,
        contactID: String,
        campaignID: String,
        channel: String?
    ) -> Result<[String: FieldValue], MappingProblem> {
        var props: [String: JSONValue] = ["source": .string(vendor.rawValue)]
        if let s = m.status { props["status"] = .string(String(s.unicodeScalars.prefix(200))) }
        let f: [String: FieldValue] = [
            "contact_id": .text(contactID), "occurred_at": .timestamp(m.at), "type": .text(m.responded ? "campaign_response" : "campaign_member"),
            "channel": channel.map { .text($0) } ?? .null, "campaign_id": .text(campaignID), "properties": .json(JSONValue.object(props).compactText),
        ]
        if let p = check(.touchpoints, f) { return .failure(p) }
        return .success(f)
    }
}
