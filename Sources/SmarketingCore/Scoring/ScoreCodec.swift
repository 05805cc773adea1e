/// The stored form of a `ContactScore`: a compact little-endian byte layout.
///
/// Written by hand because it is read and written for every ingested event: a Codable round
/// trip through JSON or a property list costs several times the rest of the event. The layout
/// names no rules — slot i is rule i of the model version stored beside it — so decoding needs
/// that version's model.
public enum ScoreCodec {
    static let formatVersion: UInt8 = 1

    /// The bytes of a state.
    public static func encode(_ s: ContactScore) -> [UInt8] {
        var w = ByteWriter()
        w.byte(formatVersion)
        w.int(Int64(s.version))
        w.double(s.fitPoints)
        w.string(s.grade)
        w.optionalString(s.personaID)
        w.optionalString(s.assignedPersona)
        w.byte(s.personaByHand ? 1 : 0)
        w.int(Int64(s.personaReasons.count))
        for r in s.personaReasons { w.string(r) }
        w.int(s.latest?.milliseconds ?? Int64.min)
        w.int(Int64(s.engagement.slots.count))
        for slot in s.engagement.slots {
            guard let r = slot else {
                w.byte(0)
                continue
            }
            w.byte(r.ledger == nil ? 1 : 2)
            w.int(Int64(r.count))
            w.double(r.rawPoints)
            w.double(r.grantedPoints)
            w.double(r.score.value)
            w.int(r.score.reference.milliseconds)
            if let ledger = r.ledger {
                w.int(Int64(ledger.entries.count))
                for e in ledger.entries {
                    w.int(e.at.milliseconds)
                    w.string(e.id)
                    w.double(e.points)
                    w.double(e.granted)
                }
            }
        }
        return w.bytes
    }

    /// The state stored in `bytes` under `model`, or nil when the bytes do not fit it (another
    /// model, damaged data): the caller then rescores the contact from its history.
    public static func decode(_ bytes: [UInt8], model: ScoringModel) -> ContactScore? {
        var r = ByteReader(bytes: bytes)
        guard r.byte() == formatVersion, let version = r.int(), let fit = r.double(), let grade = r.string(),
            let persona = r.optionalString(), let assigned = r.optionalString(), let byHand = r.byte(), let reasonCount = r.int(), reasonCount >= 0,
            reasonCount < 1000
        else { return nil }
        var s = ContactScore(version: Int(version), fitPoints: fit, grade: grade, personaID: persona)
        s.assignedPersona = assigned
        s.personaByHand = byHand == 1
        for _ in 0..<reasonCount {
            guard let reason = r.string() else { return nil }
            s.personaReasons.append(reason)
        }
        // A state gets its slots when a rule first matches: fewer slots than rules is a state
        // whose last rules never matched.
        guard let latest = r.int(), let slotCount = r.int(), slotCount >= 0, slotCount <= model.engagement.rules.count else { return nil }
        s.latest = latest == Int64.min ? nil : Timestamp(milliseconds: latest)
        var slots: [RuleEngagement?] = []
        slots.reserveCapacity(Int(slotCount))
        for i in 0..<Int(slotCount) {
            guard let kind = r.byte() else { return nil }
            if kind == 0 {
                slots.append(nil)
                continue
            }
            let rule = model.engagement.rules[i]
            guard (kind == 2) == !rule.caps.isEmpty, let count = r.int(), let raw = r.double(), let granted = r.double(), let value = r.double(),
                let reference = r.int()
            else { return nil }
            var ledger: CapLedger?
            if kind == 2 {
                guard let n = r.int(), n >= 0, n <= Int64(bytes.count) else { return nil }
                var entries: [CapLedger.Entry] = []
                entries.reserveCapacity(Int(n))
                for _ in 0..<n {
                    guard let at = r.int(), let id = r.string(), let points = r.double(), let g = r.double() else { return nil }
                    entries.append(CapLedger.Entry(at: Timestamp(milliseconds: at), id: id, points: points, granted: g))
                }
                ledger = CapLedger(caps: rule.caps, entries: entries)
            }
            slots.append(
                RuleEngagement(
                    ruleID: rule.id,
                    count: Int(count),
                    rawPoints: raw,
                    grantedPoints: granted,
                    score: EngagementScore(value: value, reference: Timestamp(milliseconds: reference), halfLife: rule.halfLife ?? model.engagement.halfLife),
                    ledger: ledger
                )
            )
        }
        guard r.atEnd else { return nil }
        // A fingerprint of the rules would catch a changed model of the same size; the stored
        // version number is what guarantees the model (a state is only decoded with its version).
        s.engagement = EngagementState(slots: slots)
        return s
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(128) }

    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func int(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func double(_ v: Double) { int(Int64(bitPattern: v.bitPattern)) }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            int(Int64(u.count))
            bytes.append(contentsOf: u)
        }
    }

    mutating func optionalString(_ s: String?) {
        if let s {
            byte(1)
            string(s)
        } else {
            byte(0)
        }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var i = 0

    var atEnd: Bool { i == bytes.count }

    mutating func byte() -> UInt8? {
        guard i < bytes.count else { return nil }
        defer { i += 1 }
        return bytes[i]
    }

    mutating func int() -> Int64? {
        guard i + 8 <= bytes.count else { return nil }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
        i += 8
        return Int64(bitPattern: v)
    }

    mutating func double() -> Double? { int().map { Double(bitPattern: UInt64(bitPattern: $0)) } }

    mutating func string() -> String? {
        guard let n = int(), n >= 0, i + Int(n) <= bytes.count else { return nil }
        defer { i += Int(n) }
        return String(decoding: bytes[i..<(i + Int(n))], as: UTF8.self)
    }

    mutating func optionalString() -> String?? {
        switch byte() {
        case 0?: return .some(nil)
        case 1?: return string().map { .some($0) }
        default: return nil
        }
    }
}
