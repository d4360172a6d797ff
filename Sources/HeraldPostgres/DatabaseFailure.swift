import PostgresNIO

/// What went wrong with the database, for a log line or an error message: the error's code and
/// the server's message, never the statement or its values (pushes are users' data).
func describe(_ error: any Error) -> String {
    if let error = error as? PostgresTransactionError, let cause = error.beginError ?? error.closureError ?? error.commitError {
        return describe(cause)
    }
    guard let error = error as? PSQLError else { return "\(error)" }
    var text = "\(error.code)"
    if let state = error.serverInfo?[.sqlState], let message = error.serverInfo?[.message] { text += " \(state): \(message)" }
    if let underlying = error.underlying { text += " (\(underlying))" }
    return text
}

/// Whether the database answered a statement of a transaction with an error: it then rolled the
/// transaction back, so nothing of it was written (unlike a lost connection or a timeout, after
/// which it may have committed).
func wasRefusedByTheDatabase(_ error: any Error) -> Bool {
    guard let error = error as? PostgresTransactionError else { return false }
    return [error.beginError, error.closureError, error.commitError].contains { ($0 as? PSQLError)?.serverInfo?[.sqlState] != nil }
}
