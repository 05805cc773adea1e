import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import ThrowawayPostgres

/// The backends the conformance suite runs on. Suites of a role run on every backend that
/// serves it (`Backend.allCases` for records and access); suites that need the whole store run
/// on `Backend.full`, which PostgreSQL joins when it serves every role.
enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    case postgres

    var description: String { rawValue }

    /// The backends that serve every role of the store.
    static let full: [Backend] = allCases

    /// A new, empty store of the record and access roles on a real database.
    func makeRoles() async throws -> RolesUnderTest {
        switch self {
        case .sqlite:
            let sut = try make()
            return RolesUnderTest(store: sut.store, reopen: { try sut.reopen() }, keep: sut)
        case .postgres:
            let url = try await ThrowawayPostgres.newDatabase()
            guard let location = PostgresStore.Location(url: url) else { throw StoreError.invalid("bad test URL \(url)") }
            let open: @Sendable () async throws -> any RoleStores = {
                try await PostgresStore(
                    location: location,
                    scoringModels: ScoringModelFile.parser,
                    handoverConfigs: HandoverConfigFile.parser
                )
            }
            return RolesUnderTest(store: try await open(), reopen: open, keep: nil)
        }
    }

    /// A new, empty store on a real database, and how to throw it away.
    func make() throws -> StoreUnderTest {
        switch self {
        case .postgres:
            throw StoreError.invalid("PostgreSQL does not serve every role of the store yet; use makeRoles()")
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-store-\(UUID())").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let open: @Sendable () throws -> any FunnelStore = {
                try SQLiteStore.workspace(path: dir + "/test.sqlite")
            }
            return StoreUnderTest(store: try open(), reopen: open) { try? FileManager.default.removeItem(atPath: dir) }
        }
    }
}

final class StoreUnderTest: Sendable {
    let store: any FunnelStore
    /// Opens the same database again, as a restarted process would.
    let reopen: @Sendable () throws -> any FunnelStore
    let cleanup: @Sendable () -> Void
    init(store: any FunnelStore, reopen: @escaping @Sendable () throws -> any FunnelStore, cleanup: @escaping @Sendable () -> Void) {
        self.store = store
        self.reopen = reopen
        self.cleanup = cleanup
    }
    deinit { cleanup() }
}

/// The roles both backends serve: every role of the store (vendor sync aside).
typealias RoleStores = FunnelStore

/// A store of those roles under test.
final class RolesUnderTest: Sendable {
    let store: any RoleStores
    /// Opens the same database again, as a restarted process (or a second instance) would.
    let reopen: @Sendable () async throws -> any RoleStores
    private let keep: StoreUnderTest?
    init(store: any RoleStores, reopen: @escaping @Sendable () async throws -> any RoleStores, keep: StoreUnderTest?) {
        self.store = store
        self.reopen = reopen
        self.keep = keep
    }
}

let t0 = Timestamp(seconds: 1_767_225_600)  // 2026-01-01T00:00:00Z
let tester = Actor(userID: "tester", role: .admin, via: "test")

func record(_ r: Resource, _ fields: [String: FieldValue]) -> Record {
    var rec = Record(r, values: Array(repeating: .null, count: r.schema.fields.count))
    for (k, v) in fields {
        precondition(r.schema.index[k] != nil, "no field \(k)")
        rec[k] = v
    }
    return rec
}

func ts(_ text: String) -> FieldValue { .timestamp(try! Timestamp.parse(text).get()) }

/// A small workspace: a user, an account, a campaign and two contacts.
func seed(_ store: any RecordStore) async throws {
    try await store.create(record(.users, ["id": .text("u1"), "email": .text("rep@us.example"), "team": .text("sales")]), actor: tester, at: t0)
    try await store.create(record(.accounts, ["id": .text("a1"), "name": .text("Acme"), "domain": .text("acme.example")]), actor: tester, at: t0)
    try await store.create(record(.campaigns, ["id": .text("cmp1"), "name": .text("Spring"), "channel": .text("email")]), actor: tester, at: t0)
    try await store.create(
        record(
            .contacts,
            [
                "id": .text("c1"), "email": .text("Anna@Acme.example"), "first_name": .text("Anna"), "account_id": .text("a1"),
                "created_at": ts("2026-01-01T00:00:00Z"), "lifecycle_stage": .text("lead"),
            ]
        ),
        actor: tester,
        at: t0
    )
    try await store.create(
        record(
            .contacts,
            [
                "id": .text("c2"), "email": .text("bo@other.example"), "last_name": .text("Berg"), "created_at": ts("2026-01-02T00:00:00Z"),
                "lifecycle_stage": .text("mql"),
            ]
        ),
        actor: tester,
        at: t0
    )
}

func event(
    _ id: String,
    contact: String? = nil,
    email: String? = nil,
    at: String = "2026-02-01T10:00:00Z",
    campaign: String? = nil,
    company: String? = nil
) -> Result<IncomingEvent, EventRejection> {
    var fields = ["id": id, "type": "page_view", "occurred_at": at]
    if let contact { fields["contact_id"] = contact }
    if let email { fields["email"] = email }
    if let campaign { fields["campaign_id"] = campaign }
    if let company { fields["company"] = company }
    return EventPayload(fields: fields).validate()
}
