import Foundation
import Testing

@testable import SmarketingCore

@Suite("Engagement rules")
struct EngagementModelTests {
    let day: Int64 = 86_400_000
    let t0 = try! Timestamp.parse("2026-03-02T09:00:00Z").get()

    var model: EngagementModel {
        EngagementModel(
            rules: [
                EngagementRule(id: "pricing", points: 15, types: ["page_view"], url: "*/pricing*", caps: PointCaps(perDay: 15)),
                EngagementRule(id: "page", points: 1, types: ["page_view"], caps: PointCaps(perWeek: 5)),
                EngagementRule(id: "demo-form", points: 30, types: ["form_submit"], properties: ["form": "demo*"]),
                EngagementRule(id: "bofu", points: 10, types: ["content_download"], contentStages: ["bofu"], halfLife: 30 * day),
                EngagementRule(id: "webinar", points: 12, types: ["webinar_attended"], channels: ["webinar"]),
                EngagementRule(id: "careers", points: -10, types: ["page_view"], url: "*/careers*"),
                EngagementRule(id: "unsubscribe", points: -25, types: ["unsubscribe"]),
            ],
            halfLife: 7 * day
        )
    }

    func touch(
        _ id: String,
        _ type: String,
        hours: Int64 = 0,
        url: String? = nil,
        props: [String: String] = [:],
        stage: String? = nil,
        channel: String? = nil
    ) -> TouchFacts {
        var p = props
        if let url { p["url"] = url }
        return TouchFacts(id: id, at: t0.adding(milliseconds: hours * 3_600_000), type: type, channel: channel, contentStage: stage, properties: p)
    }

    @Test("each rule matches on its own conditions")
    func matching() {
        let m = model
        var s = EngagementState()
        #expect(s.apply(touch("1", "page_view", url: "https://x.example/en/pricing?plan=pro"), model: m) == ["pricing", "page"])
        #expect(s.apply(touch("2", "page_view", url: "/careers/jobs"), model: m) == ["page", "careers"])
        #expect(s.apply(touch("3", "form_submit", props: ["form": "Demo request"]), model: m) == ["demo-form"])
        #expect(s.apply(touch("4", "form_submit", props: ["form": "newsletter"]), model: m).isEmpty)
        #expect(s.apply(touch("5", "content_download", stage: "bofu"), model: m) == ["bofu"])
        #expect(s.apply(touch("6", "content_download", stage: "tofu"), model: m).isEmpty)
        #expect(s.apply(touch("7", "webinar_attended", channel: "webinar"), model: m) == ["webinar"])
        #expect(s.apply(touch("8", "webinar_attended"), model: m).isEmpty)
        #expect(s.apply(touch("9", "unsubscribe"), model: m) == ["unsubscribe"])
        #expect(s.value(at: t0) == 15 + 1 + 1 - 10 + 30 + 10 + 12 - 25)
    }

    @Test("caps, counts and per-rule half-lives explain the score")
    func explained() {
        let m = model
        var s = EngagementState()
        for i in 0..<4 { s.apply(touch("p\(i)", "page_view", hours: Int64(i), url: "/pricing"), model: m) }
        s.apply(touch("d", "content_download", stage: "bofu"), model: m)
        let pricing = s.rules["pricing"]!
        #expect(pricing.count == 4 && pricing.rawPoints == 60 && pricing.grantedPoints == 15 && pricing.cappedAway == 45)
        #expect(s.rules["page"]!.grantedPoints == 4)
        // A week later the 7-day rules have halved; the 30-day rule has not.
        let later = t0.adding(milliseconds: 3 * 3_600_000 + 7 * day)
        #expect(abs(s.rules["pricing"]!.score.value(at: t0.adding(milliseconds: 7 * day)) - 7.5) < 1e-9)
        #expect(abs(s.rules["bofu"]!.score.value(at: t0.adding(milliseconds: 30 * day)) - 5) < 1e-9)
        #expect(abs(s.value(at: later) - s.rules.values.reduce(0) { $0 + $1.score.value(at: later) }) < 1e-12)
        // A re-sent touch changes nothing.
        let before = s
        s.apply(touch("p1", "page_view", hours: 1, url: "/pricing"), model: m)
        #expect(s.rules["pricing"] == before.rules["pricing"])
    }
}
