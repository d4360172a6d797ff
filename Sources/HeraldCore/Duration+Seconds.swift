extension Duration {
    /// The duration in seconds, the fraction included (for arithmetic with `TimeInterval`s).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
