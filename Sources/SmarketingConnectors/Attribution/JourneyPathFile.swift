import Foundation
import SmarketingCore

/// Reads aggregated journeys in ChannelAttribution's layout — a header with `path`,
/// `total_conversions` and optionally `total_null`, columns separated by `;` or `,`, paths
/// written `a > b > c` — so the same file can be fed to both for a comparison. These files have
/// no quoting, so lines are split as they are (the bundle's CSV reader handles commas only).
public enum JourneyPathFile {
    /// The paths, or the first problem with its line and column.
    public static func read(_ text: String) -> Result<[JourneyPath], ModelFileProblem> {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        guard let headerLine = lines.first, !headerLine.isEmpty else {
            return .failure(ModelFileProblem(line: 1, column: 1, message: "the file is empty"))
        }
        let separator: Character = headerLine.contains(";") ? ";" : ","
        let header = headerLine.split(separator: separator, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let pathColumn = header.firstIndex(of: "path"), let convColumn = header.firstIndex(of: "total_conversions") else {
            return .failure(ModelFileProblem(line: 1, column: 1, message: "the header needs the columns path and total_conversions (and total_null)"))
        }
        let nullColumn = header.firstIndex(of: "total_null")
        var out: [JourneyPath] = []
        for (i, raw) in lines.enumerated().dropFirst() where !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            let fields = raw.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == header.count else {
                return .failure(ModelFileProblem(line: i + 1, column: 1, message: "\(fields.count) columns where the header has \(header.count)"))
            }
            func number(_ column: Int) -> Result<Double, ModelFileProblem> {
                let text = fields[column].trimmingCharacters(in: .whitespaces)
                guard let n = Double(text), n >= 0, n.isFinite else {
                    let at = fields[..<column].reduce(1) { $0 + $1.count + 1 }
                    return .failure(ModelFileProblem(line: i + 1, column: at, message: "\(header[column]) \"\(text)\" is not a count"))
                }
                return .success(n)
            }
            let labels = fields[pathColumn].split(separator: ">").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            do {
                out.append(
                    JourneyPath(
                        labels: labels,
                        conversions: try number(convColumn).get(),
                        nulls: try nullColumn.map { try number($0).get() } ?? 0
                    )
                )
            } catch let e as ModelFileProblem {
                return .failure(e)
            } catch {
                return .failure(ModelFileProblem(line: i + 1, column: 1, message: "\(error)"))
            }
        }
        return .success(out)
    }

    /// The paths in the layout `read` takes and ChannelAttribution reads (`path,total_conversions,
    /// total_null`, comma-separated as `markov_peer.py --paths-csv` writes them). A label's `>`
    /// becomes `›` and its `,` becomes `‚` (the file has no quoting), as the peer does for `>`.
    public static func write(_ paths: [JourneyPath]) -> String {
        func number(_ n: Double) -> String { n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n) }
        var out = "path,total_conversions,total_null\n"
        for p in paths {
            let labels = p.labels.map { $0.replacingOccurrences(of: ">", with: "›").replacingOccurrences(of: ",", with: "‚") }
            out += labels.joined(separator: " > ") + "," + number(p.conversions) + "," + number(p.nulls) + "\n"
        }
        return out
    }
}
