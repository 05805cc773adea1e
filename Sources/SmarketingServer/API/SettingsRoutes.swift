import Foundation
import Hummingbird
import SmarketingCore
import SmarketingStore

extension APIHandlers {
    /// `GET /api/v1/settings` and `PATCH /api/v1/settings` (admin; the role is checked by the caller).
    func settingsRoute(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        if route.kind == .settingsJob {
            let id = try pathID(context)
            return try json(.ok, try jobs.get(id).orThrow(Problem(.notFound, "no settings job \"\(id.prefix(80))\" (jobs are kept until the server restarts)")))
        }
        if route.kind == .settings {
            return RecordJSON.response(.ok, Self.settingsJSON(try await store.workspaceSettings(), result: nil))
        }
        // The body was checked against the document: an object of setting keys (names as text,
        // numbers as numbers, each within the core's ranges) and an optional if_version.
        let object = try jsonObject(try await body(request))
        var values: [String: String] = [:]
        var ifVersion: Int?
        for (key, value) in object {
            if key == "if_version" {
                guard case .number(let n) = value, n >= 0, n <= Double(Int32.max), n == n.rounded() else {
                    throw Problem(.unprocessableContent, "if_version must be a whole number from 0")
                }
                ifVersion = Int(n)
                continue
            }
            switch value {
            case .string(let text): values[key] = text
            case .number(let n) where n.isFinite: values[key] = FieldValue.format(n)
            default: throw Problem(.unprocessableContent, "\(key.prefix(80)) must be text or a number")
            }
        }
        // ?background=true: a change that rebuilds the aggregates runs as a job with progress
        // (202 and its Location); the old figures keep serving until it commits.
        if request.uri.queryParameters.get("background") == "true" {
            let current = try await store.workspaceSettings()
            if case .success(let planned) = current.settings.changes(values.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }),
                planned.contains(where: { $0.key.rebuildsAggregates }), ifVersion.map({ $0 == current.version }) ?? true
            {
                let id = startSettingsJob(values, ifVersion: ifVersion, actor: actor, at: clock.now())
                var response = try json(.accepted, jobs.get(id))
                response.headers[.location] = "/api/v1/settings/jobs/" + id
                return response
            }
        }
        // Only if_version: nothing to change, but the version is still checked (a client can ask
        // "are my settings current?" the way it would change them).
        let result = try await store.changeSettings(values, ifVersion: ifVersion, actor: actor, at: clock.now())
        return RecordJSON.response(.ok, Self.settingsJSON(result.settings, result: result))
    }

    /// Runs a settings change in the background; the job reports the rebuild's phase and progress.
    func startSettingsJob(_ values: [String: String], ifVersion: Int?, actor: Actor, at: Timestamp) -> String {
        let id = "job-" + UUID().uuidString.lowercased()
        let jobs = self.jobs
        let store = self.store
        jobs.start(id)
        Task.detached {
            do {
                let result = try await store.changeSettings(values, ifVersion: ifVersion, actor: actor, at: at) { p in
                    jobs.update(id) {
                        $0.phase = p.phase
                        $0.done = p.done
                        $0.total = p.total
                    }
                }
                let message =
                    result.changes.isEmpty
                    ? "Nothing changed."
                    : result.changes.map { "\($0.key.rawValue) \($0.old) → \($0.new)" }.joined(separator: "; ")
                        + (result.rebuiltAggregates ? ". The KPI figures were rebuilt." : ".")
                jobs.update(id) {
                    $0.status = "done"
                    $0.phase = "done"
                    $0.message = message
                }
            } catch {
                let text = (error as? StoreError)?.description ?? "\(error)"
                jobs.update(id) {
                    $0.status = "failed"
                    $0.error = text
                }
            }
        }
        return id
    }

    /// The settings as the API writes them (keys in order).
    static func settingsJSON(_ s: VersionedSettings, result: SettingsChangeResult?) -> String {
        var settings: [String: JSONValue] = [:]
        for key in WorkspaceSettingKey.allCases { settings[key.rawValue] = .string(s.settings[key]) }
        var out: [String: JSONValue] = ["version": .number(Double(s.version)), "settings": .object(settings)]
        if let result {
            out["changes"] = .array(
                result.changes.map { .object(["key": .string($0.key.rawValue), "old": .string($0.old), "new": .string($0.new)]) }
            )
            out["rebuilt_aggregates"] = .bool(result.rebuiltAggregates)
        }
        return JSONValue.object(out).compactText
    }
}
