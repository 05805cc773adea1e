/// Reads an ingest body — one JSON object, a JSON array of objects, or NDJSON — into event
/// payloads.
///
/// Hand-written because Foundation's `JSONDecoder` (with per-key containers to detect unknown
/// fields) took more time than storing the event; this reads the flat event shape directly from
/// the bytes. Syntax errors of the body as a whole are thrown with the byte offset; a problem
/// inside one event (unknown field, wrong type, a bad NDJSON line) rejects that event only.
public enum EventJSON {
    /// Why the body cannot be read at all.
    public struct BodyError: Error, Sendable, Equatable {
        public var message: String
    }

    /// Parses a body. `ndjson` forces one object per line; otherwise the shape is detected.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, ndjson: Bool) throws(BodyError) -> [Result<EventPayload, EventRejection>] {
        var p = Reader(b: bytes)
        p.skipSpace()
        guard let first = p.peek else { return [] }
        if !ndjson, first == UInt8(ascii: "[") {
            p.i += 1
            var out: [Result<EventPayload, EventRejection>] = []
            p.skipSpace()
            if p.peek == UInt8(ascii: "]") {
                p.i += 1
            } else {
                while true {
                    p.skipSpace()
                    let start = p.i
                    switch p.event() {
                    case .success(let e): out.append(.success(e))
                    case .failure(let rejection):
                        // A bad value inside an element rejects the element if the array stays readable.
                        p.i = start
                        guard p.skipValue() else { throw BodyError(message: "the body is not valid JSON (at byte \(p.i + 1))") }
                        out.append(.failure(rejection))
                    }
                    p.skipSpace()
                    if p.peek == UInt8(ascii: ",") {
                        p.i += 1
                        continue
                    }
                    guard p.peek == UInt8(ascii: "]") else { throw BodyError(message: "the body is not valid JSON: expected , or ] at byte \(p.i + 1)") }
                    p.i += 1
                    break
                }
            }
            p.skipSpace()
            guard p.i == bytes.count else { throw BodyError(message: "the body is not valid JSON: unexpected data after the array at byte \(p.i + 1)") }
            return out
        }
        guard first == UInt8(ascii: "{") else {
            throw BodyError(message: "the body must be a JSON object, a JSON array of objects, or NDJSON")
        }
        // One object, or objects one per line.
        var out: [Result<EventPayload, EventRejection>] = []
        var lineNumber = 0
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 10 { lineEnd += 1 }
            lineNumber += 1
            var line = Reader(b: UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd]))
            line.skipSpace()
            if line.peek != nil {
                switch line.event() {
                case .success(let e):
                    line.skipSpace()
                    if line.peek == nil {
                        out.append(.success(e))
                    } else {
                        out.append(.failure(EventRejection("line \(lineNumber) has data after the event object")))
                    }
                case .failure(let r):
                    out.append(.failure(EventRejection((ndjson || lineNumber > 1 ? "line \(lineNumber): " : "") + r.reason)))
                }
            }
            lineStart = lineEnd + 1
        }
        // A single line that is not valid JSON is a body error, not an event rejection.
        if out.count == 1, lineNumber == 1, !ndjson, case .failure(let r) = out[0], r.reason.hasPrefix("not valid JSON") {
            throw BodyError(message: "the body is " + r.reason)
        }
        return out
    }

    struct Reader {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0
        var peek: UInt8? { i < b.count ? b[i] : nil }

        mutating func skipSpace() {
            while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 }
        }

        /// A JSON string at `i`, unescaped.
        mutating func string() -> String? {
            guard peek == 34 else { return nil }
            i += 1
            let start = i
            var plain = true
            while i < b.count, b[i] != 34 {
                if b[i] == 92 {
                    plain = false
                    i += 2
                    continue
                }
                if b[i] < 0x20 { return nil }
                i += 1
            }
            guard i < b.count else { return nil }
            let raw = UnsafeBufferPointer(rebasing: b[start..<i])
            i += 1
            if plain { return String(validating: raw, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var k = 0
            while k < raw.count {
                let c = raw[k]
                guard c == 92 else {
                    out.append(c)
                    k += 1
                    continue
                }
                guard k + 1 < raw.count else { return nil }
                let e = raw[k + 1]
                k += 2
                switch e {
                case 34, 92, 47: out.append(e)
                case 98: out.append(8)
                case 102: out.append(12)
                case 110: out.append(10)
                case 114: out.append(13)
                case 116: out.append(9)
                case 117:
                    guard var scalar = hex4(raw, k) else { return nil }
                    k += 4
                    if scalar >= 0xD800, scalar < 0xDC00 {
                        guard k + 6 <= raw.count, raw[k] == 92, raw[k + 1] == 117, let low = hex4(raw, k + 2), low >= 0xDC00, low < 0xE000 else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        k += 6
                    }
                    guard let u = Unicode.Scalar(scalar) else { return nil }
                    out.append(contentsOf: String(Character(u)).utf8)
                default: return nil
                }
            }
            return String(validating: out, as: UTF8.self)
        }

        func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var v: UInt32 = 0
            for k in at..<at + 4 {
                let c = raw[k]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: return nil
                }
                v = v * 16 + d
            }
            return v
        }

        /// Skips any JSON value; false if it is not valid JSON.
        mutating func skipValue() -> Bool {
            var check = JSONObjectCheck.Parser(bytes: b)
            check.i = i
            guard check.value(depth: 0) else { return false }
            i = check.i
            return true
        }

        /// One event object at `i`.
        mutating func event() -> Result<EventPayload, EventRejection> {
            guard peek == UInt8(ascii: "{") else { return .failure(EventRejection("an event must be a JSON object")) }
            let objectStart = i
            var check = JSONObjectCheck.Parser(bytes: b)
            check.i = i
            guard check.value(depth: 0) else { return .failure(EventRejection("not valid JSON (at byte \(check.i + 1))")) }
            let objectEnd = check.i
            i += 1
            var payload = EventPayload(fields: [:])
            skipSpace()
            if peek == 125 {
                i += 1
                return .success(payload)
            }
            while true {
                skipSpace()
                guard let key = string() else { return .failure(EventRejection("not valid JSON (at byte \(i + 1))")) }
                skipSpace()
                i += 1  // the colon; the syntax was checked above
                skipSpace()
                guard let index = EventPayload.index(of: key) else {
                    payload.note("unknown field \"\(key)\" (allowed: \(EventPayload.fields.joined(separator: ", ")))")
                    _ = skipValue()
                    if !next() { break }
                    continue
                }
                let c = peek
                if key == "properties" {
                    let start = i
                    _ = skipValue()
                    if c == 123 {
                        payload.properties = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                    } else if c != 110 {
                        payload.note("field \"properties\" must be a JSON object")
                    }
                } else if c == 34 {
                    guard let value = string() else { return .failure(EventRejection("field \"\(key)\" is not a valid JSON string")) }
                    payload.set(index, value)
                } else {
                    if c != 110 { payload.note("field \"\(key)\" must be a string") }
                    _ = skipValue()
                }
                if !next() { break }
            }
            i = objectEnd
            _ = objectStart
            return .success(payload)
        }

        /// After a member: true if another follows (`,`), false at `}`.
        mutating func next() -> Bool {
            skipSpace()
            if peek == 44 {
                i += 1
                return true
            }
            return false
        }
    }
}
