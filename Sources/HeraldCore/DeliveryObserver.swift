/// Told about every delivery the hub makes (metrics), whichever broker asked for it.
public protocol DeliveryObserver: Sendable {
    /// One event handed to `count` local connections; `fanOut` is how long handing it to their
    /// event loops took (the writes follow in each loop's next turn).
    func delivered(to count: Int, fanOut: Duration)
}
