import Foundation

/// The agenda and the minutes as text: one document model written out as Markdown (for Slack,
/// wikis, e-mail) or as an HTML fragment (the web app, exports), so both say the same.
public enum AgendaText {
    /// A block of the document.
    public enum Block: Sendable, Equatable {
        case heading(Int, String)
        case paragraph(String)
        case list([String])
        case table([String], [[String]])
    }

    /// The blocks of an agenda, or of a meeting's minutes when `meeting` is given (attendees,
    /// decisions, the items agreed in it and the notes added after the figures).
    public static func blocks(_ a: WeeklyAgenda, meeting: Meeting? = nil, agreed: [ActionItem] = [], names: [String: String] = [:], zone: TimeZone) -> [Block] {
        var out: [Block] = []
        let title = meeting.map { "Weekly sync \(a.week): \($0.title)" } ?? "Weekly sync \(a.week): agenda"
        out.append(.heading(1, title))
        out.append(
            .paragraph(
                "Week \(a.period.from) to \(day(before: a.period.to)) (\(TimeZone(identifier: a.period.timeZone).map(LocalTime.name) ?? a.period.timeZone)); quarter to date from \(a.quarterToDate.from); "
                    + "figures as of \(LocalTime.minute(a.asOf, in: zone))."
            )
        )
        if let m = meeting {
            let who = m.attendees.map { id in names[id].map { "\($0) (\(id))" } ?? id }
            out.append(.paragraph("Attended: " + (who.isEmpty ? "nobody recorded" : who.joined(separator: ", ")) + "."))
        }
        out.append(.heading(2, "KPIs"))
        out.append(
            .table(
                ["KPI", "week", "last week", "change", "quarter to date", "last quarter", "quarter target", "owner"],
                a.kpis.map { r in
                    [
                        r.label + (r.status.map { " (\($0))" } ?? ""), value(r.week, r.unit, a.currency), value(r.previousWeek, r.unit, a.currency), change(r),
                        value(r.quarterToDate, r.unit, a.currency), value(r.lastQuarter, r.unit, a.currency),
                        r.quarterTarget.map { value($0, r.unit, a.currency) } ?? "–", r.owner ?? "–",
                    ]
                }
            )
        )
        out.append(.heading(2, "Marketing's commitments and sales' SLA"))
        var side: [String] = a.commitments.map { c in
            let what = c.metric == "mqls" ? "MQLs" : c.metric
            return "Marketing \(what)\(c.segment.map { " (\($0))" } ?? ""): \(number(c.actual)) of \(number(c.target)) this month, projected \(number(c.projected)): "
                + (c.shortfall ? "short of the commitment" : "on track")
        }
        if side.isEmpty { side.append("No commitments set for this month (the handover file's `commitments`).") }
        side.append(
            "Sales SLA (\(number(a.sla.slaHours)) h): \(percent(a.sla.weekCompliance)) answered in time this week of \(a.sla.weekAssigned) assigned, "
                + "\(percent(a.sla.quarterCompliance)) in the quarter; median response \(hours(a.sla.weekMedianResponseHours)) this week, "
                + "\(hours(a.sla.quarterMedianResponseHours)) in the quarter."
        )
        out.append(.list(side))
        out.append(.heading(2, "Biggest leaks (quarter to date)"))
        out.append(a.leaks.isEmpty ? .paragraph("No significant leak found.") : .list(a.leaks))
        out.append(.heading(2, "Conversion killers (quarter to date, MQL onward)"))
        out.append(
            a.killers.isEmpty
                ? .paragraph("No touch goes with significantly lower conversion.")
                : .list(a.killers.map { "\($0.kind) \($0.name ?? $0.value): \(percent($0.rateWith)) convert with it, \(percent($0.rateWithout)) without" })
        )
        out.append(.heading(2, "Leads rejected by sales this week"))
        out.append(a.rejections.isEmpty ? .paragraph("None.") : .list(a.rejections.map { "\($0.outcome): \($0.reason) (\($0.count))" }))
        out.append(.heading(2, "Open handovers by owner"))
        out.append(
            a.backlog.isEmpty
                ? .paragraph("No open handovers.")
                : .table(
                    ["owner", "open", "unanswered", "SLA breached", "oldest unanswered since"],
                    a.backlog.map { b -> [String] in
                        let owner = b.ownerName.map { "\($0) (\(b.ownerID))" } ?? b.ownerID
                        let oldest = b.oldestUnansweredAt.map { LocalTime.minute($0, in: zone) } ?? "–"
                        return [owner, String(b.open), String(b.unanswered), String(b.breached), oldest]
                    }
                )
        )
        out.append(.heading(2, "Open action items"))
        let today = LocalDate(daysSinceEpoch: KPICalendar(timeZone: zone).day(a.asOf))
        out.append(a.actionItems.isEmpty ? .paragraph("None open.") : .list(a.actionItems.map { item($0, today: today) }))
        if !a.changes.isEmpty {
            out.append(.heading(2, "Changes this quarter"))
            out.append(.list(a.changes.map { "\(LocalTime.minute($0.at, in: zone)): \($0.text) (by \($0.by))" }))
        }
        if let m = meeting {
            out.append(.heading(2, "Decisions"))
            out.append(m.decisions.isEmpty ? .paragraph("None recorded.") : .list(m.decisions))
            out.append(.heading(2, "Action items agreed"))
            out.append(agreed.isEmpty ? .paragraph("None.") : .list(agreed.map { item($0, today: today) }))
            if !m.notes.isEmpty {
                out.append(.heading(2, "Notes"))
                out.append(.paragraph(m.notes))
            }
        }
        return out
    }

    static func item(_ i: ActionItem, today: LocalDate) -> String {
        "[\(i.status == .done ? "x" : " ")] \(i.title): \(i.ownerName.map { "\($0) (\(i.ownerID))" } ?? i.ownerID), due \(i.due.text)"
            + (i.isOverdue(today: today) ? " (overdue)" : "")
    }

    /// Markdown (GitHub/Slack flavour): tables with pipes, the text's own `|` and newlines escaped in cells.
    public static func markdown(_ blocks: [Block]) -> String {
        var out = ""
        for b in blocks {
            switch b {
            case .heading(let level, let text): out += String(repeating: "#", count: level) + " " + text + "\n\n"
            case .paragraph(let text): out += text + "\n\n"
            case .list(let items): out += items.map { "- " + $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n") + "\n\n"
            case .table(let head, let rows):
                func row(_ cells: [String]) -> String {
                    "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }.joined(separator: " | ") + " |"
                }
                out += row(head) + "\n" + "|" + String(repeating: " --- |", count: head.count) + "\n"
                out += rows.map(row).joined(separator: "\n") + "\n\n"
            }
        }
        return out
    }

    /// An HTML fragment, every text escaped.
    public static func html(_ blocks: [Block]) -> String {
        var out = ""
        for b in blocks {
            switch b {
            case .heading(let level, let text): out += "<h\(level)>\(escape(text))</h\(level)>\n"
            case .paragraph(let text): out += "<p>" + escape(text).replacingOccurrences(of: "\n", with: "<br>") + "</p>\n"
            case .list(let items): out += "<ul>" + items.map { "<li>" + escape($0) + "</li>" }.joined() + "</ul>\n"
            case .table(let head, let rows):
                out += "<table><thead><tr>" + head.map { "<th>" + escape($0) + "</th>" }.joined() + "</tr></thead><tbody>"
                out += rows.map { "<tr>" + $0.map { "<td>" + escape($0) + "</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>\n"
            }
        }
        return out
    }

    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func day(before text: String) -> String { LocalDate.parse(text).map { $0.adding(days: -1).text } ?? text }

    /// A figure in its unit: `12`, `41.2 %`, `3.4 h`, `12,300 EUR`, `2.1×`; `–` when there is none.
    public static func value(_ v: Double?, _ unit: String, _ currency: String) -> String {
        guard let v, v.isFinite else { return "–" }
        switch unit {
        case "rate": return percent(v)
        case "hours": return hours(v)
        case "money": return number(v) + " " + currency
        case "ratio": return String(format: "%.2f×", v)
        default: return number(v)
        }
    }

    /// The week's change against last week: `+12.5 %` (relative for counts and money, points for rates).
    static func change(_ r: WeeklyAgenda.KPIRow) -> String {
        guard let now = r.week, let before = r.previousWeek, now.isFinite, before.isFinite else { return "–" }
        if r.unit == "rate" {
            let pts = (now - before) * 100
            return (pts >= 0 ? "+" : "") + String(format: "%.1f pts", pts)
        }
        guard before != 0 else { return now == 0 ? "±0" : "new" }
        let rel = (now - before) / abs(before) * 100
        return (rel >= 0 ? "+" : "") + String(format: "%.1f %%", rel)
    }

    static func percent(_ v: Double?) -> String { v.map { String(format: "%.1f %%", $0 * 100) } ?? "–" }
    static func hours(_ v: Double?) -> String { v.map { String(format: "%.1f h", $0) } ?? "–" }

    /// Whole numbers with thousands separators; others with one decimal (in tenths, so no
    /// conversion can trap: values beyond ±10¹⁵ show as –).
    static func number(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e15, let tenths = Int64(exactly: (abs(v) * 10).rounded()) else { return "–" }
        var digits = String(tenths / 10)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits = String(digits.dropLast(3))
        }
        let sign = v < 0 && tenths > 0 ? "-" : ""
        return sign + digits + grouped + (tenths % 10 == 0 ? "" : "." + String(tenths % 10))
    }
}
