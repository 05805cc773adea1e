import Foundation
import Hummingbird
import SmarketingCore
import SmarketingStore

extension APIHandlers {
    /// `GET /api/v1/settings` and `PATCH /api/v1/settings` (admin; the role is checked by the caller).
    func settingsRoute(_ route: APIRoute, _ request: Request, _ actor: Actor) async throws -> Response {
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
        // Only if_version: nothing to change, but the version is still checked (a client can ask
        // "are my settings current?" the way it would change them).
        let result = try await store.changeSettings(values, ifVersion: ifVersion, actor: actor, at: clock.now())
        return RecordJSON.response(.ok, Self.settingsJSON(result.settings, result: result))
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
