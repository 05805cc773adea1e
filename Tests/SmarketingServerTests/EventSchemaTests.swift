import Foundation
import NIOCore
import SmarketingCore
import Testing

@testable import SmarketingServer

/// The event format's own checks (`EventPayload.validate`, the per-event path of ingest) and the
/// `Event` schema of `/openapi.json` (`SchemaCheck`) accept exactly the same events, and the
/// regex-free matchers equal their patterns.
@Suite("Event schema equivalence")
struct EventSchemaTests {
    @Test("20,000 generated events: validate accepts an event exactly when the documented Event schema does")
    func equivalence() throws {
        var rng = SeededRandom(seed: 2026)
        let long = String(repeating: "x", count: 1_001)
        let pools: [String: [String?]] = [
            "id": ["\"e1\"", "\"\"", "\"\(long)\"", nil, "null", "5"],
            "type": ["\"page_view\"", "\"\"", "\"\(long)\"", nil, "null", "true"],
            "occurred_at": [
                "\"2026-01-01T10:00:00Z\"", "\"2026-01-01t10:00z\"", "\"2026-01-01T10:00:00.123456789+05:30\"", "\"2026-01-01 10:00Z\"",
                "\"2026-01-01T24:00Z\"", "\"2026-01-01T10:00:00.1234567891Z\"", "\"1899-12-31T10:00Z\"", "\"2026-01-01T10:00\"", "\"\"",
                "\"2026-02-29T10:00Z\"", "\"2024-02-29T10:00:60-1859\"", "\"2026-01-01T10:00:00,5Z\"", nil,
            ],
            "email": ["\"a@b.example\"", "\"\"", "\"a@b\"", "\"a@b..c\"", "\"A.B+tag@Sub.Example.COM\"", "\"a b@c.de\"", "\"mailto:a@b.de\"", "\" A@b.de \\t\"", "\"MAILTO:a@b.de\"", "\"mailto: a@b.de\"", "null", nil, nil],
            "contact_id": ["\"c1\"", "\"\"", "null", nil, nil, "\"\(long)\""],
            "channel": ["\"email\"", "\"\"", "\"\(long)\"", nil, "7"],
            "properties": ["{}", "{\"a\":1}", "\"s\"", "null", "[]", nil],
            "shoe_size": [nil, nil, nil, nil, nil, "44"],
        ]
        let keys = pools.keys.sorted()
        var agreed = 0
        var accepted = 0
        for _ in 0..<20_000 {
            var members: [String] = []
            for k in keys {
                let options = pools[k]!
                // Mostly the first (valid) option, so both answers are well represented.
                let pick = rng.int(0...9) < 7 ? 0 : rng.int(0...(options.count - 1))
                if let v = options[pick] { members.append("\"\(k)\":\(v)") }
            }
            let text = "{" + members.joined(separator: ",") + "}"
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            let bySchema = SchemaCheck.problem(value, OpenAPIDocument.ref("Event"), at: "event") == nil
            let payloads = try EventBody.decode(ByteBuffer(string: text), contentType: "application/json")
            let byParser: Bool
            if case .success(let p)? = payloads.first, case .success = p.validate() { byParser = true } else { byParser = false }
            #expect(bySchema == byParser, "\(text.prefix(300)): schema \(bySchema), parser \(byParser)")
            if bySchema == byParser { agreed += 1 }
            if byParser { accepted += 1 }
        }
        #expect(agreed == 20_000 && accepted > 1_000 && accepted < 19_000, "accepted \(accepted)")
    }

    @Test("the regex-free timestamp and email matchers equal InputPattern's regular expressions on generated texts")
    func matchers() throws {
        var rng = SeededRandom(seed: 7)
        let stamp = try NSRegularExpression(pattern: InputPattern.timestamp)
        let email = try NSRegularExpression(pattern: InputPattern.email)
        func full(_ re: NSRegularExpression, _ s: String) -> Bool {
            re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s))?.range.length == s.utf16.count
        }
        let stampAlphabet = Array("0123456789-:T tZz+.,")
        let base = ["2026-01-01T10:00Z", "2024-02-29T23:59:60.123+18:59", "1900-01-01t00:00:00z", "2199-12-31T10:10:10,1-0000"]
        var matched = 0
        for _ in 0..<30_000 {
            var chars = Array(base[rng.int(0...3)])
            for _ in 0..<rng.int(0...2) { chars[rng.int(0...(chars.count - 1))] = stampAlphabet[rng.int(0...(stampAlphabet.count - 1))] }
            if rng.int(0...5) == 0 { chars.insert(stampAlphabet[rng.int(0...(stampAlphabet.count - 1))], at: rng.int(0...chars.count)) }
            let s = String(chars)
            let expected = full(stamp, s)
            if expected { matched += 1 }
            #expect(InputPattern.isTimestamp(s) == expected, "\(s)")
        }
        #expect(matched > 1_000)
        let emailAlphabet = Array("ab09.-@_+Z é\t:")
        let prefixes = ["", " ", "mailto:", "MailTo:", " mailto:", "mailto: ", "\n"]
        for _ in 0..<30_000 {
            let s = prefixes[rng.int(0...(prefixes.count - 1))] + String((0..<rng.int(1...14)).map { _ in emailAlphabet[rng.int(0...(emailAlphabet.count - 1))] })
            #expect(InputPattern.isEmail(s) == full(email, s), "\(s)")
        }
    }
}
