//! Secret values for payloads (`{{secret:NAME}}`) are kept in the secret store like secret
//! headers: the row names them `{ stored = true }`, the database never holds a value.

use heartline_core::{Endpoint, SecretVar, Step};
use heartline_store::{var_key, Secrets, Store};

mod common;
use common::{config_of, on_disk, TempDir};

fn graphql() -> Endpoint {
    let mut e = Endpoint::new("gql", "wss://api.example.com/graphql");
    e.secret_vars = vec![
        SecretVar::new("token", "GQL-T0KEN-4321"),
        SecretVar::new("user", "USER-5678"),
    ];
    e.on_connect = vec![Step::from(
        r#"{"type":"connection_init","payload":{"authToken":"{{secret:token}}","u":"{{secret:user}}"}}"#,
    )];
    e
}

#[tokio::test]
async fn secret_vars_live_in_the_secret_store() {
    let dir = TempDir::new("secret-vars");
    let db = dir.path("heartline.db");
    let store = Store::open(&db).await.unwrap();
    let secrets = Secrets::File(dir.path("secrets.json"));
    let gql = graphql();
    let id = store.add_endpoint(&gql, &secrets).await.unwrap();

    let config = config_of(&db, id).await;
    assert!(
        config.contains(r#""secret_vars":{"token":{"stored":true},"user":{"stored":true}}"#)
            && config.contains("{{secret:token}}"),
        "{config}"
    );
    assert_eq!(
        secrets.get(&var_key(id, "token")).unwrap().as_deref(),
        Some("GQL-T0KEN-4321")
    );
    assert!(!on_disk(&db, "GQL-T0KEN-4321").await);
    assert!(!on_disk(&db, "USER-5678").await);
    let all = store.endpoints(&secrets).await.unwrap();
    assert_eq!(all[0].endpoint, gql);
    assert!(all[0].missing_secrets.is_empty());
    // Readers that never ask the secret store (exports) see no value.
    let listed = store.export_endpoints().await.unwrap();
    assert_eq!(
        listed[0].endpoint.secret_vars,
        [SecretVar::new("token", ""), SecretVar::new("user", "")]
    );

    // An empty value keeps the stored one; a new one replaces it.
    let mut kept = gql.clone();
    kept.secret_vars[0].value.clear();
    kept.secret_vars[1].value = "USER-NEW".into();
    store.update_endpoint(id, &kept, &secrets).await.unwrap();
    let all = store.endpoints(&secrets).await.unwrap();
    assert_eq!(
        all[0].endpoint.secret_vars,
        [
            SecretVar::new("token", "GQL-T0KEN-4321"),
            SecretVar::new("user", "USER-NEW")
        ]
    );

    // A value the store lost is reported by its placeholder, and left empty.
    secrets.delete(&var_key(id, "token")).unwrap();
    let lost = store.endpoints(&secrets).await.unwrap();
    assert_eq!(lost[0].missing_secrets, ["{{secret:token}}"]);
    assert_eq!(lost[0].endpoint.secret_vars[0], SecretVar::new("token", ""));

    // Removing the endpoint removes its secret values.
    secrets.set(&var_key(id, "token"), "AGAIN-1234").unwrap();
    store.remove_endpoint(id, &secrets).await.unwrap();
    assert_eq!(secrets.get(&var_key(id, "token")).unwrap(), None);
    assert_eq!(secrets.get(&var_key(id, "user")).unwrap(), None);
    store.close().await;
}

#[tokio::test]
async fn imported_secret_vars_are_kept_and_an_empty_one_keeps_the_stored_value() {
    let dir = TempDir::new("secret-vars-import");
    let db = dir.path("heartline.db");
    let store = Store::open(&db).await.unwrap();
    let secrets = Secrets::File(dir.path("secrets.json"));
    let gql = graphql();
    store
        .import_endpoints(std::slice::from_ref(&gql), &secrets)
        .await
        .unwrap();
    // A re-import of an exported file carries no values: the stored ones stay.
    let mut exported = gql.clone();
    for v in &mut exported.secret_vars {
        v.value.clear();
    }
    let report = store.import_endpoints(&[exported], &secrets).await.unwrap();
    assert_eq!(report.updated, ["gql"]);
    let all = store.endpoints(&secrets).await.unwrap();
    assert_eq!(all[0].endpoint, gql);
    assert!(!on_disk(&db, "GQL-T0KEN-4321").await);
    store.close().await;
}
