import PostgresNIO

/// Numbers and keeps entity updates (`PostgresBroker.number`): prepared once per connection, so
/// the database plans it once, not on every publish transaction (planning was about half of its
/// cost per event; docs/PERFORMANCE.md).
///
/// Each entity's row in `herald_streams` is upserted once with its count (locked in entity order,
/// so two transactions never wait for each other the wrong way round); an entity with no row
/// starts a new stream, `seq` 1 under the cluster's epoch for new streams (`herald_meta`'s
/// `stream_epoch`). Each update gets the next `seq` of its entity in input order, and its push —
/// cut at the `seq` — is kept whole in `herald_events`. Answers each update's `seq` and its
/// stream's epoch, in input order.
struct NumberEvents: PostgresPreparedStatement {
    static let sql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                WITH ORDINALITY AS i (entity_id, before_seq, after_seq, position)
        ), counts AS (
            SELECT entity_id, count(*) AS n FROM input GROUP BY entity_id
        ), head AS (
            INSERT INTO herald_streams AS s (entity_id, latest_seq, epoch)
            SELECT entity_id, n, (SELECT value FROM herald_meta WHERE key = 'stream_epoch') FROM counts ORDER BY entity_id
            ON CONFLICT (entity_id) DO UPDATE SET latest_seq = s.latest_seq + excluded.latest_seq, published_at = clock_timestamp()
            RETURNING entity_id, latest_seq, epoch
        ), numbered AS (
            SELECT i.position, i.entity_id, h.epoch,
                h.latest_seq - c.n + row_number() OVER (PARTITION BY i.entity_id ORDER BY i.position) AS seq,
                i.before_seq, i.after_seq
            FROM input AS i JOIN counts AS c USING (entity_id) JOIN head AS h USING (entity_id)
        ), event AS (
            INSERT INTO herald_events (entity_id, seq, push) SELECT entity_id, seq, before_seq || seq || after_seq FROM numbered
        )
        SELECT seq, epoch FROM numbered ORDER BY position
        """
    typealias Row = (Int, String)

    let entities: [String]
    let beforeSeqs: [String]
    let afterSeqs: [String]

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(entities)
        bindings.append(beforeSeqs)
        bindings.append(afterSeqs)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// Announces sealed notices on the cluster's channel, in order, in one statement; prepared once
/// per connection.
struct AnnounceNotices: PostgresPreparedStatement {
    static let sql = "SELECT pg_notify($1, n) FROM unnest($2::text[]) AS n"
    typealias Row = ()

    let sealed: [String]

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(Notice.channel)
        bindings.append(sealed)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {}
}
