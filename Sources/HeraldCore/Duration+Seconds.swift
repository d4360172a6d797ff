extension Duration {
    /// The duration in seconds, the fraction included (for arithmetic with `TimeInterval`s).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The whole nanoseconds of this duration.
    public var inNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
