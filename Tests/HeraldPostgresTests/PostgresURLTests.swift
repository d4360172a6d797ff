import HeraldCore
import HeraldPostgres
import Testing

@Suite struct PostgresURLTests {
    @Test func aFullURLIsRead() throws {
        let url = try PostgresURL("postgres://herald:s%40cret@db.internal:6543/events?sslmode=verify-full")
        #expect(url.host == "db.internal" && url.port == 6543 && url.username == "herald" && url.password == "s@cret")
        #expect(url.database == "events" && url.tls == .verifyFull)
        #expect("\(url)" == "postgres://herald@db.internal:6543/events?sslmode=verify-full", "no password in the description")
    }

    @Test func defaultsAreLibpqs() throws {
        let url = try PostgresURL("postgresql://herald@localhost/herald")
        #expect(url.port == 5432 && url.password == nil && url.tls == .prefer)
    }

    @Test(arguments: [
        ("mysql://u@h/d", "not a postgres:// URL"),
        ("postgres://u@/d", "the URL names no host"),
        ("postgres://h/d", "the URL names no user"),
        ("postgres://u@h", "the URL names no database"),
        ("postgres://u@h/a/b", "the URL names no database"),
        ("postgres://u@h/d?sslmode=always", "sslmode must be one of disable, prefer, require, verify-full"),
        ("postgres://u@h/d?pool=5", "unknown parameter pool"),
    ])
    func badURLsAreRefusedSayingWhatIsWrong(text: String, problem: String) {
        #expect {
            _ = try PostgresURL(text)
        } throws: { error in
            let error = error as? PostgresBrokerError
            return error?.code == .invalidURL && error?.message.hasPrefix(problem) == true
                && error?.message.hasSuffix("; expected postgres://user:password@host:5432/database") == true
        }
    }
}
