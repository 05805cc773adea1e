import Foundation

/// What of a handover configuration the KPI facts depend on: each rep's team (the `team` cut)
/// and the calendar their response time is counted on, and the fallback calendar for owners in
/// no team and for contacts without an owner. A new configuration with the same layout changes
/// no KPI; one that moves some reps changes only their contacts' and deals' facts.
public struct KPIHandoverLayout: Sendable, Hashable {
    public struct Owner: Sendable, Hashable {
        public var team: String
        /// The calendar's hours as text (`canonical`), so that renaming a calendar changes nothing.
        public var calendar: String?
    }

    /// The reps of every team, by rep id.
    public var owners: [String: Owner]
    public var fallback: String?

    /// The layout of `config` (none: no team, no calendar).
    public init(_ config: HandoverConfig?) {
        var owners: [String: Owner] = [:]
        if let config {
            for team in config.teams.values {
                for rep in team.members {
                    guard let t = config.team(of: rep) else { continue }
                    owners[rep] = Owner(team: t.id, calendar: config.calendar(forOwner: rep).map(Self.canonical))
                }
            }
        }
        self.owners = owners
        fallback = config?.calendar(forOwner: nil).map(Self.canonical)
    }

    /// The reps whose team or calendar differs between two layouts (also reps in only one), and
    /// whether the fallback calendar changed (which touches every owner in no team: a rebuild).
    public static func changes(from old: KPIHandoverLayout, to new: KPIHandoverLayout) -> (owners: Set<String>, fallbackChanged: Bool) {
        var changed = Set<String>()
        for rep in Set(old.owners.keys).union(new.owners.keys) where old.owners[rep] != new.owners[rep] { changed.insert(rep) }
        return (changed, old.fallback != new.fallback)
    }

    /// A fingerprint of the layout, the same in every process (the aggregates' build key holds
    /// it). FNV-1a over a canonical text: a stable checksum written by hand because `Hasher` is
    /// seeded per process; nothing here is secret.
    public var key: String {
        var text = "fallback=" + (fallback ?? "-")
        for rep in owners.keys.sorted() {
            guard let o = owners[rep] else { continue }
            text += "\n" + rep + "=" + o.team + ":" + (o.calendar ?? "-")
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return String(h, radix: 16) + "/" + String(owners.count)
    }

    /// A calendar as text: time zone, weekly hours, holidays (ids left out: two calendars with
    /// the same hours count the same business time).
    static func canonical(_ c: BusinessCalendar) -> String {
        let week = c.weekly.map { day in day.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") }.joined(separator: "|")
        let holidays = c.holidays.sorted().map { "\($0.year)-\($0.month)-\($0.day)" }.joined(separator: ",")
        return c.timeZone.identifier + ";" + week + ";" + holidays
    }
}
