//! The broker's SQL: opening the database and its schema, claiming messages, delivery
//! marks, and the clean-up of delivered and expired messages.

use super::*;

pub(super) fn open_connection(config: &Config) -> Result<Connection, String> {
    let cs = config.connection_string.as_str();
    let conn = if cs.starts_with("file:") {
        Connection::open_with_flags(cs, OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI)
    } else {
        if let Some(parent) = Path::new(cs).parent()
            && !parent.as_os_str().is_empty()
        {
            fs_err::create_dir_all(parent)
                .map_err(|e| format!("cannot create the database directory: {e}"))?;
        }
        Connection::open(cs)
    }
    .map_err(|e| format!("cannot open SQLite database {cs:?}: {e}"))?;
    let setup = || -> rusqlite::Result<Option<i64>> {
        conn.busy_timeout(config.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS pubsub_messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL,
                data BLOB NOT NULL,
                metadata TEXT NOT NULL,
                published_at INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS pubsub_messages_topic ON pubsub_messages (topic, id);
            CREATE TABLE IF NOT EXISTS pubsub_groups (
                topic TEXT NOT NULL,
                consumer_group TEXT NOT NULL,
                last_id INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (topic, consumer_group)
            );
            CREATE TABLE IF NOT EXISTS pubsub_pending (
                topic TEXT NOT NULL,
                consumer_group TEXT NOT NULL,
                message_id INTEGER NOT NULL,
                consumer TEXT NOT NULL,
                delivered_at INTEGER NOT NULL,
                deliveries INTEGER NOT NULL,
                PRIMARY KEY (topic, consumer_group, message_id)
            );
            CREATE INDEX IF NOT EXISTS pubsub_pending_due
                ON pubsub_pending (topic, consumer_group, delivered_at);
            CREATE TABLE IF NOT EXISTS pubsub_metadata (
                key TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL
            );",
        )?;
        conn.execute(
            "INSERT OR IGNORE INTO pubsub_metadata (key, value) VALUES ('schema', ?1)",
            params![SCHEMA.to_string()],
        )?;
        conn.query_row(
            "SELECT CAST(value AS INTEGER) FROM pubsub_metadata WHERE key = 'schema'",
            [],
            |r| r.get(0),
        )
        .optional()
    };
    let schema = setup().map_err(|e| format!("cannot prepare SQLite database {cs:?}: {e}"))?;
    if schema.unwrap_or(SCHEMA) > SCHEMA {
        return Err(format!(
            "SQLite database {cs:?} was written by a newer daprd (pub/sub schema {}); this one \
             knows schema {SCHEMA}",
            schema.unwrap_or_default()
        ));
    }
    Ok(conn)
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(super) fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

pub(super) fn metadata_json(metadata: &Metadata) -> String {
    let sorted: BTreeMap<&String, &String> = metadata.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_else(|_| "{}".to_string())
}

pub(super) fn decode(topic: &str, id: i64, data: Vec<u8>, metadata: &str) -> Message {
    Message {
        topic: topic.to_string(),
        data: Bytes::from(data),
        metadata: serde_json::from_str(metadata).unwrap_or_else(|e| {
            log::warn(
                scope::COMPONENTS,
                &format!(
                    "sqlite pub/sub: cannot read the metadata of message {id} of {topic}: {e}"
                ),
            );
            Metadata::new()
        }),
    }
}

/// Claims up to `limit` messages for the group: due ones first (not acknowledged within
/// `processingTimeout`, skipping those this process holds), then new ones. Takes the write
/// lock only when a read shows there is something to claim.
#[allow(clippy::too_many_arguments)]
pub(super) fn claim(
    conn: &mut Connection,
    topic: &str,
    group: &str,
    consumer: &str,
    limit: usize,
    held: &HashSet<i64>,
    now: i64,
    timeout: i64,
) -> rusqlite::Result<Vec<(i64, Message)>> {
    let due_before = now - timeout;
    let (newest, last, due): (Option<i64>, Option<i64>, bool) = conn.query_row(
        "SELECT (SELECT MAX(id) FROM pubsub_messages WHERE topic = ?1),
                (SELECT last_id FROM pubsub_groups WHERE topic = ?1 AND consumer_group = ?2),
                EXISTS (SELECT 1 FROM pubsub_pending p JOIN pubsub_messages m ON m.id = p.message_id
                        WHERE p.topic = ?1 AND p.consumer_group = ?2 AND p.delivered_at <= ?3)",
        params![topic, group, due_before],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let fresh = match (newest, last) {
        (Some(newest), Some(last)) => newest > last,
        (Some(_), None) => true,
        _ => false,
    };
    if !fresh && !due {
        return Ok(Vec::new());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::new();
    {
        let mut due_rows = tx.prepare_cached(
            "SELECT p.message_id, m.data, m.metadata FROM pubsub_pending p
               JOIN pubsub_messages m ON m.id = p.message_id
              WHERE p.topic = ?1 AND p.consumer_group = ?2 AND p.delivered_at <= ?3
              ORDER BY p.message_id LIMIT ?4",
        )?;
        let rows = due_rows.query_map(
            params![topic, group, due_before, (limit + held.len()) as i64],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )?;
        let mut redeliver = tx.prepare_cached(
            "UPDATE pubsub_pending SET consumer = ?4, delivered_at = ?5, deliveries = deliveries + 1
              WHERE topic = ?1 AND consumer_group = ?2 AND message_id = ?3",
        )?;
        for row in rows {
            let (id, data, metadata) = row?;
            if held.contains(&id) {
                continue;
            }
            if out.len() >= limit {
                break;
            }
            redeliver.execute(params![topic, group, id, consumer, now])?;
            out.push((id, decode(topic, id, data, &metadata)));
        }
    }
    if out.len() < limit {
        tx.execute(
            "INSERT OR IGNORE INTO pubsub_groups (topic, consumer_group, last_id, created_at)
             VALUES (?1, ?2, 0, ?3)",
            params![topic, group, now],
        )?;
        let last: i64 = tx.query_row(
            "SELECT last_id FROM pubsub_groups WHERE topic = ?1 AND consumer_group = ?2",
            params![topic, group],
            |r| r.get(0),
        )?;
        let mut new_rows = tx.prepare_cached(
            "SELECT id, data, metadata FROM pubsub_messages
              WHERE topic = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = new_rows.query_map(params![topic, last, (limit - out.len()) as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut pend = tx.prepare_cached(
            "INSERT OR REPLACE INTO pubsub_pending
                (topic, consumer_group, message_id, consumer, delivered_at, deliveries)
             VALUES (?1, ?2, ?3, ?4, ?5, 1)",
        )?;
        let mut newest = last;
        for row in rows {
            let (id, data, metadata) = row?;
            pend.execute(params![topic, group, id, consumer, now])?;
            newest = newest.max(id);
            out.push((id, decode(topic, id, data, &metadata)));
        }
        if newest > last {
            tx.execute(
                "UPDATE pubsub_groups SET last_id = ?3 WHERE topic = ?1 AND consumer_group = ?2",
                params![topic, group, newest],
            )?;
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Sets `delivered_at` of the group's pending rows `ids`.
pub(super) fn set_delivered_at(
    conn: &mut Connection,
    topic: &str,
    group: &str,
    ids: &[i64],
    at: i64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut st = tx.prepare_cached(
            "UPDATE pubsub_pending SET delivered_at = ?4
              WHERE topic = ?1 AND consumer_group = ?2 AND message_id = ?3",
        )?;
        for id in ids {
            st.execute(params![topic, group, id, at])?;
        }
    }
    tx.commit()
}

/// Deletes what every group of a topic has acknowledged, trims topics beyond `max_len`, and
/// drops pending rows whose message is gone.
pub(super) fn cleanup(conn: &mut Connection, max_len: Option<u64>) -> rusqlite::Result<usize> {
    // One transaction: no group can appear or claim between reading the groups and deleting.
    let conn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut deleted = 0;
    let topics: Vec<String> = conn
        .prepare_cached("SELECT DISTINCT topic FROM pubsub_groups")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for topic in &topics {
        let low: Option<i64> = conn.query_row(
            "SELECT MIN(COALESCE(
                        (SELECT MIN(p.message_id) - 1 FROM pubsub_pending p
                          WHERE p.topic = g.topic AND p.consumer_group = g.consumer_group),
                        g.last_id))
               FROM pubsub_groups g WHERE g.topic = ?1",
            params![topic],
            |r| r.get(0),
        )?;
        if let Some(low) = low {
            deleted += conn.execute(
                "DELETE FROM pubsub_messages WHERE topic = ?1 AND id <= ?2",
                params![topic, low],
            )?;
        }
    }
    if let Some(max_len) = max_len {
        let topics: Vec<String> = conn
            .prepare_cached("SELECT DISTINCT topic FROM pubsub_messages")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for topic in &topics {
            deleted += conn.execute(
                "DELETE FROM pubsub_messages WHERE topic = ?1 AND id <= (
                    SELECT id FROM pubsub_messages WHERE topic = ?1
                     ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                params![topic, max_len as i64],
            )?;
        }
        conn.execute(
            "DELETE FROM pubsub_pending WHERE NOT EXISTS
                (SELECT 1 FROM pubsub_messages m WHERE m.id = pubsub_pending.message_id)",
            [],
        )?;
    }
    conn.commit()?;
    Ok(deleted)
}
