//! The database schema and its migrations, run at start-up and at every reconnection (a
//! database recreated meanwhile gets its table back). Each migration runs once, in a
//! transaction, recorded in `siohub_schema_migrations`; nodes starting together take turns
//! by an advisory lock.

use tokio_postgres::Client;

/// The advisory lock the nodes take while they migrate ("SIOHUB" in ASCII).
const MIGRATION_LOCK: i64 = 0x5349_4F48_5542;

/// The migrations, in order: (version, SQL).
const MIGRATIONS: [(i32, &str); 2] = [
    (
        1,
        "CREATE TABLE siohub_subscriptions (
            user_id    text        NOT NULL,
            namespace  text        NOT NULL,
            room       text        NOT NULL,
            options    jsonb       NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, namespace, room)
        )",
    ),
    (
        // Keeps a room unless the user keeps p_max rooms already; one statement, so that
        // it pipelines. The user's lock makes two nodes' joins take turns, and a volatile
        // function reads with a fresh snapshot after it, so the bound is exact.
        2,
        "CREATE FUNCTION siohub_keep_subscription(
            p_namespace text, p_user text, p_room text, p_options jsonb, p_max integer
        ) RETURNS text LANGUAGE plpgsql VOLATILE AS $fn$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended(p_user, 0));
            UPDATE siohub_subscriptions
               SET options = p_options, updated_at = now()
             WHERE user_id = p_user AND namespace = p_namespace AND room = p_room;
            IF FOUND THEN
                RETURN 'updated';
            END IF;
            IF (SELECT count(*) FROM siohub_subscriptions WHERE user_id = p_user) >= p_max THEN
                RETURN 'over_limit';
            END IF;
            INSERT INTO siohub_subscriptions (user_id, namespace, room, options)
                 VALUES (p_user, p_namespace, p_room, p_options);
            RETURN 'inserted';
        END
        $fn$",
    ),
];

/// Brings the schema up to date.
pub(super) async fn migrate(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let migrated = apply_missing(client).await;
    // On a failure the connection is dropped, which releases the lock too.
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    migrated
}

async fn apply_missing(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS siohub_schema_migrations (
                version    integer     PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let applied: Vec<i32> = client
        .query("SELECT version FROM siohub_schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for (version, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        log::info!("subscriptions: applying migration {version}");
        client
            .batch_execute(&format!(
                "BEGIN; {sql}; INSERT INTO siohub_schema_migrations (version) VALUES ({version}); COMMIT;"
            ))
            .await?;
    }
    Ok(())
}
