//! The Secrets Manager `Config` on moto: cached for its TTL, rotated without breaking cursors in
//! flight, and a failed re-read keeps the last good value.

use std::time::Duration;

use functions::adapters::aws::SecretsManagerConfig;
use functions::adapters::secret_document::{KeyEntry, SecretDocument};
use functions::cursor;
use functions::domain::ItemId;
use functions::ports::Config;
use testkit::Moto;
use testkit::aws as aws_env;

fn key(id: &str, byte: u8) -> KeyEntry {
    use base64::Engine;
    KeyEntry {
        id: id.into(),
        secret_b64: base64::engine::general_purpose::STANDARD.encode([byte; 32]),
    }
}

fn doc(keys: Vec<KeyEntry>) -> String {
    serde_json::to_string(&SecretDocument { cursor_keys: keys }).unwrap()
}

#[tokio::test]
async fn rotation_reaches_warm_functions_within_the_ttl_and_old_cursors_keep_working() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_secret(&sdk, &doc(vec![key("k1", 1)])).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let ttl = Duration::from_millis(300);
    let config = SecretsManagerConfig::load(client.clone(), aws_env::SECRET, ttl)
        .await
        .unwrap();
    let now = 1_795_300_000;
    let keys = config.cursor_keys().await.unwrap();
    assert_eq!(keys.current.id, "k1");
    let old_cursor = cursor::encode(&keys, "alice", ItemId::generate(), now);

    // Rotate: the new key first, the old one kept for verifying.
    let rotated = doc(vec![key("k2", 2), key("k1", 1)]);
    client
        .put_secret_value()
        .secret_id(aws_env::SECRET)
        .secret_string(rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(
        config.cursor_keys().await.unwrap().current.id,
        "k1",
        "cached within the TTL"
    );
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let keys = config.cursor_keys().await.unwrap();
    assert_eq!(keys.current.id, "k2", "re-read after the TTL");
    assert!(
        cursor::decode(&keys, "alice", &old_cursor, now).is_ok(),
        "cursors signed with k1 still verify"
    );
    let new_cursor = cursor::encode(&keys, "alice", ItemId::generate(), now);
    assert!(new_cursor != old_cursor);

    // The secret becomes unreadable: the last good value keeps serving.
    client
        .delete_secret()
        .secret_id(aws_env::SECRET)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert_eq!(config.cursor_keys().await.unwrap().current.id, "k2");
}

#[tokio::test]
async fn a_malformed_secret_is_refused_without_quoting_it() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_secret(&sdk, r#"{"cursor_keys": "SUPER-SECRET-VALUE"}"#).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let err = SecretsManagerConfig::load(client, aws_env::SECRET, Duration::from_secs(300))
        .await
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(message.contains("wrong shape"), "{message}");
    assert!(!message.contains("SUPER-SECRET-VALUE"), "{message}");
}

/// The staging labels of one version of the secret, sorted.
async fn stages_of(client: &aws_sdk_secretsmanager::Client, version: &str) -> Vec<String> {
    let listed = client
        .list_secret_version_ids()
        .secret_id(aws_env::SECRET)
        .include_deprecated(true)
        .send()
        .await
        .unwrap();
    let mut stages: Vec<String> = listed
        .versions()
        .iter()
        .find(|v| v.version_id() == Some(version))
        .unwrap_or_else(|| panic!("version {version} is listed"))
        .version_stages()
        .to_vec();
    stages.sort();
    stages
}

async fn put(client: &aws_sdk_secretsmanager::Client, document: String) {
    client
        .put_secret_value()
        .secret_id(aws_env::SECRET)
        .secret_string(document)
        .send()
        .await
        .unwrap();
}

/// The rotation of `docs/operations.md` (prepend a key, then drop the oldest) on a secret made
/// as Terraform makes it. The version Terraform wrote loses AWSCURRENT, then AWSPREVIOUS, but keeps the
/// stack's own label, so the provider's read (GetSecretValue by its version id) still finds it
/// and the next apply has nothing to put back.
///
/// moto 5.2.5 leaves only AWSPREVIOUS on the version AWSCURRENT leaves, dropping its other
/// labels, where AWS moves AWSPREVIOUS alone (PutSecretValue's VersionStages); scripts/moto-env
/// makes moto do as AWS does.
#[tokio::test]
async fn the_documented_rotation_keeps_terraform_s_version_and_retires_the_old_key() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    let initial = aws_env::create_secret_as_terraform(&sdk, &doc(vec![key("k1", 1)])).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    assert_eq!(
        stages_of(&client, &initial).await,
        ["AWSCURRENT", aws_env::TERRAFORM_STAGE]
    );
    let ttl = Duration::from_millis(200);
    let config = SecretsManagerConfig::load(client.clone(), aws_env::SECRET, ttl)
        .await
        .unwrap();
    let now = 1_795_300_000;
    let keys = config.cursor_keys().await.unwrap();
    assert_eq!(keys.current.id, "k1");
    let old_cursor = cursor::encode(&keys, "alice", ItemId::generate(), now);

    // Rotation, step 1: the new key first, the old one kept for verifying.
    put(&client, doc(vec![key("k2", 2), key("k1", 1)])).await;
    assert_eq!(
        stages_of(&client, &initial).await,
        ["AWSPREVIOUS", aws_env::TERRAFORM_STAGE]
    );
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let keys = config.cursor_keys().await.unwrap();
    assert_eq!(keys.current.id, "k2");
    assert!(
        cursor::decode(&keys, "alice", &old_cursor, now).is_ok(),
        "cursors signed with k1 still verify"
    );

    // Step 2, a day later: drop the oldest key. AWSPREVIOUS moves off Terraform's version too.
    put(&client, doc(vec![key("k2", 2)])).await;
    assert_eq!(
        stages_of(&client, &initial).await,
        [aws_env::TERRAFORM_STAGE],
        "Terraform's version keeps the stack's label after both rotations"
    );
    let read = client
        .get_secret_value()
        .secret_id(aws_env::SECRET)
        .version_id(&initial)
        .send()
        .await
        .expect("the provider's read of Terraform's version still finds it");
    assert_eq!(read.version_id(), Some(initial.as_str()));
    let current = client
        .get_secret_value()
        .secret_id(aws_env::SECRET)
        .send()
        .await
        .unwrap();
    assert_ne!(current.version_id(), Some(initial.as_str()));

    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let keys = config.cursor_keys().await.unwrap();
    assert_eq!(keys.current.id, "k2");
    assert!(keys.previous.is_empty(), "{:?}", keys.previous.len());
    assert!(
        cursor::decode(&keys, "alice", &old_cursor, now).is_err(),
        "cursors signed with the dropped key are refused"
    );
}
