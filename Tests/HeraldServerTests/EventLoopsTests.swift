import Testing

@testable import HeraldServer

@Suite struct EventLoopsTests {
    @Test func cpuListsAreCounted() {
        #expect(EventLoops.cpuCount(inList: "\t0") == 1)
        #expect(EventLoops.cpuCount(inList: "\t0-1") == 2)
        #expect(EventLoops.cpuCount(inList: "0-3,8,10-11") == 7)
        #expect(EventLoops.cpuCount(inList: "3-1") == nil)
        #expect(EventLoops.cpuCount(inList: "x") == nil)
        #expect(EventLoops.usableCores >= 1)
    }
}
