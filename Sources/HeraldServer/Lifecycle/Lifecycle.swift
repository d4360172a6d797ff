import Synchronization

/// Whether the node is accepting clients: `/ready` and the connect gate read it; draining sets it.
final class Lifecycle: Sendable {
    private let draining = Atomic<Bool>(false)

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func startDraining() { draining.store(true, ordering: .relaxed) }
}
