/// CSV cells that a spreadsheet would run as a formula (`=cmd|' /C calc'!A0`, `+`, `-`, `@`,
/// tab, carriage return at the start) are written with a leading `'`, as OWASP's "CSV
/// injection" page describes; numbers such as `-12.5` are left alone. Bundle import undoes the
/// escape, so export → import is lossless: a cell that itself starts with `'` before one of
/// those characters (or before another `'`) gets one more `'` on the way out.
public enum SpreadsheetSafe {
    static func isTrigger(_ c: UInt8) -> Bool { c == 61 || c == 43 || c == 45 || c == 64 || c == 9 || c == 13 }

    /// The cell as written to a CSV file.
    public static func escape(_ cell: String) -> String {
        guard let first = cell.utf8.first else { return cell }
        if isTrigger(first) {
            if (first == 45 || first == 43), isNumber(cell) { return cell }
            return "'" + cell
        }
        if first == 39, let second = cell.utf8.dropFirst().first, isTrigger(second) || second == 39 { return "'" + cell }
        return cell
    }

    /// The cell as read from a CSV file that `escape` wrote.
    public static func unescape(_ cell: String) -> String {
        let u = cell.utf8
        guard u.first == 39, let second = u.dropFirst().first, isTrigger(second) || second == 39 else { return cell }
        return String(cell.dropFirst())
    }

    /// Whether a cell needs `unescape` (a cheap test on the first byte).
    @inline(__always) public static func mayBeEscaped(_ firstByte: UInt8?) -> Bool { firstByte == 39 }

    static func isNumber(_ s: String) -> Bool {
        var digits = 0
        for (i, c) in s.utf8.enumerated() {
            if c >= 48 && c <= 57 {
                digits += 1
            } else if !((i == 0 && (c == 45 || c == 43)) || c == 46) {
                return false
            }
        }
        return digits > 0 && s.utf8.filter { $0 == 46 }.count <= 1
    }
}
