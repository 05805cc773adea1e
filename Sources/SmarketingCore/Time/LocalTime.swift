import Foundation

/// An instant as a person reads it: the date and minute in their time zone, with the zone named
/// (so a Berlin rep's due time is not mistaken for UTC, and a screenshot still says which zone).
public enum LocalTime {
    /// `2026-12-05 16:04 Europe/Berlin`; UTC is named `UTC`.
    public static func minute(_ t: Timestamp, in zone: TimeZone) -> String {
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t.milliseconds) / 1000))) * 1000
        // Overflow is not reachable for stored instants (years 1900–2199); saturate anyway.
        let (local, overflow) = t.milliseconds.addingReportingOverflow(offset)
        let ms = overflow ? t.milliseconds : local
        let day = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let minuteOfDay = (ms - day * 86_400_000) / 60_000
        let date = LocalDate(daysSinceEpoch: day)
        return date.text + " " + two(minuteOfDay / 60) + ":" + two(minuteOfDay % 60) + " " + name(zone)
    }

    /// The zone's name as shown: its IANA identifier (`UTC` for UTC, which Foundation on Linux
    /// calls `GMT`).
    public static func name(_ zone: TimeZone) -> String {
        zone.identifier == "GMT" || zone.identifier == "Etc/UTC" ? "UTC" : zone.identifier
    }

    static func two(_ n: Int64) -> String { n < 10 ? "0" + String(n) : String(n) }
}
