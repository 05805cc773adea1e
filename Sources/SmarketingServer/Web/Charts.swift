import Foundation
import SmarketingCore

/// SVG charts rendered on the server: no script, no downloaded library. Every mark has a
/// `<title>` (its value on hover and for screen readers) and every chart a table beside it.
enum SVGChart {
    /// One labelled value.
    struct Item {
        var label: String
        var value: Double
        /// The value as shown (formatted by the caller).
        var text: String
        /// A second, lighter bar behind this one (a target, a previous value).
        var reference: Double? = nil
        var referenceText: String? = nil
    }

    /// Escapes text for HTML and SVG (the core's escaper, shared with the minutes).
    static func esc(_ s: String) -> String { AgendaText.escape(s) }

    static func num(_ d: Double) -> String { String(format: "%.1f", d) }

    /// A small line of values (nil gaps are skipped) for a KPI tile.
    static func sparkline(_ values: [Double?], labels: [String], title: String, markers: [Int: [String]] = [:]) -> String {
        let w = 120.0
        let h = 32.0
        let known = values.compactMap { $0 }
        guard known.count >= 2, let lo = known.min(), let hi = known.max() else {
            return
                "<svg class=\"spark\" viewBox=\"0 0 120 32\" role=\"img\" aria-label=\"\(esc(title)): not enough data\"><title>\(esc(title)): not enough data</title></svg>"
        }
        let span = hi - lo == 0 ? 1 : hi - lo
        let step = values.count > 1 ? w / Double(values.count - 1) : 0
        var points: [String] = []
        var dots = ""
        for (i, v) in values.enumerated() {
            guard let v else { continue }
            let x = Double(i) * step
            let y = h - 3 - (v - lo) / span * (h - 6)
            points.append("\(num(x)),\(num(y))")
            let label = i < labels.count ? labels[i] : ""
            dots += "<circle cx=\"\(num(x))\" cy=\"\(num(y))\" r=\"2\"><title>\(esc(label)): \(esc(Fmt.compact(v)))</title></circle>"
        }
        // Changes that explain a jump: a dashed line at their month, the changes as its title.
        var marks = ""
        for (i, texts) in markers.sorted(by: { $0.key < $1.key }) where i >= 0 && i < values.count {
            let x = Double(i) * step
            marks += "<line class=\"marker\" x1=\"\(num(x))\" x2=\"\(num(x))\" y1=\"0\" y2=\"\(num(h))\"><title>\(esc(texts.joined(separator: "; ")))</title></line>"
        }
        return """
            <svg class="spark" viewBox="-3 0 126 32" role="img" aria-label="\(esc(title)), last \(values.count) months">\
            <title>\(esc(title)), last \(values.count) months</title>\
            \(marks)<polyline fill="none" points="\(points.joined(separator: " "))"/>\(dots)</svg>
            """
    }

    /// Horizontal bars with the label left and the value right; a reference value draws as a tick.
    static func bars(_ items: [Item], title: String, unit: String = "") -> String {
        guard !items.isEmpty else { return "<p class=\"empty\">No data in this period.</p>" }
        let maxValue = max(items.map { max($0.value, $0.reference ?? 0) }.max() ?? 1, 1e-9)
        let rowH = 24.0
        let labelW = 140.0
        let barW = 190.0
        let height = Double(items.count) * rowH + 8
        var svg =
            "<svg class=\"chart bars\" viewBox=\"0 0 \(Int(labelW + barW + 110)) \(Int(height))\" role=\"img\" aria-label=\"\(esc(title))\"><title>\(esc(title))</title>"
        for (i, item) in items.enumerated() {
            let y = 4 + Double(i) * rowH
            let wv = max(0, item.value) / maxValue * barW
            svg += "<g><title>\(esc(item.label)): \(esc(item.text))\(item.referenceText.map { " (\(esc($0)))" } ?? "")</title>"
            svg += "<text x=\"\(num(labelW - 6))\" y=\"\(num(y + 15))\" text-anchor=\"end\" class=\"label\">\(esc(Fmt.truncate(item.label, 18)))</text>"
            svg += "<rect x=\"\(num(labelW))\" y=\"\(num(y + 3))\" width=\"\(num(max(wv, 1)))\" height=\"\(num(rowH - 8))\" rx=\"2\" class=\"bar\"/>"
            if let r = item.reference {
                let x = labelW + max(0, r) / maxValue * barW
                svg += "<line x1=\"\(num(x))\" x2=\"\(num(x))\" y1=\"\(num(y))\" y2=\"\(num(y + rowH - 2))\" class=\"ref\"/>"
            }
            // A long bar carries its value inside, so that the text never runs off the chart.
            if wv > barW * 0.55 {
                svg += "<text x=\"\(num(labelW + wv - 6))\" y=\"\(num(y + 15))\" text-anchor=\"end\" class=\"inbar\">\(esc(item.text))</text></g>"
            } else {
                svg += "<text x=\"\(num(labelW + wv + 6))\" y=\"\(num(y + 15))\" class=\"value\">\(esc(item.text))</text></g>"
            }
        }
        svg += "</svg>"
        return svg + table(items, title: title)
    }

    /// The funnel: the stage and its count on the left, a centred bar whose width is the share
    /// of the first stage, and the step conversion on the right.
    static func funnel(_ items: [Item], steps: [String], title: String) -> String {
        guard let first = items.first, first.value > 0 else { return "<p class=\"empty\">No leads in this period.</p>" }
        let rowH = 30.0
        let labelW = 130.0
        let width = 220.0
        let height = Double(items.count) * rowH + 4
        var svg =
            "<svg class=\"chart funnel\" viewBox=\"0 0 \(Int(labelW + width + 170)) \(Int(height))\" role=\"img\" aria-label=\"\(esc(title))\"><title>\(esc(title))</title>"
        for (i, item) in items.enumerated() {
            let y = 2 + Double(i) * rowH
            let w = max(2, item.value / first.value * width)
            let x = labelW + (width - w) / 2
            let step = i < steps.count ? steps[i] : ""
            svg += "<g><title>\(esc(item.label)): \(esc(item.text))\(step.isEmpty ? "" : ", " + esc(step))</title>"
            svg += "<text x=\"\(num(labelW - 8))\" y=\"\(num(y + 17))\" text-anchor=\"end\" class=\"label\">\(esc(item.label)) \(esc(item.text))</text>"
            svg += "<rect x=\"\(num(x))\" y=\"\(num(y))\" width=\"\(num(w))\" height=\"\(num(rowH - 6))\" rx=\"3\" class=\"bar stage\(i % 7)\"/>"
            if !step.isEmpty { svg += "<text x=\"\(num(labelW + width + 8))\" y=\"\(num(y + 17))\" class=\"value\">\(esc(step))</text>" }
            svg += "</g>"
        }
        svg += "</svg>"
        return svg + table(items, title: title, extra: steps)
    }

    /// A line over time (a score history): x labels are dates, y from 0 to the maximum.
    static func line(_ points: [(label: String, value: Double)], title: String, unit: String) -> String {
        guard points.count >= 2 else { return "<p class=\"empty\">Not enough history to draw.</p>" }
        let w = 560.0
        let h = 160.0
        let left = 40.0
        let maxV = max(points.map(\.value).max() ?? 1, 1)
        let step = w / Double(points.count - 1)
        var svg =
            "<svg class=\"chart line\" viewBox=\"0 0 \(Int(w + left + 20)) \(Int(h + 40))\" role=\"img\" aria-label=\"\(esc(title))\"><title>\(esc(title))</title>"
        for t in 0...4 {
            let v = maxV * Double(t) / 4
            let y = h - v / maxV * h + 10
            svg += "<line x1=\"\(num(left))\" x2=\"\(num(left + w))\" y1=\"\(num(y))\" y2=\"\(num(y))\" class=\"grid\"/>"
            svg += "<text x=\"\(num(left - 4))\" y=\"\(num(y + 4))\" text-anchor=\"end\" class=\"axis\">\(esc(Fmt.compact(v)))</text>"
        }
        var coords: [String] = []
        var dots = ""
        for (i, p) in points.enumerated() {
            let x = left + Double(i) * step
            let y = h - p.value / maxV * h + 10
            coords.append("\(num(x)),\(num(y))")
            dots += "<circle cx=\"\(num(x))\" cy=\"\(num(y))\" r=\"3\"><title>\(esc(p.label)): \(esc(Fmt.compact(p.value))) \(esc(unit))</title></circle>"
        }
        svg += "<polyline fill=\"none\" points=\"\(coords.joined(separator: " "))\"/>\(dots)"
        svg += "<text x=\"\(num(left))\" y=\"\(num(h + 30))\" class=\"axis\">\(esc(points.first!.label))</text>"
        svg += "<text x=\"\(num(left + w))\" y=\"\(num(h + 30))\" text-anchor=\"end\" class=\"axis\">\(esc(points.last!.label))</text></svg>"
        let rows = points.map { "<tr><td>\(esc($0.label))</td><td>\(esc(Fmt.compact($0.value)))</td></tr>" }.joined()
        return svg
            + "<details class=\"fallback\"><summary>\(esc(title)) as a table</summary><table><thead><tr><th>When</th><th>\(esc(unit))</th></tr></thead><tbody>\(rows)</tbody></table></details>"
    }

    /// One week of a forecast-against-actual chart.
    struct ForecastPoint {
        var label: String
        var forecast: Double
        var low: Double
        var high: Double
        var actual: Double?
    }

    /// Forecast (line) with its interval (band) against the actual (second line), week by week;
    /// `markers` are change annotations drawn as labelled vertical lines at a point's index.
    static func forecast(
        _ points: [ForecastPoint],
        title: String,
        actualLabel: String,
        markers: [(index: Int, text: String)] = [],
        emptyText: String = "Not enough weeks to draw."
    ) -> String {
        guard points.count >= 2 else { return "<p class=\"empty\">\(esc(emptyText))</p>" }
        let w = 560.0
        let h = 170.0
        let left = 48.0
        let maxV = max(points.map { max($0.high, $0.actual ?? 0) }.max() ?? 1, 1)
        let step = w / Double(points.count - 1)
        func x(_ i: Int) -> Double { left + Double(i) * step }
        func y(_ v: Double) -> Double { h - max(0, v) / maxV * h + 10 }
        var svg =
            "<svg class=\"chart forecast\" viewBox=\"0 0 \(Int(w + left + 20)) \(Int(h + 40))\" role=\"img\" aria-label=\"\(esc(title))\"><title>\(esc(title))</title>"
        for t in 0...4 {
            let v = maxV * Double(t) / 4
            svg += "<line x1=\"\(num(left))\" x2=\"\(num(left + w))\" y1=\"\(num(y(v)))\" y2=\"\(num(y(v)))\" class=\"grid\"/>"
            svg += "<text x=\"\(num(left - 4))\" y=\"\(num(y(v) + 4))\" text-anchor=\"end\" class=\"axis\">\(esc(Fmt.compact(v)))</text>"
        }
        let upper = points.indices.map { "\(num(x($0))),\(num(y(points[$0].high)))" }
        let lower = points.indices.reversed().map { "\(num(x($0))),\(num(y(points[$0].low)))" }
        svg += "<polygon class=\"band\" points=\"\((upper + lower).joined(separator: " "))\"><title>90 % interval</title></polygon>"
        svg += "<polyline class=\"forecast-line\" fill=\"none\" points=\"\(points.indices.map { "\(num(x($0))),\(num(y(points[$0].forecast)))" }.joined(separator: " "))\"/>"
        let actual = points.indices.compactMap { i in points[i].actual.map { "\(num(x(i))),\(num(y($0)))" } }
        if actual.count >= 2 { svg += "<polyline class=\"actual-line\" fill=\"none\" points=\"\(actual.joined(separator: " "))\"/>" }
        for (i, p) in points.enumerated() {
            svg += "<circle class=\"forecast-dot\" cx=\"\(num(x(i)))\" cy=\"\(num(y(p.forecast)))\" r=\"3\"><title>\(esc(p.label)): forecast \(esc(Fmt.compact(p.forecast))) (\(esc(Fmt.compact(p.low)))–\(esc(Fmt.compact(p.high))))</title></circle>"
        }
        for m in markers where points.indices.contains(m.index) {
            svg += "<line class=\"marker\" x1=\"\(num(x(m.index)))\" x2=\"\(num(x(m.index)))\" y1=\"10\" y2=\"\(num(h + 10))\"><title>\(esc(m.text))</title></line>"
        }
        svg += "<text x=\"\(num(left))\" y=\"\(num(h + 30))\" class=\"axis\">\(esc(points[0].label))</text>"
        svg += "<text x=\"\(num(left + w))\" y=\"\(num(h + 30))\" text-anchor=\"end\" class=\"axis\">\(esc(points[points.count - 1].label))</text></svg>"
        svg += "<p class=\"legend\"><span class=\"key forecast-key\"></span> forecast <span class=\"key band-key\"></span> 90 % interval <span class=\"key actual-key\"></span> \(esc(actualLabel))</p>"
        let rows = points.map {
            "<tr><td>\(esc($0.label))</td><td>\(esc(Fmt.compact($0.forecast)))</td><td>\(esc(Fmt.compact($0.low)))–\(esc(Fmt.compact($0.high)))</td><td>\(esc($0.actual.map(Fmt.compact) ?? "—"))</td></tr>"
        }.joined()
        let notes = markers.map { "<li>\(esc(points.indices.contains($0.index) ? points[$0.index].label : "")): \(esc($0.text))</li>" }.joined()
        return svg
            + "<details class=\"fallback\"><summary>\(esc(title)) as a table</summary><table><thead><tr><th>Week of</th><th>Forecast</th><th>Interval</th><th>\(esc(actualLabel))</th></tr></thead><tbody>\(rows)</tbody></table>"
            + (notes.isEmpty ? "" : "<ul class=\"annotations\">\(notes)</ul>") + "</details>"
    }

    /// The table behind a chart, folded away under it.
    static func table(_ items: [Item], title: String, extra: [String] = []) -> String {
        var rows = ""
        for (i, it) in items.enumerated() {
            rows += "<tr><td>\(esc(it.label))</td><td>\(esc(it.text))</td>"
            if !extra.isEmpty { rows += "<td>\(esc(i < extra.count ? extra[i] : ""))</td>" }
            if items.contains(where: { $0.referenceText != nil }) { rows += "<td>\(esc(it.referenceText ?? ""))</td>" }
            rows += "</tr>"
        }
        return "<details class=\"fallback\"><summary>\(esc(title)) as a table</summary><table><tbody>\(rows)</tbody></table></details>"
    }
}

/// How numbers look on the pages.
enum Fmt {
    static func percent(_ d: Double?) -> String { d.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }
    /// The workspace's currency for the page being rendered (set per request by the web app;
    /// a task-local, so concurrent pages of workspaces in other currencies never mix).
    @TaskLocal static var currency = "USD"

    /// The symbol of common currencies, else the ISO code and a space.
    static func symbol(_ code: String) -> String {
        switch code {
        case "USD": return "$"
        case "EUR": return "€"
        case "GBP": return "£"
        case "JPY": return "¥"
        default: return code + " "
        }
    }

    static func money(_ d: Double?) -> String {
        guard let d, d.isFinite else { return "—" }
        let a = abs(d)
        let sign = d < 0 ? "−" : ""
        let c = symbol(currency)
        if a >= 1_000_000 { return sign + c + String(format: "%.2fM", a / 1_000_000) }
        if a >= 10_000 { return sign + c + String(format: "%.0fk", a / 1_000) }
        return sign + c + String(format: "%.0f", a)
    }
    static func hours(_ d: Double?) -> String { d.map { $0 < 1 ? String(format: "%.0f min", $0 * 60) : String(format: "%.1f h", $0) } ?? "—" }
    static func days(_ d: Double?) -> String { d.map { String(format: "%.1f d", $0) } ?? "—" }
    static func ratio(_ d: Double?) -> String { d.map { String(format: "%.2f×", $0) } ?? "—" }
    static func int(_ i: Int64) -> String { grouped(String(i)) }
    static func int(_ i: Int) -> String { grouped(String(i)) }
    static func compact(_ d: Double) -> String {
        let a = abs(d)
        if a >= 1_000_000 { return String(format: "%.2fM", d / 1_000_000) }
        if a >= 10_000 { return String(format: "%.1fk", d / 1_000) }
        if a == a.rounded() { return String(format: "%.0f", d) }
        return String(format: a < 1 ? "%.3f" : "%.1f", d)
    }
    static func truncate(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }
    static func grouped(_ s: String) -> String {
        var digits = Array(s)
        let negative = digits.first == "-"
        if negative { digits.removeFirst() }
        var out: [Character] = []
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (negative ? "−" : "") + String(out)
    }
}
