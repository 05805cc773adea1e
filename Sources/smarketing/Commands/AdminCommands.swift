import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore

struct Contacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One record per person: duplicates, merges, and a person's rights (erasure, access).",
        subcommands: [Duplicates.self, Merge.self, Erase.self, ExportPerson.self, Erasures.self, ConsentCommand.self]
    )

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a person's personal data everywhere (GDPR Art. 17), keeping the anonymous facts the figures count.",
            discussion: """
                Clears the contact's name, address, phone, title and country, what was typed into their touches, their \
                notes, queued webhook payloads and write-backs, their audit entries, and their address or full name \
                wherever it was written (meetings, sync logs). Keeps a tombstone (a hash of the address) so that a later \
                record with the same address is a new one, flagged. Erases the person at linked HubSpot and Pipedrive \
                connections too. Irreversible: without --yes it only says what it would erase.
                """
        )
        @OptionGroup var workspace: WorkspaceOptions
        @Argument(help: "The contact's id or email address.") var contact: String
        @Option(help: "Why (kept with the tombstone and in the audit log; do not name the person), e.g. \"Art. 17 request, ticket 4711\".") var reason: String
        @Flag(help: "Erase now (without it, nothing is changed).") var yes = false

        func validate() throws {
            if case .failure(let e) = Erasure.reason(reason) { throw ValidationError("--reason: " + e.description) }
        }

        func run() async throws {
            let store = try await workspace.openFunnel()
            guard let id = try await PersonPrivacy.resolve(store, contact) else { throw CLIFailure("no contact with id or email \"\(contact)\"") }
            guard yes else {
                let data = try await store.personData(contactID: id)
                if data?.tombstone != nil { throw CLIFailure("contact \(id) was erased already") }
                let touches = data?.sections.first { $0.name == "touchpoints" }?.rows.count ?? 0
                let links = data?.sections.first { $0.name == "vendor_links" }?.rows.count ?? 0
                print("would erase contact \(id) (\(touches) touchpoint(s), \(links) vendor link(s)); run again with --yes to erase")
                return
            }
            // Vendor credentials are opened only for a person linked to a vendor (opening them
            // creates the workspace's secret key where there is none).
            let linked = try await store.personData(contactID: id)?.sections.first { $0.name == "vendor_links" }?.rows.isEmpty == false
            let connections = linked ? try? await workspace.connections().1 : nil
            do {
                let outcome = try await PersonPrivacy.erase(store, contactID: id, reason: reason, actor: .cli, at: SystemClock().now(), connections: connections)
                if workspace.json { return try printJSON(outcome) }
                let changed = outcome.report.changed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print("erased contact \(id): \(changed)")
                for v in outcome.vendors { print("\(v.connection) \(v.object) \(v.externalID): \(v.outcome.rawValue) — \(v.message)") }
                if outcome.vendors.contains(where: { $0.outcome == .failed || $0.outcome == .manual }) {
                    throw CLIFailure("erased here; some vendors still hold the person (listed above): erase them there")
                }
            } catch let e as StoreError {
                throw CLIFailure(e.description)
            }
        }
    }

    struct ExportPerson: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-person",
            abstract: "Everything stored about a person, as JSON (GDPR Art. 15 and 20)."
        )
        @OptionGroup var workspace: WorkspaceOptions
        @Argument(help: "The contact's id or email address.") var contact: String
        @Option(help: "Write to this file instead of standard output.") var output: String?

        func run() async throws {
            let store = try await workspace.openFunnel()
            guard let id = try await PersonPrivacy.resolve(store, contact), let doc = try await PersonPrivacy.export(store, contactID: id, at: SystemClock().now()) else {
                throw CLIFailure("no contact with id or email \"\(contact)\"")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let data = try encoder.encode(doc)
            if let output {
                do {
                    try data.write(to: URL(fileURLWithPath: output))
                } catch {
                    throw CLIFailure("could not write \(output): \(error.localizedDescription)")
                }
                FileHandle.standardError.write(Data("wrote everything stored about \(id) to \(output)\n".utf8))
            } else {
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    struct ConsentCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "consent",
            abstract: "Show or set a contact's subscription status (an unsubscribe event sets it too; the later statement stands)."
        )
        @OptionGroup var workspace: WorkspaceOptions
        @Argument(help: "The contact's id or email address.") var contact: String
        @Option(help: "subscribed or unsubscribed.") var set: SubscriptionStatus?
        @Option(help: "Where the statement comes from (default: cli).") var source: String?

        func validate() throws {
            if source != nil && set == nil { throw ValidationError("--source goes with --set") }
            if case .failure(let e) = Consent.source(source, fallback: "cli") { throw ValidationError("--source: " + e.description) }
        }

        func run() async throws {
            let store = try await workspace.openFunnel()
            guard let id = try await PersonPrivacy.resolve(store, contact) else { throw CLIFailure("no contact with id or email \"\(contact)\"") }
            let consent: ContactConsent?
            if let set {
                let src = (try? Consent.source(source, fallback: "cli").get()) ?? "cli"
                consent = try await store.setConsent(contactID: id, status: set, source: src, actor: .cli, at: SystemClock().now())
            } else {
                consent = try await store.consent(contactID: id)
            }
            if workspace.json {
                struct Out: ExplicitNullEncodable {
                    var contactId: String
                    var status: String?
                    var source: String?
                    var at: Timestamp?
                }
                return try printJSON(Out(contactId: id, status: consent?.status.rawValue, source: consent?.source, at: consent?.at))
            }
            guard let consent else { return print("\(id): no subscription status stated") }
            print("\(id): \(consent.status.rawValue) (\(consent.source), \(consent.at.iso8601))")
        }
    }

    struct Erasures: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Erased people (tombstones) and the new records created with an erased address.")
        @OptionGroup var workspace: WorkspaceOptions
        @Option(help: "At most this many of each.") var limit = 100

        func run() async throws {
            let store = try await workspace.openFunnel()
            let tombs = try await store.tombstones(limit: limit)
            let matches = try await store.erasureMatches(limit: limit)
            struct List: Encodable {
                var erasures: [Tombstone]
                var flagged: [ErasureMatch]
            }
            if workspace.json { return try printJSON(List(erasures: tombs, flagged: matches)) }
            if tombs.isEmpty { print("no erasures") }
            for t in tombs { print("\(t.erasedAt.iso8601)\terased \(t.contactID)\tby \(t.actor)\t\(t.reason)") }
            for m in matches { print("flagged \(m.contactID): created with the address of \(m.erasedContactID), erased \(m.erasedAt.iso8601)") }
        }
    }

    struct Duplicates: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List likely duplicate contacts.")
        @OptionGroup var workspace: WorkspaceOptions
        @Option(help: "At most this many pairs.") var limit = 100

        func run() async throws {
            let pairs = try await workspace.openPortable().duplicateContacts(limit: limit)
            if workspace.json { return try printJSON(pairs) }
            if pairs.isEmpty { print("no likely duplicates") }
            for p in pairs { print("\(p.keepID)\t\(p.duplicateID)\t\(p.reason)") }
        }
    }

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge contact B into contact A (A is kept), or every pair with the same email (--same-email)."
        )
        @OptionGroup var workspace: WorkspaceOptions
        @Argument(help: "The contact to keep.") var keep: String?
        @Argument(help: "The duplicate to merge into it.") var duplicate: String?
        @Flag(help: "Merge every contact whose email equals an earlier-created one's into that one.") var sameEmail = false

        func validate() throws {
            if sameEmail != (keep == nil && duplicate == nil) { throw ValidationError("give KEEP and DUPLICATE, or --same-email alone") }
            if !sameEmail && (keep == nil || duplicate == nil) { throw ValidationError("give both KEEP and DUPLICATE") }
        }

        func run() async throws {
            let store = try await workspace.openPortable()
            if sameEmail {
                var merged = 0
                while true {
                    let pairs = try await store.duplicateContacts(limit: 1000).filter { $0.reason.hasPrefix("same email") }
                    if pairs.isEmpty { break }
                    var seen = Set<String>()
                    for p in pairs where !seen.contains(p.keepID) && !seen.contains(p.duplicateID) {
                        seen.insert(p.keepID)
                        seen.insert(p.duplicateID)
                        _ = try await store.mergeContacts(keep: p.keepID, duplicate: p.duplicateID, actor: .cli, at: SystemClock().now())
                        merged += 1
                    }
                }
                if workspace.json { return try printJSON(["merged": merged]) }
                return print("merged \(merged) contact(s) into an earlier record with the same email")
            }
            guard let keep, let duplicate else { return }
            do {
                let kept = try await store.mergeContacts(keep: keep, duplicate: duplicate, actor: .cli, at: SystemClock().now())
                if workspace.json { return try printJSON(["kept": kept.id, "merged": duplicate]) }
                print("merged \(duplicate) into \(kept.id)")
            } catch let e as StoreError {
                throw CLIFailure(e.description)
            }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "API tokens.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API token; it is shown once and stored hashed.")
        @OptionGroup var workspace: WorkspaceOptions
        @Option(help: "The user id or email the token acts as.") var user: String
        @Option(help: "admin, marketing, sales or viewer.") var role: String
        @Option(help: "A name to recognise the token by.") var name = "cli"

        func validate() throws {
            guard AccessRole(rawValue: role) != nil else { throw ValidationError("--role must be admin, marketing, sales or viewer") }
        }

        func run() async throws {
            let store = try await workspace.openFunnel()
            let userID = try await resolveUser(user, store)
            guard let accessRole = AccessRole(rawValue: role) else { throw CLIFailure("--role must be admin, marketing, sales or viewer") }
            let token = APIToken.generate()
            let id = try await store.createToken(
                userID: userID,
                role: accessRole,
                name: name,
                hash: APIToken.hash(token),
                actor: .cli,
                at: SystemClock().now()
            )
            if workspace.json { return try printJSON(["id": id, "token": token, "user_id": userID, "role": role]) }
            print(token)
            FileHandle.standardError.write(Data("token \(id) for \(userID) as \(role); store it now, it is not shown again\n".utf8))
        }
    }
}

/// A user id, given as id or email.
func resolveUser(_ text: String, _ store: any RecordStore) async throws -> String {
    if try await store.get(.users, id: text) != nil { return text }
    if let key = EmailAddress.key(text) {
        var q = ListQuery()
        q.limit = 1000
        for rec in try await store.list(.users, q).records where EmailAddress.key(rec["email"].text ?? "") == key { return rec.id }
    }
    throw CLIFailure("no user with id or email \"\(text)\"")
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Users.", subcommands: [Password.self])

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (read from stdin, or generated and printed).")
        @OptionGroup var workspace: WorkspaceOptions
        @Option(help: "The user id or email.") var user: String
        @Flag(help: "Generate a random password and print it.") var generate = false

        func run() async throws {
            let store = try await workspace.openFunnel()
            let id = try await resolveUser(user, store)
            let password: String
            if generate {
                password = randomPassword()
            } else {
                guard let line = readLine(strippingNewline: true), line.count >= 10 else {
                    throw CLIFailure("give the password on standard input (at least 10 characters), or use --generate")
                }
                password = line
            }
            try await store.setPasswordHash(userID: id, hash: PasswordHash.make(password), actor: .cli, at: SystemClock().now())
            if generate { print(password) }
        }
    }
}

func randomPassword() -> String {
    let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    var rng = SystemRandomNumberGenerator()
    return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
}

extension SubscriptionStatus: ExpressibleByArgument {}
