import Foundation
import Hummingbird
import SmarketingCore
import VendorFakes

// Starts a fake HubSpot on loopback for `scripts/bench-sync`: `fake-vendors hubspot PEOPLE
// ACTIVITIES [PORT] [LIMIT_PER_10S]` fills it with generated people and engagements, prints
// `port=N token=T` and serves until killed. Besides HubSpot's API it answers
// `GET /_fake/stats` (requests answered, refused over the limit, the most in any window) and
// `POST /_fake/touch?count=N` (N contacts change now). Test fixtures of the vendor side, not the product.
let args = CommandLine.arguments.dropFirst().map { $0 }
guard args.count >= 3, args[0] == "hubspot", let people = Int(args[1]), let activities = Int(args[2]) else {
    FileHandle.standardError.write(Data("usage: fake-vendors hubspot PEOPLE ACTIVITIES [PORT] [LIMIT_PER_10S]\n".utf8))
    exit(2)
}
let limit = args.count > 4 ? Int(args[4]) ?? 100 : 100
let fake = FakeHubSpot(limit: limit, window: .seconds(10))
let token = "bench-token"
fake.grant(token: token)
FakeData.fillHubSpot(fake, people: people, activities: activities, seed: 7)
let router = fake.router()
router.get("/_fake/stats") { _, _ in
    Fake.json(
        200,
        .object([
            "accepted": .number(Double(fake.traffic.accepted)), "over_limit": .number(Double(fake.traffic.overLimit)),
            "max_in_window": .number(Double(fake.traffic.maxInWindow)), "limit": .number(Double(limit)), "window_seconds": .number(10),
            "span_seconds": .number(fake.traffic.span),
        ])
    )
}
router.post("/_fake/touch") { request, _ in
    let count = Int(request.uri.queryParameters["count"].map(String.init) ?? "1000") ?? 1000
    let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
    for n in 0..<min(count, people) { fake.modify("contacts", String(10_000 + n), at: now, ["jobtitle": "Changed \(now.milliseconds)"]) }
    return Fake.json(200, .object(["touched": .number(Double(min(count, people)))]))
}
let server = try await FakeServerHandle.start(router, port: args.count > 3 ? Int(args[3]) ?? 0 : 0)
FileHandle.standardOutput.write(Data("port=\(server.port) token=\(token)\n".utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
