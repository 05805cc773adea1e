/// Encodable with every property written, nil ones as JSON `null`: a documented schema keeps
/// its keys whatever the values (synthesized conformances leave nil properties out). The keys
/// are the property names; the encoder's key strategy (snake_case) applies as usual.
public protocol ExplicitNullEncodable: Encodable {}

extension ExplicitNullEncodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: PropertyKey.self)
        for child in Mirror(reflecting: self).children {
            guard let label = child.label else { continue }
            let key = PropertyKey(stringValue: label)
            var value: Any = child.value
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional {
                guard let wrapped = mirror.children.first?.value else {
                    try container.encodeNil(forKey: key)
                    continue
                }
                value = wrapped
            }
            guard let encodable = value as? any Encodable else { continue }
            try encodable.encode(to: container.superEncoder(forKey: key))
        }
    }
}

/// A coding key named by a property.
public struct PropertyKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}
