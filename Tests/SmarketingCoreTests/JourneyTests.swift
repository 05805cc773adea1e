import Testing

@testable import SmarketingCore

@Suite("Journeys: touch order and the aggregate's cuts")
struct JourneyTests {
    func touch(_ id: String, _ at: Int64, _ channel: String) -> PathTouch {
        PathTouch(id: id, at: Timestamp(milliseconds: at), contact: "c1", channel: channel, campaign: nil, content: nil)
    }

    @Test("ties in time are put in bytewise id order; touches without ties keep their order")
    func ties() {
        // As an index on (contact, instant) may return them: ties in insertion order.
        var touches = [touch("t9", 1, "email"), touch("t10", 1, "ads"), touch("t2", 2, "web"), touch("é", 3, "a"), touch("z", 3, "b")]
        PathTouch.orderTies(&touches)
        #expect(touches.map(\.id) == ["t10", "t9", "t2", "z", "é"])  // "t1" < "t9"; "z" (0x7A) < "é" (0xC3 …)
        var plain = [touch("b", 1, "x"), touch("a", 2, "y")]
        PathTouch.orderTies(&plain)
        #expect(plain.map(\.id) == ["b", "a"])
    }

    @Test("an aggregate of some cuts holds those, the same as the aggregate of all")
    func cuts() {
        let journeys = [
            ContactJourney(touches: [touch("a", 1, "email"), touch("b", 2, "ads")], convertedAt: Timestamp(milliseconds: 2)),
            ContactJourney(touches: [touch("c", 1, "email")], convertedAt: nil),
            ContactJourney(touches: [touch("d", 5, "email")], convertedAt: Timestamp(milliseconds: 1)),
        ]
        var all = JourneyAggregate()
        var channel = JourneyAggregate(cuts: [.channel, .channel])
        for j in journeys {
            all.add(j)
            channel.add(j)
        }
        #expect(channel.paths(.channel) == all.paths(.channel))
        #expect(channel.paths(.channel).skippedConverters == 1)
        #expect(channel.paths(.campaign).paths.isEmpty && all.paths(.campaign).paths.count == 1)  // every campaign is "(none)"
    }
}
