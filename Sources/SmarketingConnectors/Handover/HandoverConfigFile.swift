import Foundation
import SmarketingCore
import SmarketingStore
import Yams

/// Reads the handover configuration (YAML; the annotated example is `examples/handover.yaml`):
/// calendars, teams, reps, rejection reasons, segments, routing and SLA policies. Every problem is
/// reported with its line and column, and a file with any problem is refused whole — including
/// a team naming an unknown calendar, a rule naming an unknown team, or an unknown reason action.
public enum HandoverConfigFile {
    /// The configuration, or every problem found.
    public static func read(_ text: String) -> Result<HandoverConfig, ModelFileProblems> {
        ScoringModelFile.readYAML(text, incomplete: "the configuration is incomplete") { reader, root in reader.handover(root) }
    }

    /// Reads stored configuration texts for the store (nil for a text that no longer reads).
    public static let parser: HandoverConfigParser = { text in try? read(text).get() }

    /// Attributes conditions may name besides `contact.<field>` and `account.<field>`.
    public static let extraAttributes: Set<String> = ["grade", "segment", "team", "engagement"]
}

extension ScoringModelFile.Reader {
    mutating func handover(_ root: Node) -> HandoverConfig? {
        let keys = ["calendars", "teams", "reps", "reasons", "segments", "routing", "fallback", "sla"]
        guard let top = entries(root, "the handover configuration", allowed: keys) else { return nil }
        for key in ["calendars", "teams", "reasons", "routing", "fallback", "sla"] where top[key] == nil {
            problem(root, "the handover configuration needs \"\(key)\"")
        }
        let calendars = top["calendars"].map { calendarsMap($0.value) } ?? [:]
        let teams = top["teams"].map { teamsMap($0.value, calendars: calendars) } ?? [:]
        let reps = top["reps"].map { repsMap($0.value, calendars: calendars) } ?? [:]
        let reasons = top["reasons"].map { reasonList($0.value) } ?? []
        let segments = top["segments"].map { segmentList($0.value) } ?? []
        let rules = top["routing"].map { routingList($0.value, teams: teams) } ?? []
        var fallback: (queue: String, owner: String, calendar: String?)?
        if let f = top["fallback"]?.value, let e = entries(f, "fallback", allowed: ["queue", "owner", "calendar"]) {
            let queue = e["queue"]?.value.scalar?.string
            let owner = e["owner"]?.value.scalar?.string
            if queue == nil || owner == nil { problem(f, "fallback needs a queue and an owner") }
            let cal = e["calendar"]?.value.scalar?.string
            if let cal, calendars[cal] == nil, let node = e["calendar"]?.value { problem(node, "unknown calendar \"\(cal)\"") }
            if let queue, let owner { fallback = (queue, owner, cal) }
        }
        let policies = top["sla"].map { policyList($0.value) } ?? []
        guard let fallback else { return nil }
        return HandoverConfig(
            calendars: calendars,
            teams: teams,
            reasons: reasons,
            segments: segments,
            router: Router(rules: rules, fallbackQueue: fallback.queue, fallbackOwner: fallback.owner, fallbackCalendar: fallback.calendar),
            policies: policies,
            reps: reps
        )
    }

    typealias Entries = [String: (key: Node, value: Node)]

    /// The items of a mapping keyed by name (`teams: {sdr: {…}}`), each with its allowed entries.
    mutating func keyedItems(_ node: Node, mustBe: String, kind: String, allowed: [String]) -> [(id: String, node: Node, entries: Entries)] {
        guard let mapping = node.mapping else {
            problem(node, mustBe)
            return []
        }
        var out: [(String, Node, Entries)] = []
        for (k, v) in mapping {
            guard let id = k.string, let e = entries(v, "\(kind) \"\(id)\"", allowed: allowed) else { continue }
            out.append((id, v, e))
        }
        return out
    }

    /// The items of a list that name themselves with `id` (each id once), with their allowed entries.
    mutating func listedItems(_ node: Node, mustBe: String, item what: String, allowed: [String]) -> [(id: String, node: Node, entries: Entries)] {
        guard let seq = node.sequence else {
            problem(node, mustBe)
            return []
        }
        var out: [(String, Node, Entries)] = []
        var seen: Set<String> = []
        for item in seq {
            guard let e = entries(item, what, allowed: allowed), let id = e["id"]?.value.scalar?.string else {
                problem(item, "\(what) needs an id")
                continue
            }
            unique(id, &seen, item)
            out.append((id, item, e))
        }
        return out
    }

    mutating func calendarsMap(_ node: Node) -> [String: BusinessCalendar] {
        var out: [String: BusinessCalendar] = [:]
        for (id, v, e) in keyedItems(node, mustBe: "calendars must map names to calendars", kind: "calendar", allowed: ["timezone", "hours", "holidays"]) {
            var zone = TimeZone(identifier: "UTC")!
            if let z = e["timezone"]?.value {
                if let name = z.scalar?.string, let tz = TimeZone(identifier: name) {
                    zone = tz
                } else {
                    problem(z, "calendar \"\(id)\": unknown time zone \"\(z.scalar?.string ?? "")\" (use an IANA name such as Europe/Berlin)")
                }
            }
            var weekly: [[Range<Int>]] = Array(repeating: [], count: 7)
            if let h = e["hours"]?.value {
                let names = BusinessCalendar.weekdayNames
                if let hours = entries(h, "hours of calendar \"\(id)\"", allowed: names + ["weekdays", "weekend", "every_day"]) {
                    func set(_ key: String, _ days: [Int]) {
                        guard let node = hours[key]?.value else { return }
                        guard let text = node.scalar?.string, let ranges = BusinessCalendar.parseHours(text) else {
                            problem(node, "calendar \"\(id)\": hours must look like \"09:00-12:00, 13:00-17:30\" or \"closed\"")
                            return
                        }
                        for d in days { weekly[d] = ranges }
                    }
                    set("every_day", Array(0..<7))
                    set("weekdays", Array(0..<5))
                    set("weekend", [5, 6])
                    for (i, n) in names.enumerated() { set(n, [i]) }
                }
            } else {
                problem(v, "calendar \"\(id)\" needs hours, e.g. {weekdays: \"09:00-17:00\"}")
            }
            var holidays: Set<LocalDate> = []
            if let hol = e["holidays"]?.value, let list = strings(hol, "holidays") {
                for text in list {
                    if let d = LocalDate.parse(text) { holidays.insert(d) } else { problem(hol, "calendar \"\(id)\": \"\(text)\" is not a date (YYYY-MM-DD)") }
                }
            }
            let cal = BusinessCalendar(id: id, timeZone: zone, weekly: weekly, holidays: holidays)
            if !cal.hasOpenHours { problem(v, "calendar \"\(id)\" has no open hours") }
            out[id] = cal
        }
        return out
    }

    mutating func teamsMap(_ node: Node, calendars: [String: BusinessCalendar]) -> [String: SalesTeam] {
        var out: [String: SalesTeam] = [:]
        for (id, v, e) in keyedItems(node, mustBe: "teams must map names to teams", kind: "team", allowed: ["calendar", "manager", "members"]) {
            guard let calNode = e["calendar"]?.value, let cal = calNode.scalar?.string else {
                problem(v, "team \"\(id)\" needs a calendar")
                continue
            }
            if calendars[cal] == nil { problem(calNode, "team \"\(id)\": unknown calendar \"\(cal)\"") }
            let members = e["members"].flatMap { strings($0.value, "members") } ?? []
            if members.isEmpty { problem(v, "team \"\(id)\" needs members (user ids)") }
            out[id] = SalesTeam(id: id, calendar: cal, manager: e["manager"]?.value.scalar?.string, members: members)
        }
        return out
    }

    mutating func repsMap(_ node: Node, calendars: [String: BusinessCalendar]) -> [String: RepSettings] {
        var out: [String: RepSettings] = [:]
        for (id, _, e) in keyedItems(node, mustBe: "reps must map user ids to settings", kind: "rep", allowed: ["calendar", "out_of_office"]) {
            var settings = RepSettings()
            if let c = e["calendar"]?.value {
                let name = c.scalar?.string ?? ""
                if calendars[name] == nil { problem(c, "rep \"\(id)\": unknown calendar \"\(name)\"") }
                settings.calendar = name
            }
            if let list = e["out_of_office"]?.value {
                for item in list.sequence ?? [] {
                    guard let span = entries(item, "an absence", allowed: ["from", "to"]) else { continue }
                    guard let f = span["from"]?.value.scalar?.string, let t = span["to"]?.value.scalar?.string,
                        let from = Timestamp.parse(dateOrInstant: f), let to = Timestamp.parse(dateOrInstant: t), from < to
                    else {
                        problem(item, "rep \"\(id)\": an absence needs from < to (dates or ISO 8601 instants)")
                        continue
                    }
                    settings.outOfOffice.append(from..<to)
                }
                if list.sequence == nil { problem(list, "out_of_office must be a list of {from, to}") }
            }
            out[id] = settings
        }
        return out
    }

    mutating func reasonList(_ node: Node) -> [RejectReason] {
        var out: [RejectReason] = []
        for (id, v, e) in keyedItems(node, mustBe: "reasons must map reason ids to {label, action}", kind: "reason", allowed: ["label", "action"]) {
            let actionNode = e["action"]?.value
            guard let a = actionNode?.scalar?.string, let action = RejectAction(rawValue: a) else {
                problem(actionNode ?? v, "reason \"\(id)\": action must be recycle or disqualify")
                continue
            }
            out.append(RejectReason(id: id, label: e["label"]?.value.scalar?.string ?? id, action: action))
        }
        if out.isEmpty, node.mapping != nil { problem(node, "reasons needs at least one reason") }
        return out
    }

    mutating func conditions(_ node: Node, _ what: String) -> Conditions {
        guard let mapping = node.mapping else {
            problem(node, "\(what): when must map attributes to conditions")
            return Conditions()
        }
        var out: [(String, AttributeCondition)] = []
        for (k, v) in mapping {
            guard let attribute = k.string else { continue }
            if !ScoringModel.isKnownAttribute(attribute) && !HandoverConfigFile.extraAttributes.contains(attribute) {
                problem(k, "\(what): unknown attribute \"\(attribute)\" (contact.<field>, account.<field>, grade, segment or team)")
                continue
            }
            if v.sequence != nil || v.scalar != nil {
                if let list = strings(v, attribute) { out.append((attribute, .oneOf(list))) }
                continue
            }
            guard let e = entries(v, "the condition on \(attribute)", allowed: ["in", "at_least", "at_most", "matches", "empty"]), e.count == 1,
                let (key, value) = e.first.map({ ($0.key, $0.value.value) })
            else {
                problem(v, "\(what): the condition on \(attribute) needs one of in, at_least, at_most, matches, empty")
                continue
            }
            switch key {
            case "in": if let l = strings(value, "in") { out.append((attribute, .oneOf(l))) }
            case "at_least": if let n = number(value, "at_least") { out.append((attribute, .atLeast(n))) }
            case "at_most": if let n = number(value, "at_most") { out.append((attribute, .atMost(n))) }
            case "matches": out.append((attribute, .matches(value.scalar?.string ?? "")))
            default: out.append((attribute, .isEmpty))
            }
        }
        return Conditions(out)
    }

    mutating func segmentList(_ node: Node) -> [Segment] {
        var out: [Segment] = []
        for (id, _, e) in listedItems(node, mustBe: "segments must be a list of {id, when}", item: "a segment", allowed: ["id", "when"]) {
            out.append(Segment(id: id, when: e["when"].map { conditions($0.value, "segment \"\(id)\"") } ?? Conditions()))
        }
        return out
    }

    mutating func routingList(_ node: Node, teams: [String: SalesTeam]) -> [RoutingRule] {
        var out: [RoutingRule] = []
        let allowed = ["id", "account_owner", "when", "team"]
        for (id, item, e) in listedItems(node, mustBe: "routing must be a list of rules", item: "a routing rule", allowed: allowed) {
            if e["account_owner"]?.value.scalar?.string == "true" {
                if e["team"] != nil || e["when"] != nil { problem(item, "routing rule \"\(id)\": account_owner takes no team or when") }
                out.append(.accountOwner(id: id))
                continue
            }
            guard let teamNode = e["team"]?.value, let team = teamNode.scalar?.string else {
                problem(item, "routing rule \"\(id)\" needs a team (or account_owner: true)")
                continue
            }
            if teams[team] == nil { problem(teamNode, "routing rule \"\(id)\": unknown team \"\(team)\"") }
            out.append(.pool(id: id, when: e["when"].map { conditions($0.value, "routing rule \"\(id)\"") } ?? Conditions(), team: team))
        }
        return out
    }

    mutating func budget(_ node: Node, _ what: String) -> Budget? {
        guard let text = node.scalar?.string else {
            problem(node, "\(what) must be a duration such as 15m, 4h or \"4h business\"")
            return nil
        }
        let parts = text.split(separator: " ").map(String.init)
        guard (1...2).contains(parts.count), let ms = ScoringModel.duration(parts[0]), ms > 0,
            parts.count == 1 || parts[1] == "business" || parts[1] == "wall"
        else {
            problem(node, "\(what) must be a duration such as 15m, 4h or \"4h business\"")
            return nil
        }
        return Budget(milliseconds: ms, business: parts.count == 2 && parts[1] == "business")
    }

    mutating func actions(_ node: Node, _ what: String) -> [EscalationAction] {
        guard let list = strings(node, what) else { return [] }
        var out: [EscalationAction] = []
        for a in list {
            if let action = EscalationAction(rawValue: a) {
                out.append(action)
            } else {
                problem(node, "\(what): unknown action \"\(a)\" (known: \(EscalationAction.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        if out.contains(.reassign) && out.contains(.returnToQueue) { problem(node, "\(what): reassign and return_to_queue exclude each other") }
        return out
    }

    mutating func policyList(_ node: Node) -> [SLAPolicy] {
        var out: [SLAPolicy] = []
        let keys = [
            "id", "when", "assign_within", "accept_within", "first_touch_within", "follow_up", "warn_before", "on_warning", "on_breach",
        ]
        for (id, item, e) in listedItems(node, mustBe: "sla must be a list of policies", item: "an SLA policy", allowed: keys) {
            var p = SLAPolicy(id: id)
            p.when = e["when"].map { conditions($0.value, "SLA policy \"\(id)\"") } ?? Conditions()
            p.assignWithin = e["assign_within"].flatMap { budget($0.value, "assign_within") }
            p.acceptWithin = e["accept_within"].flatMap { budget($0.value, "accept_within") }
            p.firstTouchWithin = e["first_touch_within"].flatMap { budget($0.value, "first_touch_within") }
            if let f = e["follow_up"]?.value, let fe = entries(f, "follow_up", allowed: ["touches", "within"]) {
                let n = fe["touches"].flatMap { number($0.value, "touches") }
                let w = fe["within"].flatMap { budget($0.value, "within") }
                if let n, let w, n >= 1, n <= 1_000, n == n.rounded() {
                    p.followUp = (Int(n), w)
                } else {
                    problem(f, "follow_up needs touches (a whole number from 1 to 1000) and within (a duration)")
                }
            }
            p.warnBefore = e["warn_before"].flatMap { duration($0.value, "warn_before") } ?? 0
            if let w = e["on_warning"]?.value { p.onWarning = actions(w, "on_warning") }
            if let b = e["on_breach"]?.value { p.onBreach = actions(b, "on_breach") }
            if p.acceptWithin == nil && p.firstTouchWithin == nil && p.assignWithin == nil && p.followUp == nil {
                problem(item, "SLA policy \"\(id)\" sets no clock (assign_within, accept_within, first_touch_within or follow_up)")
            }
            out.append(p)
        }
        return out
    }
}
