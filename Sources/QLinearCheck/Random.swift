/// A small, fast, seedable generator (SplitMix64) so every test case draws fresh, reproducible data.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }

    /// Uniform in [−1, 1).
    public mutating func symmetric() -> Float { Float(Double(next() >> 11) * 0x1p-53 * 2 - 1) }
}
