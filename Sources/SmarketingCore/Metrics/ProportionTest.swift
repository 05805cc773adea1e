import Foundation

/// Two-proportion z-test (pooled variance), one-sided: does group 1 convert less than group 2?
/// Written by hand: a closed formula with the normal tail from `erfc`, no statistics library needed.
public enum ProportionTest {
    public struct Result: Sendable, Equatable {
        public var z: Double
        /// One-sided p-value of "group 1 converts less".
        public var pValue: Double
    }

    /// nil when the normal approximation does not hold (any group with fewer than 5 expected
    /// conversions or non-conversions under the pooled rate) or nothing varies.
    public static func lower(converted s1: Int64, of n1: Int64, than s2: Int64, of n2: Int64) -> Result? {
        guard n1 > 0, n2 > 0 else { return nil }
        let p = Double(s1 + s2) / Double(n1 + n2)
        for n in [n1, n2] where Double(n) * p < 5 || Double(n) * (1 - p) < 5 { return nil }
        let se = (p * (1 - p) * (1 / Double(n1) + 1 / Double(n2))).squareRoot()
        guard se > 0 else { return nil }
        let z = (Double(s1) / Double(n1) - Double(s2) / Double(n2)) / se
        return Result(z: z, pValue: normalCDF(z))
    }

    /// Φ(x), the standard normal distribution function.
    public static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
}
