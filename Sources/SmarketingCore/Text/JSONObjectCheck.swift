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

extension JSONObjectCheck {
    /// The top-level string members of a JSON object (`{"url": "/pricing", "n": 2}` gives
    /// `["url": "/pricing"]`), or nil when the text is not an object. Scoring reads touch
    /// properties with this for every ingested event; Foundation's decoder costs more than the
    /// rest of the event.
    public static func topLevelStrings(_ text: String) -> [String: String]? {
        var out: [String: String] = [:]
        guard
            walkTopLevelStrings(
                text,
                { key, value in
                    out[key] = value
                    return true
                }
            ) != nil
        else { return nil }
        return out
    }

    /// One top-level string member of a JSON object (nil when absent, not a string, or the text
    /// is not an object).
    public static func topLevelString(_ text: String, key wanted: String) -> String? {
        var found: String?
        _ = walkTopLevelStrings(text) { key, value in
            if key == wanted { found = value }
            return found == nil
        }
        return found
    }

    /// Hands each top-level string member of an object to `body` until it returns false; nil
    /// when the text is not an object (as far as it was read).
    static func walkTopLevelStrings(_ text: String, _ body: (String, String) -> Bool) -> Bool? {
        var copy = text
        return copy.withUTF8 { bytes -> Bool? in
            var p = Parser(bytes: bytes)
            p.skipSpace()
            guard p.peek == UInt8(ascii: "{") else { return nil }
            p.i += 1
            p.skipSpace()
            if p.peek == 125 { return true }
            while true {
                p.skipSpace()
                guard let key = p.decodedString() else { return nil }
                p.skipSpace()
                guard p.peek == 58 else { return nil }
                p.i += 1
                p.skipSpace()
                if p.peek == 34 {
                    guard let value = p.decodedString() else { return nil }
                    if !body(key, value) { return true }
                } else {
                    guard p.value(depth: 1) else { return nil }
                }
                p.skipSpace()
                if p.peek == 44 {
                    p.i += 1
                    continue
                }
                guard p.peek == 125 else { return nil }
                return true
            }
        }
    }
}

extension JSONObjectCheck.Parser {
    /// Reads a string and returns its value with escapes resolved.
    mutating func decodedString() -> String? {
        let start = i
        guard string() else { return nil }
        let raw = UnsafeBufferPointer(rebasing: bytes[(start + 1)..<(i - 1)])
        if !raw.contains(92) { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var k = 0
        var pendingHigh: UInt32?
        func append(_ scalar: UInt32) {
            guard let u = Unicode.Scalar(scalar) else { return }
            out.append(contentsOf: Array(String(Character(u)).utf8))
        }
        while k < raw.count {
            let c = raw[k]
            guard c == 92, k + 1 < raw.count else {
                out.append(c)
                k += 1
                continue
            }
            let e = raw[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "u"):
                guard k + 4 <= raw.count, let v = UInt32(String(decoding: UnsafeBufferPointer(rebasing: raw[k..<(k + 4)]), as: UTF8.self), radix: 16)
                else { return nil }
                k += 4
                if (0xD800..<0xDC00).contains(v) {
                    pendingHigh = v
                } else if (0xDC00..<0xE000).contains(v), let high = pendingHigh {
                    append(0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00))
                    pendingHigh = nil
                } else {
                    append(v)
                }
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
