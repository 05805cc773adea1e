/// The stored form of a `ContactScore`: a compact little-endian byte layout.
///
/// Written by hand because it is read and written for every ingested event: a Codable round
/// trip through JSON or a property list costs several times the rest of the event. The layout
/// names no rules — slot i is rule i of the model version stored beside it — so decoding needs
/// that version's model.
public enum ScoreCodec {
    static let formatVersion: UInt8 = 2

    /// The bytes of a state. Small on purpose — every ingested event rewrites its contact's
    /// state, so its size is write volume: integers are varints, times are deltas, derived
    /// numbers (raw and granted points, persona reasons) are not stored, ledger entries keep an
    /// 8-byte id key and a one-byte grant unless a cap cut the touch part-way.
    public static func encode(_ s: ContactScore) -> [UInt8] {
        var w = ByteWriter()
        w.byte(formatVersion)
        w.varint(Int64(s.version))
        w.double(s.fitPoints)
        w.string(s.grade)
        w.optionalString(s.personaID)
        w.optionalString(s.assignedPersona)
        w.byte(s.personaByHand ? 1 : 0)
        let base = s.latest?.milliseconds ?? 0
        w.byte(s.latest == nil ? 0 : 1)
        w.varint(base)
        w.varint(Int64(s.engagement.slots.count))
        for slot in s.engagement.slots {
            guard let r = slot else {
                w.byte(0)
                continue
            }
            w.byte(r.ledger == nil ? 1 : 2)
            w.varint(Int64(r.count))
            w.double(r.score.value)
            w.varint(r.score.reference.milliseconds - base)
            if let ledger = r.ledger {
                w.varint(Int64(ledger.entries.count))
                var previous = r.score.reference.milliseconds
                for e in ledger.entries {
                    w.varint(e.at.milliseconds - previous)
                    previous = e.at.milliseconds
                    w.fixed(e.id)
                    if e.granted == 0 {
                        w.byte(0)
                    } else if e.granted == e.points {
                        w.byte(1)
                    } else {
                        w.byte(2)
                        w.double(e.granted)
                    }
                }
            }
        }
        return w.bytes
    }

    /// The state stored in `bytes` under `model`, or nil when the bytes do not fit it (another
    /// model, damaged data): the caller then rescores the contact from its history. Persona
    /// reasons are not stored; `Scorer.regrade` gives them again.
    public static func decode(_ bytes: [UInt8], model: ScoringModel) -> ContactScore? {
        var r = ByteReader(bytes: bytes)
        guard r.byte() == formatVersion, let version = r.varint(), let fit = r.double(), let grade = r.string(),
            let persona = r.optionalString(), let assigned = r.optionalString(), let byHand = r.byte(), let hasLatest = r.byte(),
            let base = r.varint()
        else { return nil }
        var s = ContactScore(version: Int(version), fitPoints: fit, grade: grade, personaID: persona)
        s.assignedPersona = assigned
        s.personaByHand = byHand == 1
        s.latest = hasLatest == 1 ? Timestamp(milliseconds: base) : nil
        // A state gets its slots when a rule first matches: fewer slots than rules is a state
        // whose last rules never matched.
        guard let slotCount = r.varint(), slotCount >= 0, slotCount <= model.engagement.rules.count else { return nil }
        var slots: [RuleEngagement?] = []
        slots.reserveCapacity(Int(slotCount))
        for i in 0..<Int(slotCount) {
            guard let kind = r.byte() else { return nil }
            if kind == 0 {
                slots.append(nil)
                continue
            }
            let rule = model.engagement.rules[i]
            guard (kind == 2) == !rule.caps.isEmpty, let count = r.varint(), count >= 0, let value = r.double(), let offset = r.varint() else {
                return nil
            }
            let reference = base + offset
            var ledger: CapLedger?
            if kind == 2 {
                guard let n = r.varint(), n >= 0, n <= Int64(bytes.count) else { return nil }
                var entries: [CapLedger.Entry] = []
                entries.reserveCapacity(Int(n))
                var at = reference
                for _ in 0..<n {
                    guard let delta = r.varint(), let id = r.fixed(), let flag = r.byte() else { return nil }
                    at += delta
                    var granted = 0.0
                    switch flag {
                    case 0: break
                    case 1: granted = rule.points
                    case 2:
                        guard let g = r.double() else { return nil }
                        granted = g
                    default: return nil
                    }
                    entries.append(CapLedger.Entry(at: Timestamp(milliseconds: at), id: id, points: rule.points, granted: granted))
                }
                ledger = CapLedger(caps: rule.caps, entries: entries)
            }
            slots.append(
                RuleEngagement(
                    ruleID: rule.id,
                    points: rule.points,
                    count: Int(count),
                    score: EngagementScore(value: value, reference: Timestamp(milliseconds: reference), halfLife: rule.halfLife ?? model.engagement.halfLife),
                    ledger: ledger
                )
            )
        }
        guard r.atEnd else { return nil }
        // The stored version number guarantees the model: a state is only decoded with its version.
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

    mutating func fixed(_ v: UInt64) { int(Int64(bitPattern: v)) }

    /// A signed integer as a zigzag LEB128 varint (1 byte for −64…63).
    mutating func varint(_ v: Int64) {
        var u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        while u >= 0x80 {
            bytes.append(UInt8(u & 0x7F) | 0x80)
            u >>= 7
        }
        bytes.append(UInt8(u))
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            varint(Int64(u.count))
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

    mutating func fixed() -> UInt64? { int().map { UInt64(bitPattern: $0) } }

    mutating func varint() -> Int64? {
        var u: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count, shift < 64 {
            let b = bytes[i]
            i += 1
            u |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))) }
            shift += 7
        }
        return nil
    }

    mutating func string() -> String? {
        guard let n = varint(), n >= 0, i + Int(n) <= bytes.count else { return nil }
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
