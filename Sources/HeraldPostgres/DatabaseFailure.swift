import PostgresNIO

/// What went wrong with the database, for a log line or an error message: the error's code and
/// the server's message, never the statement or its values (pushes are users' data).
func describe(_ error: any Error) -> String {
    guard let error = error as? PSQLError else { return "\(error)" }
    var text = "\(error.code)"
    if let state = error.serverInfo?[.sqlState], let message = error.serverInfo?[.message] { text += " \(state): \(message)" }
    if let underlying = error.underlying { text += " (\(underlying))" }
    return text
}
