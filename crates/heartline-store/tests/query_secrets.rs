//! Credentials in endpoint URLs (`?token=…`) are kept in the secret store like secret headers,
//! and rows an older Heartline wrote with them in clear are moved there once.

use sqlx::Connection;

use heartline_core::{Endpoint, EndpointId, Header};
use heartline_store::{header_key, query_key, Error, Secrets, Store};

mod common;
use common::{config_of, on_disk, raw, TempDir};

#[tokio::test]
async fn query_secrets_live_in_the_secret_store_like_headers() {
    let dir = TempDir::new("query-secrets");
    let db = dir.path("heartline.db");
    let store = Store::open(&db).await.unwrap();
    let secrets = Secrets::File(dir.path("secrets.json"));
    let mut feed = Endpoint::new(
        "feed",
        "wss://feed.example.com/ws?token=Q-T0KEN-5678&room=1",
    );
    feed.headers = vec![Header::new("Authorization", "Bearer H-T0KEN-1234")];
    let id = store.add_endpoint(&feed, &secrets).await.unwrap();

    let config = config_of(&db, id).await;
    assert!(
        config.contains(r#""url":"wss://feed.example.com/ws?token=&room=1""#)
            && config.contains(r#""secret_query":{"token":{"stored":true}}"#),
        "{config}"
    );
    assert_eq!(
        secrets.get(&query_key(id, "token")).unwrap().as_deref(),
        Some("Q-T0KEN-5678")
    );
    assert!(!on_disk(&db, "Q-T0KEN-5678").await);
    let all = store.endpoints(&secrets).await.unwrap();
    assert_eq!(all[0].endpoint, feed);
    assert!(all[0].missing_secrets.is_empty());
    // Readers that never ask the secret store see the parameter empty.
    let listed = store.export_endpoints().await.unwrap();
    assert_eq!(
        listed[0].endpoint.url,
        "wss://feed.example.com/ws?token=&room=1"
    );

    // An empty value keeps the stored one, as for a secret header; a new one replaces it.
    let mut kept = feed.clone();
    kept.url = "wss://feed.example.com/ws?token=&room=2".into();
    store.update_endpoint(id, &kept, &secrets).await.unwrap();
    let all = store.endpoints(&secrets).await.unwrap();
    assert_eq!(
        all[0].endpoint.url,
        "wss://feed.example.com/ws?token=Q-T0KEN-5678&room=2"
    );
    let mut replaced = feed.clone();
    replaced.url = "wss://feed.example.com/ws?token=NEW-T0KEN&room=1".into();
    store
        .update_endpoint(id, &replaced, &secrets)
        .await
        .unwrap();
    assert_eq!(
        store.endpoints(&secrets).await.unwrap()[0].endpoint.url,
        replaced.url
    );

    // A value the store lost is reported by parameter, not invented.
    secrets.delete(&query_key(id, "token")).unwrap();
    let lost = store.endpoints(&secrets).await.unwrap();
    assert_eq!(lost[0].missing_secrets, ["?token"]);
    assert_eq!(
        lost[0].endpoint.url,
        "wss://feed.example.com/ws?token=&room=1"
    );

    // One value per secret parameter: two different ones could not come back as they were.
    let twice = Endpoint::new("twice", "wss://h/ws?key=a1&key=b2");
    match store.add_endpoint(&twice, &secrets).await {
        Err(Error::Config(message)) => {
            assert!(
                message.contains("`key` is given twice") && !message.contains("a1"),
                "{message}"
            );
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }

    // Removing the endpoint removes its secrets.
    secrets.set(&query_key(id, "token"), "Q-AGAIN").unwrap();
    store.remove_endpoint(id, &secrets).await.unwrap();
    assert_eq!(secrets.get(&query_key(id, "token")).unwrap(), None);
    assert_eq!(secrets.get(&header_key(id, "Authorization")).unwrap(), None);
    store.close().await;
}

#[tokio::test]
async fn rows_written_with_a_query_secret_in_clear_are_moved_once() {
    // As long as a JWT: the rewritten row is shorter than the old one, so the new cell does
    // not cover all of the old one's bytes by itself.
    let token = format!("OLD-Q-{}", "T0KEN".repeat(40));
    // Any part of it left on disk is a leak; this one is where the old row starts it.
    let fragment = &token[..30];
    let dir = TempDir::new("query-secrets-move");
    let db = dir.path("heartline.db");
    let secrets = Secrets::File(dir.path("secrets.json"));
    Store::open(&db).await.unwrap().close().await;

    // The row exactly as the previous Heartline wrote it: the URL as typed, the header secret
    // `{ stored = true }` with its value in the secret store.
    let old = format!(
        r#"{{"name":"feed","url":"wss://feed.example.com/ws?token={token}&room=1","secret_headers":{{"Authorization":{{"stored":true}}}},"ping_interval":"10s"}}"#
    );
    let mut conn = raw(&db).await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO endpoints (name, config, created_at, updated_at) VALUES ('feed', ?, 1, 1) RETURNING id",
    )
    .bind(&old)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let id = EndpointId(u64::try_from(id).unwrap());
    secrets
        .set(&header_key(id, "Authorization"), "Bearer H-1")
        .unwrap();
    assert!(on_disk(&db, fragment).await, "the old row holds the token");

    let store = Store::open(&db).await.unwrap();
    let all = store.endpoints(&secrets).await.unwrap();
    let mut want = Endpoint::new(
        "feed",
        format!("wss://feed.example.com/ws?token={token}&room=1"),
    );
    want.headers = vec![Header::new("Authorization", "Bearer H-1")];
    want.heartbeat.ping_interval = std::time::Duration::from_secs(10);
    assert_eq!(
        all[0].endpoint, want,
        "the watched endpoint keeps its token"
    );
    assert!(all[0].missing_secrets.is_empty());

    let config = config_of(&db, id).await;
    assert!(!config.contains(fragment), "{config}");
    assert!(
        config.contains(r#""url":"wss://feed.example.com/ws?token=&room=1""#)
            && config.contains(r#""secret_query":{"token":{"stored":true}}"#)
            && config.contains(r#""ping_interval":"10s""#),
        "{config}"
    );
    assert_eq!(
        secrets.get(&query_key(id, "token")).unwrap().as_deref(),
        Some(token.as_str())
    );
    assert!(!on_disk(&db, fragment).await, "no copy left in the file");

    // Once: the rewritten row is left alone and reads the same.
    let again = store.endpoints(&secrets).await.unwrap();
    assert_eq!(again[0].endpoint, want);
    assert_eq!(config_of(&db, id).await, config);
    store.close().await;
}

#[tokio::test]
async fn a_secret_store_that_refuses_leaves_the_old_row_working_until_later() {
    let dir = TempDir::new("query-secrets-refused");
    let db = dir.path("heartline.db");
    Store::open(&db).await.unwrap().close().await;
    let url = "wss://feed.example.com/ws?token=OLD-T0KEN-4321";
    let old = format!(r#"{{"name":"feed","url":"{url}"}}"#);
    let mut conn = raw(&db).await;
    sqlx::query(
        "INSERT INTO endpoints (name, config, created_at, updated_at) VALUES ('feed', ?, 1, 1)",
    )
    .bind(&old)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    // A secrets file whose directory is a plain file: every read and write fails.
    std::fs::write(dir.path("blocker"), b"").unwrap();
    let broken = Secrets::File(dir.path("blocker").join("secrets.json"));
    let store = Store::open(&db).await.unwrap();
    let all = store.endpoints(&broken).await.unwrap();
    assert_eq!(all[0].endpoint.url, url);
    assert!(all[0].missing_secrets.is_empty());
    assert_eq!(config_of(&db, all[0].id).await, old);

    // With a secret store that answers, the move happens.
    let secrets = Secrets::File(dir.path("secrets.json"));
    let all = store.endpoints(&secrets).await.unwrap();
    assert_eq!(all[0].endpoint.url, url);
    assert!(!config_of(&db, all[0].id).await.contains("OLD-T0KEN"));
    store.close().await;
}
