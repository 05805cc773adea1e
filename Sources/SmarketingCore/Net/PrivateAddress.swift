import Foundation

/// Whether a URL's host is inside the operator's own network: loopback, private (RFC 1918,
/// RFC 4193), link-local (including the cloud metadata address 169.254.169.254), carrier-grade
/// NAT, unspecified, multicast and reserved ranges, and names that only a local resolver knows
/// (`localhost`, `*.localhost`, `*.local`, `*.internal`). Webhook and connector URLs must not
/// point there unless an admin allows it (a server-side request forgery guard; docs/OPERATIONS.md).
public enum PrivateAddress {
    /// The reason a host is internal, or nil when it is public (or a name to resolve first).
    public static func reason(host rawHost: String) -> String? {
        var host = rawHost.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasSuffix(".") { host = String(host.dropLast()) }
        if host == "localhost" || host.hasSuffix(".localhost") { return "\(rawHost) is this machine" }
        if host.hasSuffix(".local") || host.hasSuffix(".internal") || host.hasSuffix(".lan") || host.hasSuffix(".home.arpa") {
            return "\(rawHost) is a local network name"
        }
        if let v4 = ipv4(host) { return reason(v4: v4).map { "\(rawHost) is \($0)" } }
        if let v6 = ipv6(host) { return reason(v6: v6).map { "\(rawHost) is \($0)" } }
        return nil
    }

    /// The reason an IPv4 address (four octets) is internal, or nil.
    public static func reason(v4 o: [UInt8]) -> String? {
        guard o.count == 4 else { return "not an address" }
        switch (o[0], o[1]) {
        case (0, _): return "an unspecified address"
        case (10, _), (172, 16...31), (192, 168): return "a private address"
        case (127, _): return "a loopback address"
        case (169, 254): return "a link-local address"
        case (100, 64...127): return "a carrier-grade NAT address"
        case (192, 0) where o[2] == 0: return "a reserved address"
        case (198, 18...19): return "a benchmarking address"
        case (224...255, _): return "a multicast or reserved address"
        default: return nil
        }
    }

    /// The reason an IPv6 address (sixteen bytes) is internal, or nil.
    public static func reason(v6 b: [UInt8]) -> String? {
        guard b.count == 16 else { return "not an address" }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return b[15] == 1 ? "a loopback address" : "an unspecified address" }
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible addresses are their IPv4 address.
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff { return reason(v4: Array(b[12..<16])) }
        if b[0] & 0xfe == 0xfc { return "a unique-local (private) address" }
        if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return "a link-local address" }
        if b[0] == 0xff { return "a multicast address" }
        return nil
    }

    /// Four octets of a dotted IPv4 address, or nil.
    public static func ipv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt8(p) else { return nil }
            out.append(n)
        }
        return out
    }

    /// Sixteen bytes of an IPv6 address (with `::` and an optional trailing IPv4), or nil.
    public static func ipv6(_ raw: String) -> [UInt8]? {
        let s = raw.split(separator: "%", maxSplits: 1).first.map(String.init) ?? raw  // a zone id
        guard s.contains(":"), s.count <= 45 else { return nil }
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ text: String) -> [UInt8]? {
            if text.isEmpty { return [] }
            var out: [UInt8] = []
            let items = text.split(separator: ":", omittingEmptySubsequences: false)
            for (i, g) in items.enumerated() {
                if i == items.count - 1, g.contains("."), let v4 = ipv4(String(g)) {
                    out += v4
                    continue
                }
                guard (1...4).contains(g.count), let n = UInt16(g, radix: 16) else { return nil }
                out += [UInt8(n >> 8), UInt8(n & 0xff)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count < 16 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}
