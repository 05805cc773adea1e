import ArgumentParser
import Foundation
import SmarketingCore
import SmarketingServer
import SmarketingStore

struct Contacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One record per person.", subcommands: [Duplicates.self, Merge.self])

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
