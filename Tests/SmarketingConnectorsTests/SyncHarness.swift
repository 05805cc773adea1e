import Crypto
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Synchronization
import Testing
import ThrowawayPostgres
import VendorFakes

/// The vendor suites run one after another: each starts fake vendors and syncs thousands of
/// records, and all of them at once beside the rest of the suite starved the HTTP tests.
@Suite("Vendor connectors", .serialized) struct VendorConnectorSuites {}

/// A clock the test moves.
final class TestClock: WorkspaceClock {
    let instant: Mutex<Timestamp>
    init(_ t: Timestamp) { instant = Mutex(t) }
    func now() -> Timestamp { instant.withLock { $0 } }
    func advance(_ ms: Int64) { instant.withLock { $0 = $0.adding(milliseconds: ms) } }
}

/// The two store backends a sync test runs on.
enum SyncBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A real workspace database (a SQLite file in a temporary folder, or a new database on the
/// tests' throwaway PostgreSQL) with the connection service on it.
final class SyncWorkspace: Sendable {
    let dir: String
    let store: any FunnelStore
    let clock: TestClock
    let service: ConnectionService
    static let actor = Actor(userID: "sync-test", role: .admin, via: "test")

    /// A SQLite workspace.
    convenience init() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-sync-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        self.init(dir: dir, store: try SQLiteStore.workspace(path: dir + "/ws.sqlite"))
    }

    /// A workspace on `backend`.
    static func make(_ backend: SyncBackend) async throws -> SyncWorkspace {
        switch backend {
        case .sqlite: return try SyncWorkspace()
        case .postgres:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-sync-\(UUID())").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return SyncWorkspace(dir: dir, store: try await WorkspaceStores.open(try await ThrowawayPostgres.newDatabase()))
        }
    }

    init(dir: String, store: any FunnelStore) {
        self.dir = dir
        self.store = store
        clock = TestClock(FakeData.start.adding(milliseconds: 86_400_000 * 60))
        service = ConnectionService(store: store, box: SecretBox(key: SymmetricKey(size: .bits256)), clock: clock)
    }

    deinit {
        WorkspaceStores.close(store)
        try? FileManager.default.removeItem(atPath: dir)
    }

    func connectHubSpot(_ name: String, _ server: FakeServerHandle, token: String, limit: Int = 100, searchWindow: Int = 10_000) async throws {
        _ = try await service.add(
            name: name,
            vendor: .hubspot,
            baseURL: server.baseURL,
            secrets: ["access_token": token],
            settings: ["rate_limit": String(limit), "rate_window_seconds": "10", "search_window": String(searchWindow)],
            actor: Self.actor
        )
    }

    func connectSalesforce(_ name: String, _ server: FakeServerHandle, fake: FakeSalesforce) async throws {
        _ = try await service.add(
            name: name,
            vendor: .salesforce,
            baseURL: server.baseURL,
            secrets: ["client_id": fake.clientID, "client_secret": fake.clientSecret],
            settings: ["rate_limit": "1000", "rate_window_seconds": "1"],
            actor: Self.actor
        )
    }

    /// A small scoring model: page views and form fills make MQLs.
    func applyModel() async throws {
        let text = """
            half_life: 365d
            grades: {A: 10, B: 5, C: rest}
            fit:
              - {id: cmo, attribute: contact.title, in: [CMO, CEO], points: 10}
            engagement:
              - {id: view, types: [page_view], points: 20}
              - {id: form, types: [form_submit], points: 60}
            mql: engagement >= 50
            """
        _ = try await store.applyScoringModel(text: text, model: try ScoringModelFile.read(text).get(), comment: "", actor: Self.actor, at: clock.now(), progress: nil)
    }

    func sync(_ name: String, full: Bool = false) async throws -> SyncRunReport {
        try await service.sync(name, full: full, actor: Self.actor)
    }

    /// Contacts by email key (every contact, all pages).
    func contacts() async throws -> [Record] {
        var out: [Record] = []
        var q = ListQuery()
        q.limit = 1000
        while true {
            let page = try await store.list(.contacts, q)
            out += page.records
            guard let next = page.nextCursor else { break }
            q.cursor = next
        }
        return out
    }
}
