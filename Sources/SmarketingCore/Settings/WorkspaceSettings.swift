import Foundation

/// A workspace setting its owners change (`smarketing settings set`, `PATCH /api/v1/settings`,
/// the settings page): the stored key, what it means, its default, and how a value is checked.
public enum WorkspaceSettingKey: String, CaseIterable, Sendable, Hashable, Comparable {
    case timeZone = "workspace.timezone"
    case currency = "workspace.currency"
    case fiscalYearStartMonth = "workspace.fiscal_year_start_month"
    case weekStart = "workspace.week_start"
    case slaHours = "kpi.sla_hours"
    case staleDays = "kpi.stale_days"
    case lookbackDays = "attribution.lookback_days"
    case halfLifeDays = "attribution.half_life_days"
    case retentionMonths = "privacy.retention_months"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The sentence for a key that is not a setting (the CLI and the API say the same).
    public static func unknown(_ raw: String) -> String {
        "\"\(raw.prefix(80))\" is not a setting (settings: \(allCases.map(\.rawValue).joined(separator: ", ")))"
    }

    /// One line for the CLI, the API and the settings page.
    public var summary: String {
        switch self {
        case .timeZone: "IANA time zone the workspace's days, months and quarters are cut in"
        case .currency: "ISO 4217 currency of amounts, costs and targets"
        case .fiscalYearStartMonth: "month (1–12) the fiscal year starts in; quarters follow it"
        case .weekStart: "first day of a week: monday or sunday"
        case .slaHours: "response target behind SLA compliance, in wall-clock hours"
        case .staleDays: "an MQL, SAL or SQL without a sales action for more than this many days is stale"
        case .lookbackDays: "touches up to this many days before a close count in attribution"
        case .halfLifeDays: "half-life of the time-decay attribution model, in days"
        case .retentionMonths: "anonymise contacts without activity for this many months, daily (0: keep everyone)"
        }
    }

    /// The value a workspace has until someone sets one.
    public var defaultValue: String {
        switch self {
        case .timeZone: "UTC"
        case .currency: "USD"
        case .fiscalYearStartMonth: "1"
        case .weekStart: "monday"
        case .slaHours: "24"
        case .staleDays: "14"
        case .lookbackDays: "365"
        case .halfLifeDays: "7"
        case .retentionMonths: "0"
        }
    }

    /// Whether the stored KPI aggregates are cut by this setting, so that a change rebuilds them
    /// (the other settings are applied when a figure is read).
    public var rebuildsAggregates: Bool {
        switch self {
        case .timeZone, .slaHours: true
        default: false
        }
    }

    /// The accepted values' ranges (numbers are checked at the edge, STYLE "Input never crashes").
    public static let slaHoursRange: ClosedRange<Double> = 0.25...2_160
    public static let staleDaysRange: ClosedRange<Int> = FunnelOptions.daysRange
    public static let lookbackDaysRange: ClosedRange<Int> = AttributionReport.lookbackRange
    public static let halfLifeDaysRange: ClosedRange<Double> = AttributionReport.halfLifeRange
    public static let retentionMonthsRange: ClosedRange<Int> = 0...600

    /// The value in its stored form, or why it is refused (one sentence naming the key).
    public func normalize(_ raw: String) -> Result<String, WorkspaceSettingProblem> {
        let text = raw.trimmingCharacters(in: .whitespaces)
        func refuse(_ why: String) -> Result<String, WorkspaceSettingProblem> { .failure(WorkspaceSettingProblem(key: self, detail: why)) }
        guard !text.isEmpty, text.utf8.count <= 64 else { return refuse("a value of 1 to 64 characters is needed") }
        switch self {
        case .timeZone:
            // Only region names from the time zone database: "GMT+2" or "CET" parse too, but do
            // not follow a place's rules.
            guard Self.zoneNames.contains(text) else {
                return refuse("\"\(text)\" is not an IANA time zone name (for example Europe/Berlin or America/New_York)")
            }
            return .success(text)
        case .currency:
            let code = text.uppercased()
            guard code.utf8.count == 3, code.utf8.allSatisfy({ (65...90).contains($0) }), Self.currencyCodes.contains(code) else {
                return refuse("\"\(text)\" is not an ISO 4217 currency code (for example EUR or USD)")
            }
            return .success(code)
        case .fiscalYearStartMonth:
            guard let m = Int(text), (1...12).contains(m) else { return refuse("\"\(text)\" is not a month number from 1 to 12") }
            return .success(String(m))
        case .weekStart:
            let day = text.lowercased()
            guard day == "monday" || day == "sunday" else { return refuse("\"\(text)\" is neither monday nor sunday") }
            return .success(day)
        case .slaHours:
            guard let h = Double(text), h.isFinite, Self.slaHoursRange.contains(h) else {
                return refuse("\"\(text)\" is not a number of hours from 0.25 to 2160")
            }
            return .success(Self.format(h))
        case .staleDays:
            guard let d = Int(text), Self.staleDaysRange.contains(d) else { return refuse(Self.wholeDays(text, Self.staleDaysRange)) }
            return .success(String(d))
        case .lookbackDays:
            guard let d = Int(text), Self.lookbackDaysRange.contains(d) else { return refuse(Self.wholeDays(text, Self.lookbackDaysRange)) }
            return .success(String(d))
        case .halfLifeDays:
            guard let d = Double(text), d.isFinite, Self.halfLifeDaysRange.contains(d) else {
                return refuse("\"\(text)\" is not a number of days from \(Self.format(Self.halfLifeDaysRange.lowerBound)) to \(Self.format(Self.halfLifeDaysRange.upperBound))")
            }
            return .success(Self.format(d))
        case .retentionMonths:
            guard let m = Int(text), Self.retentionMonthsRange.contains(m) else {
                return refuse("\"\(text)\" is not a whole number of months from 0 (keep everyone) to 600")
            }
            return .success(String(m))
        }
    }

    static func wholeDays(_ text: String, _ range: ClosedRange<Int>) -> String {
        "\"\(text)\" is not a whole number of days from \(range.lowerBound) to \(range.upperBound)"
    }

    /// A number as it is stored: no trailing ".0" for whole numbers.
    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }

    /// The time zone database's region names (read once: Foundation builds the list per call).
    public static let zoneNames: Set<String> = Set(TimeZone.knownTimeZoneIdentifiers).union(["UTC"])

    /// The ISO 4217 codes Foundation knows.
    public static let currencyCodes: Set<String> = Set(Locale.commonISOCurrencyCodes).union(["EUR", "USD", "GBP", "CHF", "JPY"]).filter {
        $0.utf8.count == 3 && $0.utf8.allSatisfy { (65...90).contains($0) }
    }
}

/// Why a setting's value is refused.
public struct WorkspaceSettingProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var key: WorkspaceSettingKey
    public var detail: String

    public init(key: WorkspaceSettingKey, detail: String) {
        self.key = key
        self.detail = detail
    }

    public var description: String { "\(key.rawValue): \(detail)" }
}

/// The workspace's settings, each parsed (a stored value that no longer parses reads as the
/// default, so an old row never breaks a report).
public struct WorkspaceSettings: Sendable, Hashable {
    public var timeZone: TimeZone
    public var currency: String
    public var fiscalYearStartMonth: Int
    public var weekStartsOnSunday: Bool
    public var slaHours: Double
    public var staleDays: Int
    public var lookbackDays: Int
    public var halfLifeDays: Double
    /// Contacts without activity for this many months are anonymised (0: never).
    public var retentionMonths: Int

    /// The stored text of every key (defaults filled in), in key order.
    public private(set) var values: [WorkspaceSettingKey: String]

    /// Parses stored rows (`settings` key → value); unknown keys are ignored.
    public init(stored: [String: String] = [:]) {
        var values: [WorkspaceSettingKey: String] = [:]
        for key in WorkspaceSettingKey.allCases {
            let stored = stored[key.rawValue].flatMap { try? key.normalize($0).get() }
            values[key] = stored ?? key.defaultValue
        }
        self.values = values
        func text(_ k: WorkspaceSettingKey) -> String { values[k] ?? k.defaultValue }
        timeZone = TimeZone(identifier: text(.timeZone)) ?? TimeZone(secondsFromGMT: 0) ?? .current
        currency = text(.currency)
        fiscalYearStartMonth = Int(text(.fiscalYearStartMonth)) ?? 1
        weekStartsOnSunday = text(.weekStart) == "sunday"
        slaHours = Double(text(.slaHours)) ?? 24
        staleDays = Int(text(.staleDays)) ?? 14
        lookbackDays = Int(text(.lookbackDays)) ?? 365
        halfLifeDays = Double(text(.halfLifeDays)) ?? 7
        retentionMonths = Int(text(.retentionMonths)) ?? 0
    }

    /// The stored text of one key.
    public subscript(key: WorkspaceSettingKey) -> String { values[key] ?? key.defaultValue }

    /// Checks a batch of changes (raw key → raw value) as a whole: every problem is reported, and
    /// keys that are not settings are refused by name. The result holds only real changes.
    public func changes(_ raw: [(key: String, value: String)]) -> Result<[WorkspaceSettingChange], WorkspaceSettingsRefusal> {
        var problems: [String] = []
        var changes: [WorkspaceSettingKey: WorkspaceSettingChange] = [:]
        for (rawKey, rawValue) in raw {
            guard let key = WorkspaceSettingKey(rawValue: rawKey) else {
                problems.append(WorkspaceSettingKey.unknown(rawKey))
                continue
            }
            switch key.normalize(rawValue) {
            case .failure(let p): problems.append(p.description)
            case .success(let value):
                let old = self[key]
                if value == old { changes[key] = nil } else { changes[key] = WorkspaceSettingChange(key: key, old: old, new: value) }
            }
        }
        if !problems.isEmpty { return .failure(WorkspaceSettingsRefusal(problems: problems)) }
        return .success(changes.values.sorted { $0.key < $1.key })
    }

    /// The settings with changes applied.
    public func applying(_ changes: [WorkspaceSettingChange]) -> WorkspaceSettings {
        var stored: [String: String] = [:]
        for (k, v) in values { stored[k.rawValue] = v }
        for c in changes { stored[c.key.rawValue] = c.new }
        return WorkspaceSettings(stored: stored)
    }

    /// The first month (1–12) of the fiscal quarter holding a calendar month.
    public func fiscalQuarterStartMonth(containing month: Int) -> Int {
        let offset = ((month - fiscalYearStartMonth) % 12 + 12) % 12
        return (fiscalYearStartMonth - 1 + offset / 3 * 3) % 12 + 1
    }

    /// The fiscal year a calendar month belongs to, named by the calendar year it ends in (a
    /// fiscal year from April 2026 to March 2027 is FY2027; a calendar-year one is its year).
    public func fiscalYear(year: Int, month: Int) -> Int {
        fiscalYearStartMonth == 1 || month < fiscalYearStartMonth ? year : year + 1
    }
}

/// One setting changed: what it was and what it becomes.
public struct WorkspaceSettingChange: Sendable, Hashable {
    public var key: WorkspaceSettingKey
    public var old: String
    public var new: String

    public init(key: WorkspaceSettingKey, old: String, new: String) {
        self.key = key
        self.old = old
        self.new = new
    }
}

/// A batch of setting changes refused as a whole.
public struct WorkspaceSettingsRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
}
