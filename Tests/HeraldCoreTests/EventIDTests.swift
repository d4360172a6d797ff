import Foundation
import Testing

@testable import HeraldCore

@Suite struct EventIDTests {
    @Test func bitsAreWrittenAsUUIDText() {
        #expect(EventID.format(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210) == "01234567-89ab-cdef-fedc-ba9876543210")
        #expect(EventID.format(high: 0, low: 0) == "00000000-0000-0000-0000-000000000000")
    }

    @Test func idsAreDistinctVersion4UUIDs() throws {
        let ids = (0..<1_000).map { _ in EventID.next() }
        #expect(Set(ids).count == ids.count)
        let pattern = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        for id in ids {
            #expect(id.wholeMatch(of: pattern) != nil, "\(id)")
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id)
        }
    }
}
