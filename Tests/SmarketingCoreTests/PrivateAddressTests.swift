import SmarketingCore
import Testing

@Suite("Private addresses (URLs into the server's own network)")
struct PrivateAddressTests {
    @Test("internal hosts are named with the reason; public ones and names to resolve pass", arguments: [
        ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"), ("100.64.0.1", "carrier-grade"), ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"),
        ("[::1]", "loopback"), ("::", "unspecified"), ("fd12:3456::1", "unique-local"), ("fe80::1", "link-local"), ("::ffff:10.0.0.1", "private"),
        ("[::ffff:127.0.0.1]", "loopback"), ("ff02::1", "multicast"), ("localhost", "this machine"), ("api.localhost", "this machine"),
        ("nas.local", "local network"), ("db.internal", "local network"), ("LOCALHOST.", "this machine"),
    ])
    func inside(host: String, reason: String) {
        #expect(PrivateAddress.reason(host: host)?.contains(reason) == true, "\(host): \(PrivateAddress.reason(host: host) ?? "public")")
    }

    @Test("public addresses and names pass", arguments: ["8.8.8.8", "172.32.0.1", "172.15.0.1", "192.169.0.1", "100.128.0.1", "2001:db8::1", "[2606:4700::1111]", "api.hubapi.com", "hooks.example", "1.2.3"])
    func external(host: String) {
        #expect(PrivateAddress.reason(host: host) == nil, "\(host)")
    }

    @Test("address parsing refuses what is not an address")
    func parsing() {
        #expect(PrivateAddress.ipv4("256.1.1.1") == nil && PrivateAddress.ipv4("1.2.3") == nil && PrivateAddress.ipv4("1.2.3.4.5") == nil && PrivateAddress.ipv4("01234.1.1.1") == nil)
        #expect(PrivateAddress.ipv6("1::2::3") == nil && PrivateAddress.ipv6("12345::") == nil && PrivateAddress.ipv6("g::1") == nil)
        #expect(PrivateAddress.ipv6("1:2:3:4:5:6:7:8") == [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8])
        #expect(PrivateAddress.ipv6("fe80::1%eth0").map { PrivateAddress.reason(v6: $0) } == "a link-local address")
        #expect(PrivateAddress.reason(v4: [1, 2]) == "not an address" && PrivateAddress.reason(v6: []) == "not an address")
    }
}
