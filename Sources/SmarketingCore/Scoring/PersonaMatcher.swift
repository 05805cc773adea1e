/// A buyer persona's matching rules (the `rules` JSON object of personas.csv):
/// `titles` (patterns; `*` any text, else "contained in the title"), `industries`, `countries`,
/// `min_employees`, `max_employees`. Every rule given must hold.
public struct PersonaDefinition: Sendable, Hashable {
    public var id: String
    public var titles: [String]?
    public var industries: [String]?
    public var countries: [String]?
    public var minEmployees: Double?
    public var maxEmployees: Double?

    /// Creates a definition.
    public init(
        id: String,
        titles: [String]? = nil,
        industries: [String]? = nil,
        countries: [String]? = nil,
        minEmployees: Double? = nil,
        maxEmployees: Double? = nil
    ) {
        self.id = id
        self.titles = titles
        self.industries = industries
        self.countries = countries
        self.minEmployees = minEmployees
        self.maxEmployees = maxEmployees
    }

    /// Reads a definition from the persona's `rules` object; unknown keys are returned as problems.
    public static func from(id: String, rules: JSONValue) -> (PersonaDefinition, problems: [String]) {
        var d = PersonaDefinition(id: id)
        var problems: [String] = []
        guard case .object(let o) = rules else { return (d, ["rules must be a JSON object"]) }
        func strings(_ v: JSONValue) -> [String]? {
            if case .array(let a) = v { return a.compactMap(\.string) }
            return v.string.map { [$0] }
        }
        func number(_ v: JSONValue) -> Double? { if case .number(let n) = v { return n } else { return nil } }
        for (key, value) in o {
            switch key {
            case "titles": d.titles = strings(value)
            case "industries": d.industries = strings(value)
            case "countries": d.countries = strings(value)
            case "min_employees": d.minEmployees = number(value)
            case "max_employees": d.maxEmployees = number(value)
            case "seniority", "pains", "messaging", "description": break  // descriptive, not matched
            default: problems.append("unknown persona rule \"\(key)\"")
            }
        }
        return (d, problems)
    }
}

/// What persona matching sees of a contact.
public struct PersonaFacts: Sendable, Hashable {
    public var title: String?
    public var industry: String?
    public var country: String?
    public var employees: Double?

    /// Creates facts.
    public init(title: String?, industry: String?, country: String?, employees: Double?) {
        self.title = title
        self.industry = industry
        self.country = country
        self.employees = employees
    }
}

/// The persona a contact matches best, and why.
public struct PersonaMatch: Sendable, Hashable {
    public var personaID: String
    /// The rules that held, e.g. `title "VP Marketing" matches "vp marketing"`.
    public var reasons: [String]
}

/// Picks each contact's best persona: among the personas whose every rule holds, the one with the
/// most rules (the most specific); ties go to the smaller persona id. No persona matches a
/// contact that meets none.
public enum PersonaMatcher {
    /// The best match, or nil.
    public static func best(_ personas: [PersonaDefinition], _ f: PersonaFacts) -> PersonaMatch? {
        var best: (Int, PersonaMatch)?
        for p in personas.sorted(by: { $0.id < $1.id }) {
            guard let reasons = reasons(p, f), !reasons.isEmpty else { continue }
            if best == nil || reasons.count > best!.0 { best = (reasons.count, PersonaMatch(personaID: p.id, reasons: reasons)) }
        }
        return best?.1
    }

    /// Why `p` matches, or nil when one of its rules fails.
    static func reasons(_ p: PersonaDefinition, _ f: PersonaFacts) -> [String]? {
        var out: [String] = []
        if let titles = p.titles {
            guard let title = f.title?.lowercased(),
                let hit = titles.first(where: { t in
                    let pattern = t.lowercased()
                    // Byte-level matching: String.contains costs more than the rest of a rescoring.
                    return Glob.matches(pattern.contains("*") ? pattern : "*" + pattern + "*", title)
                })
            else { return nil }
            out.append("title \"\(f.title!)\" matches \"\(hit)\"")
        }
        if let industries = p.industries {
            guard let i = f.industry, industries.contains(where: { $0.lowercased() == i.lowercased() }) else { return nil }
            out.append("industry \(i)")
        }
        if let countries = p.countries {
            guard let c = f.country, countries.contains(where: { $0.lowercased() == c.lowercased() }) else { return nil }
            out.append("country \(c)")
        }
        if let min = p.minEmployees {
            guard let e = f.employees, e >= min else { return nil }
            out.append("\(Int(e)) employees ≥ \(Int(min))")
        }
        if let max = p.maxEmployees {
            guard let e = f.employees, e <= max else { return nil }
            out.append("\(Int(e)) employees ≤ \(Int(max))")
        }
        return out
    }
}
