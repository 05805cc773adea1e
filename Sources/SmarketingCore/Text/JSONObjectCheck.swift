import Foundation

/// Checks that a text is a JSON object (bundle `properties`, persona `rules`).
public enum JSONObjectCheck {
    /// Whether `text` parses as a JSON object.
    public static func isObject(_ text: String) -> Bool {
        if text == "{}" { return true }
        guard text.utf8.first == UInt8(ascii: "{") || text.trimmingSpaces.hasPrefix("{") else { return false }
        guard let data = text.data(using: .utf8),
            let value = try? JSONSerialization.jsonObject(with: data, options: [])
        else { return false }
        return value is [String: Any]
    }
}
