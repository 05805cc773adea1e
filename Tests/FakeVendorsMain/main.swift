import Foundation
import SmarketingCore
import VendorFakes

// Starts fake vendor servers on loopback for `scripts/bench-sync`: `fake-vendors hubspot
// PEOPLE ACTIVITIES [PORT]` fills a HubSpot fake with generated people and engagements, prints
// `port=N token=T` and serves until killed. Test fixtures of the vendor side, not the product.
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
let server = try await FakeServerHandle.start(fake.router(), port: args.count > 3 ? Int(args[3]) ?? 0 : 0)
FileHandle.standardOutput.write(Data("port=\(server.port) token=\(token)\n".utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
