import Foundation

/// A small, fast, reproducible random generator (SplitMix64): the same seed gives the same
/// demo workspace on every machine and Swift version, which `SystemRandomNumberGenerator`
/// cannot promise.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// Uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 1e-300)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * unit())
    }

    /// Lognormal with the given median and shape.
    public mutating func lognormal(median: Double, sigma: Double) -> Double { median * exp(sigma * normal()) }

    /// Exponential with the given mean.
    public mutating func exponential(mean: Double) -> Double { -mean * log(1 - unit()) }

    /// An element of `items` chosen with the given weights.
    public mutating func pick<T>(_ items: [T], weights: [Double]) -> T {
        let total = weights.reduce(0, +)
        var x = unit() * total
        for (item, w) in zip(items, weights) {
            x -= w
            if x < 0 { return item }
        }
        return items[items.count - 1]
    }

    /// An element of a non-empty array, uniformly.
    public mutating func element<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
