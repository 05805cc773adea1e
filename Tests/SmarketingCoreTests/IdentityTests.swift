import Testing

@testable import SmarketingCore

@Suite("Identity: normalisation, resolution, merge")
struct IdentityTests {
    @Test("email keys are trimmed and lower-cased")
    func emailKeys() {
        #expect(EmailAddress.key("  Anna.Muller@Example.COM ") == "anna.muller@example.com")
        #expect(EmailAddress.key("mailto:a@b.de") == "a@b.de")
        #expect(EmailAddress.key("a+news@b.de") == "a+news@b.de")
        #expect(EmailAddress.untaggedKey("a+news@b.de") == "a@b.de")
        for bad in ["", "anna", "@b.de", "a@b", "a@@b.de", "a b@c.de", "a@b..de", "a@b.de,c@d.de"] {
            #expect(EmailAddress.key(bad) == nil, "\(bad)")
        }
        #expect(EmailAddress.domain(ofKey: "x@sub.example.org") == "sub.example.org")
    }

    @Test("domains lose scheme, www, path, port and case")
    func domains() {
        #expect(Domain.normalise("https://www.Example.com/pricing?x=1") == "example.com")
        #expect(Domain.normalise("EXAMPLE.com.") == "example.com")
        #expect(Domain.normalise("shop.example.co.uk:8443") == "shop.example.co.uk")
        #expect(Domain.normalise("localhost") == nil)
        #expect(Domain.normalise("ex ample.com") == nil)
        #expect(Domain.isFreeMail("gmail.com"))
        #expect(!Domain.isFreeMail("acme.example"))
    }

    func event(_ email: String, company: String? = nil, at seconds: Int64 = 1000) -> (IncomingEvent, String) {
        let key = EmailAddress.key(email)!
        let details = ContactDetails(firstName: "Anna", company: company)
        let e = IncomingEvent(
            id: "e1",
            type: "form_submit",
            occurredAt: Timestamp(seconds: seconds),
            channel: "email",
            campaignID: "c1",
            contact: .email(key: key, address: email, details: details)
        )
        return (e, key)
    }

    @Test("an unknown business address creates a lead and its account")
    func createsContactAndAccount() {
        let (e, key) = event("Anna@Acme.example", company: "Acme GmbH")
        let d = IdentityResolution.resolve(
            key: key,
            address: "Anna@Acme.example",
            details: ContactDetails(firstName: "Anna", company: "Acme GmbH"),
            event: e,
            known: nil,
            accountForDomain: nil,
            newContactID: "ct-new",
            newAccountID: "acc-new"
        )
        #expect(d.contactID == "ct-new")
        let contact = Record(values: d.newContact!, .contacts)
        #expect(contact["email"] == .text("Anna@Acme.example"))
        #expect(contact["account_id"] == .text("acc-new"))
        #expect(contact["lifecycle_stage"] == .text("lead"))
        #expect(contact["became_lead_at"] == .timestamp(Timestamp(seconds: 1000)))
        #expect(contact["source_campaign_id"] == .text("c1"))
        let account = Record(values: d.newAccount!, .accounts)
        #expect(account["name"] == .text("Acme GmbH"))
        #expect(account["domain"] == .text("acme.example"))
    }

    @Test("an unknown address at an existing company joins its account")
    func joinsAccount() {
        let (e, key) = event("bo@acme.example")
        let d = IdentityResolution.resolve(
            key: key,
            address: "bo@acme.example",
            details: ContactDetails(),
            event: e,
            known: nil,
            accountForDomain: "acc-1",
            newContactID: "ct-new",
            newAccountID: "acc-new"
        )
        #expect(d.newAccount == nil)
        #expect(Record(values: d.newContact!, .contacts)["account_id"] == .text("acc-1"))
    }

    @Test("free-mail addresses never create accounts")
    func freeMail() {
        let (e, key) = event("someone@gmail.com", company: "Acme")
        let d = IdentityResolution.resolve(
            key: key,
            address: "someone@gmail.com",
            details: ContactDetails(company: "Acme"),
            event: e,
            known: nil,
            accountForDomain: nil,
            newContactID: "ct-new",
            newAccountID: "acc-new"
        )
        #expect(d.newAccount == nil)
        #expect(Record(values: d.newContact!, .contacts)["account_id"] == .null)
    }

    @Test("a known contact only gets blank fields filled")
    func fillsBlanks() {
        let (e, key) = event("anna@acme.example")
        let known = KnownContact(id: "ct-1", accountID: "acc-1", filled: ["first_name"])
        let d = IdentityResolution.resolve(
            key: key,
            address: "anna@acme.example",
            details: ContactDetails(firstName: "Hanna", lastName: "Berg", title: "CMO"),
            event: e,
            known: known,
            accountForDomain: "acc-1",
            newContactID: "x",
            newAccountID: "y"
        )
        #expect(d.contactID == "ct-1")
        #expect(d.newContact == nil && d.newAccount == nil)
        #expect(Dictionary(uniqueKeysWithValues: d.fill) == ["last_name": .text("Berg"), "title": .text("CMO")])
        #expect(d.attachAccountID == nil)
    }

    @Test("merge keeps the kept values, fills blanks, keeps the earliest history and the further stage")
    func merge() {
        let s = Resource.contacts.schema
        var keep = [FieldValue](repeating: .null, count: s.fields.count)
        var dup = keep
        keep[s.index["id"]!] = .text("a")
        dup[s.index["id"]!] = .text("b")
        keep[s.index["first_name"]!] = .text("Anna")
        dup[s.index["first_name"]!] = .text("Ann")
        dup[s.index["title"]!] = .text("CMO")
        keep[s.index["created_at"]!] = .timestamp(Timestamp(seconds: 100))
        dup[s.index["created_at"]!] = .timestamp(Timestamp(seconds: 50))
        keep[s.index["became_mql_at"]!] = .timestamp(Timestamp(seconds: 300))
        dup[s.index["became_mql_at"]!] = .timestamp(Timestamp(seconds: 200))
        dup[s.index["became_sal_at"]!] = .timestamp(Timestamp(seconds: 400))
        keep[s.index["lifecycle_stage"]!] = .text("mql")
        dup[s.index["lifecycle_stage"]!] = .text("sal")
        let m = Record(values: ContactMerge.merge(keep: keep, duplicate: dup), .contacts)
        #expect(m["id"] == .text("a"))
        #expect(m["first_name"] == .text("Anna"))
        #expect(m["title"] == .text("CMO"))
        #expect(m["created_at"] == .timestamp(Timestamp(seconds: 50)))
        #expect(m["became_mql_at"] == .timestamp(Timestamp(seconds: 200)))
        #expect(m["became_sal_at"] == .timestamp(Timestamp(seconds: 400)))
        #expect(m["lifecycle_stage"] == .text("sal"))
    }
}

/// A minimal record view for core tests (the store has its own `Record`).
struct Record {
    var values: [FieldValue]
    var resource: Resource
    init(values: [FieldValue], _ resource: Resource) {
        self.values = values
        self.resource = resource
    }
    subscript(name: String) -> FieldValue { values[resource.schema.index[name]!] }
}

@Suite("Email keys: fast path agrees with the general rules")
struct EmailFastPathTests {
    @Test(
        "ASCII fast path and the general path give the same key",
        arguments: [
            "anna@acme.example", "ANNA.Muller+news@Acme.Example", "a@b.de", "x@www.acme.example", "mia@sub.domain.co.uk",
            "bad@", "@bad.de", "a@b", "a@@b.de", "a b@c.de", "a@b..de", "a@.b.de", "a@b.de.", "a,b@c.de", "a@b_c.de", "mailto:a@b.de",
            " a@b.de", "a@b-c.de", "max@x.io",
        ]
    )
    func agree(text: String) {
        #expect(EmailAddress.key(text) == EmailAddress.slowKey(text), "\(text)")
    }
}
