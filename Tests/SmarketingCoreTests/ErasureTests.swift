import Foundation
import SmarketingCore
import Testing

@Suite("Erasure rules")
struct ErasureTests {
    @Test("the stand-in address is unique per contact, names nobody, and is recognised")
    func placeholder() {
        #expect(Erasure.placeholderEmail(contactID: "ct-42") == "erased-ct-42@erased.invalid")
        // An id that is not plain, or too long for an address, keeps a prefix and a hash of the whole id.
        let odd = Erasure.placeholderEmail(contactID: "CT 42/\"x\"")
        #expect(odd.hasPrefix("erased-ct42x-") && odd.count == "erased-ct42x-".count + 16 + "@erased.invalid".count, "\(odd)")
        let long = Erasure.placeholderEmail(contactID: String(repeating: "0", count: 1_000))
        #expect(long.count <= 254 && long.split(separator: "@")[0].count <= 64 && EmailAddress.key(long) != nil, "\(long)")
        #expect(long != Erasure.placeholderEmail(contactID: String(repeating: "0", count: 999)))
        #expect(EmailAddress.key(Erasure.placeholderEmail(contactID: "ö/ü")) != nil)
        #expect(Erasure.isPlaceholder("erased-ct-42@ERASED.invalid") && !Erasure.isPlaceholder("anna@acme.example"))
        #expect(Erasure.placeholderEmail(contactID: "a") != Erasure.placeholderEmail(contactID: "b"))
    }

    @Test("identifying texts: address and key, full name, names of three letters or more; lower-cased, longest first, no repeats")
    func identifying() {
        let t = Erasure.identifyingTexts(email: " Anna.Berg@Acme.example", firstName: "Anna", lastName: "Berg")
        #expect(t == [" anna.berg@acme.example", "anna.berg@acme.example", "anna berg", "anna", "berg"])
        #expect(Erasure.identifyingTexts(email: "bo@x.example", firstName: "Bo", lastName: nil) == ["bo@x.example"])
        #expect(Erasure.identifyingTexts(email: "a@b.example", firstName: "  ", lastName: "") == ["a@b.example"])
    }

    @Test("a LIKE pattern matches the text literally (%, _ and \\ escaped)")
    func pattern() {
        #expect(Erasure.containsPattern("a_b%c\\d") == "%a\\_b\\%c\\\\d%")
        #expect(Erasure.containsPattern("") == "%%")
    }

    @Test("touch properties keep what the touch was, never what was typed or anything naming the person")
    func properties() {
        let ids = ["anna@acme.example", "anna berg"]
        let kept = Erasure.keptProperties(
            #"{"url":"https://acme.example/p?x=1","form":"demo","email":"anna@acme.example","message":"hi","utm_source":"mail","score":3,"nested":{"a":1}}"#,
            identifying: ids
        )
        #expect(kept == #"{"form":"demo","url":"https://acme.example/p?x=1","utm_source":"mail"}"#)
        #expect(Erasure.keptProperties(#"{"url":"https://x.example/?e=ANNA@acme.example"}"#, identifying: ids) == nil)
        #expect(Erasure.keptProperties(#"{"page":"Anna Berg's page","cta":true}"#, identifying: ids) == #"{"cta":true}"#)
        #expect(Erasure.keptProperties("not json", identifying: ids) == nil)
        #expect(Erasure.keptProperties("[1,2]", identifying: ids) == nil)
        #expect(Erasure.keptProperties(nil, identifying: ids) == nil)
        #expect(Erasure.keptProperties("{}", identifying: ids) == nil)
    }

    @Test("scrubbing replaces every occurrence ignoring case, and says when nothing occurred")
    func scrub() {
        #expect(Erasure.scrubbed("Call ANNA BERG at anna@acme.example", ["anna@acme.example", "anna berg"]) == "Call [erased] at [erased]")
        #expect(Erasure.scrubbed("nothing here", ["anna@acme.example"]) == nil)
        #expect(Erasure.scrubbed("x", [""]) == nil)
    }

    @Test("a reason is given, at most 500 characters; line breaks become spaces")
    func reason() {
        #expect(Erasure.reason("  Art. 17\nticket 9 ") == .success("Art. 17 ticket 9"))
        #expect(Erasure.reason(" \n\t ").isFailure)
        #expect(Erasure.reason(String(repeating: "x", count: 501)).isFailure)
        #expect(Erasure.reason(String(repeating: "x", count: 500)) == .success(String(repeating: "x", count: 500)))
    }
}

extension Result {
    var isFailure: Bool { if case .failure = self { return true } else { return false } }
}

@Suite("Consent rules")
struct ConsentTests {
    @Test("the later statement stands; a source is one line of at most 200 characters, blank: the fallback")
    func rules() {
        let early = ContactConsent(contactID: "c", status: .subscribed, source: "a", at: Timestamp(seconds: 10))
        let late = ContactConsent(contactID: "c", status: .unsubscribed, source: "b", at: Timestamp(seconds: 20))
        #expect(Consent.stands(late, over: early) && !Consent.stands(early, over: late) && Consent.stands(early, over: nil))
        #expect(Consent.stands(early, over: early), "at the same instant the new one stands")
        #expect(Consent.source("  form\nA ", fallback: "x") == .success("form A"))
        #expect(Consent.source(nil, fallback: "user:u1") == .success("user:u1"))
        #expect(Consent.source(String(repeating: "s", count: 201), fallback: "x").isFailure)
        #expect(Consent.touchTypes["unsubscribe"] == .unsubscribed && Consent.touchTypes["subscribe"] == .subscribed)
    }

    @Test("the write-back's unsubscribed field: true, false, or left alone when nobody said")
    func writeback() {
        var s = WritebackSource(contactID: "c", stage: "lead", engagement: nil, grade: nil, mqlAt: nil, ownerExternalID: nil, handoverStatus: nil, slaBreached: false, rejectionReason: nil)
        let map = ["unsubscribed": "hs_email_optout"]
        #expect(!WritebackValues.values(s, writeback: map).keys.contains("unsubscribed"))
        s.subscription = .unsubscribed
        #expect(WritebackValues.values(s, writeback: map)["unsubscribed"] == .some("true"))
        s.subscription = .subscribed
        #expect(WritebackValues.values(s, writeback: map)["unsubscribed"] == .some("false"))
        #expect(WritebackValues.values(s, writeback: [:]).isEmpty)
    }
}

@Suite("Retention rules")
struct RetentionTests {
    @Test("the cutoff is N calendar months back at the same time of day; the 31st falls back to the month's last day; 0 is off")
    func cutoff() throws {
        let now = try Timestamp.parse("2026-03-31T10:20:30Z").get()
        #expect(Retention.cutoff(now: now, months: 1) == (try Timestamp.parse("2026-02-28T10:20:30Z").get()))
        #expect(Retention.cutoff(now: now, months: 13) == (try Timestamp.parse("2025-02-28T10:20:30Z").get()))
        #expect(Retention.cutoff(now: now, months: 25) == (try Timestamp.parse("2024-02-29T10:20:30Z").get()))
        #expect(Retention.cutoff(now: now, months: 0) == nil && Retention.cutoff(now: now, months: -3) == nil)
        #expect(Retention.cutoff(now: now, months: 600)?.utcDate == LocalDate(year: 1976, month: 3, day: 31))
        #expect(Retention.reason(months: 24, cutoff: now) == "retention: no activity for 24 months (last activity before 2026-03-31)")
    }

    @Test("the setting takes whole months from 0 to 600")
    func setting() {
        #expect(WorkspaceSettingKey.retentionMonths.normalize(" 24 ") == .success("24"))
        #expect(WorkspaceSettingKey.retentionMonths.defaultValue == "0" && WorkspaceSettings().retentionMonths == 0)
        for bad in ["-1", "601", "1.5", "x"] { #expect(WorkspaceSettingKey.retentionMonths.normalize(bad).isFailure, "\(bad)") }
        #expect(WorkspaceSettings(stored: ["privacy.retention_months": "36"]).retentionMonths == 36)
    }
}
