/// Checks that a text is a JSON object (bundle `properties`, persona `rules`).
///
/// A hand-written RFC 8259 syntax check: the import validates a million `properties` cells, and
/// building Foundation objects just to throw them away costs more than inserting the row.
public enum JSONObjectCheck {
    /// Whether `text` is exactly one JSON object (surrounding whitespace allowed).
    public static func isObject(_ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { bytes in
            var p = Parser(bytes: bytes)
            p.skipSpace()
            guard p.peek == UInt8(ascii: "{"), p.value(depth: 0) else { return false }
            p.skipSpace()
            return p.i == bytes.count
        }
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { return false }
            i += n
            return true
        }

        mutating func string() -> Bool {
            guard peek == 34 else { return false }
            i += 1
            while i < bytes.count {
                let c = bytes[i]
                if c == 34 {
                    i += 1
                    return true
                }
                if c < 0x20 { return false }
                if c == 92 {
                    i += 1
                    guard let e = peek else { return false }
                    if e == UInt8(ascii: "u") {
                        guard i + 4 < bytes.count else { return false }
                        for k in 1...4 where !isHex(bytes[i + k]) { return false }
                        i += 5
                        continue
                    }
                    guard [34, 92, 47, 98, 102, 110, 114, 116].contains(e) else { return false }
                }
                i += 1
            }
            return false
        }

        func isHex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) }

        mutating func number() -> Bool {
            let start = i
            if peek == 45 { i += 1 }
            guard let first = peek, first >= 48, first <= 57 else { return false }
            if first == 48 { i += 1 } else { while let c = peek, c >= 48, c <= 57 { i += 1 } }
            if peek == 46 {
                i += 1
                guard let c = peek, c >= 48, c <= 57 else { return false }
                while let c = peek, c >= 48, c <= 57 { i += 1 }
            }
            if peek == 101 || peek == 69 {
                i += 1
                if peek == 43 || peek == 45 { i += 1 }
                guard let c = peek, c >= 48, c <= 57 else { return false }
                while let c = peek, c >= 48, c <= 57 { i += 1 }
            }
            return i > start
        }

        mutating func value(depth: Int) -> Bool {
            guard depth < 64 else { return false }
            skipSpace()
            guard let c = peek else { return false }
            switch c {
            case 123:  // {
                i += 1
                skipSpace()
                if peek == 125 {
                    i += 1
                    return true
                }
                while true {
                    skipSpace()
                    guard string() else { return false }
                    skipSpace()
                    guard peek == 58 else { return false }
                    i += 1
                    guard value(depth: depth + 1) else { return false }
                    skipSpace()
                    if peek == 44 {
                        i += 1
                        continue
                    }
                    guard peek == 125 else { return false }
                    i += 1
                    return true
                }
            case 91:  // [
                i += 1
                skipSpace()
                if peek == 93 {
                    i += 1
                    return true
                }
                while true {
                    guard value(depth: depth + 1) else { return false }
                    skipSpace()
                    if peek == 44 {
                        i += 1
                        continue
                    }
                    guard peek == 93 else { return false }
                    i += 1
                    return true
                }
            case 34: return string()
            case 116: return literal("true")
            case 102: return literal("false")
            case 110: return literal("null")
            default: return number()
            }
        }
    }
}
