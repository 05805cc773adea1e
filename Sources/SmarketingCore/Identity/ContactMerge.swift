/// How two contact records become one (docs/IDENTITY.md): the kept record's values win; its
/// blank fields take the duplicate's; every `became_*_at` history time is the earlier of the
/// two; the lifecycle stage is the further one along the funnel.
public enum ContactMerge {
    /// The merged values (contacts schema order).
    public static func merge(keep: [FieldValue], duplicate: [FieldValue]) -> [FieldValue] {
        let schema = Resource.contacts.schema
        var out = keep
        for (i, f) in schema.fields.enumerated() {
            let d = duplicate[i]
            if f.name.hasPrefix("became_"), case .timestamp(let a) = keep[i], case .timestamp(let b) = d {
                out[i] = .timestamp(min(a, b))
            } else if f.name == "created_at", case .timestamp(let a) = keep[i], case .timestamp(let b) = d {
                out[i] = .timestamp(min(a, b))
            } else if out[i].isNull {
                out[i] = d
            }
        }
        let stageIndex = schema.index["lifecycle_stage"]!
        let order = ["subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer"]
        if let a = keep[stageIndex].text, let b = duplicate[stageIndex].text,
            let ia = order.firstIndex(of: a), let ib = order.firstIndex(of: b), ib > ia
        {
            out[stageIndex] = .text(b)
        }
        return out
    }
}
