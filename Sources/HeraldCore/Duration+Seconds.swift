extension Duration {
    /// The duration in seconds, the fraction included (for arithmetic with `TimeInterval`s).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The whole nanoseconds of this duration, clamped to what an `Int64` holds (about 292 years).
    public var inNanoseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowAgain) = seconds.addingReportingOverflow(components.attoseconds / 1_000_000_000)
        guard !overflow, !overflowAgain else { return components.seconds < 0 ? .min : .max }
        return total
    }
}
