import Foundation
import Logging
import SmarketingCore
import Synchronization

/// One JSON object per log line on standard error (`smarketing serve --log-format json`), for
/// log shippers: `ts`, `level`, `logger`, `message`, then the metadata (a request's lines carry
/// its `request_id`). Written by hand: swift-log ships only a text handler, and no package of
/// the machine's list adds a JSON one. Metadata never holds secrets: tokens, passwords and
/// vendor credentials are not put into log metadata anywhere in smarketing.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    /// Where lines go (standard error; a test's collector).
    let write: @Sendable (String) -> Void

    static let stderrLock = Mutex(())

    public init(label: String, write: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.write =
            write ?? { line in
                JSONLogHandler.stderrLock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
            }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [
            "ts": .string(Self.timestamp()), "level": .string(event.level.rawValue), "logger": .string(label), "message": .string("\(event.message)"),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (k, v) in merged where fields[k] == nil { fields[k] = Self.json(v) }
        write(JSONValue.object(fields).compactText + "\n")
    }

    static func json(_ v: Logger.Metadata.Value) -> JSONValue {
        switch v {
        case .string(let s): return .string(s)
        case .stringConvertible(let c): return .string(c.description)
        case .array(let a): return .array(a.map(json))
        case .dictionary(let d): return .object(d.mapValues(json))
        }
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }
}
