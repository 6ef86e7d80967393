//! The original flow on AWS services (moto's server, the real SDK and wire protocol): a user of a
//! Cognito pool signs in → ID token → the twin on the AWS adapters, trusting the pool's issuer and
//! JWKS → `POST /items` → the item is in the DynamoDB table → the rule (from the pattern file that
//! Terraform reads too) delivers the event → it is in the archive log group.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use functions::adapters::aws::dynamodb::attr;
use functions::adapters::secret_document::SecretDocument;
use serde_json::json;
use testkit::Moto;
use testkit::aws::{self, CognitoPool};

use crate::common::{TwinProcess, binary};

const PASSWORD: &str = "Correct-Horse-9-Battery";

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_create_store_publish_archive_on_moto() {
    let moto = Moto::start();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_table(&sdk, attr::OWNER, attr::ID).await;
    // The event comes from the table's stream, through the event source mapping.
    testkit::stream::enable(&sdk).await;
    aws::create_bus_and_archive(&sdk, functions::events::ITEM_CREATED_RULE_PATTERN).await;
    aws::create_secret(
        &sdk,
        &serde_json::to_string(&SecretDocument::generate()).unwrap(),
    )
    .await;
    let pool = CognitoPool::create(&sdk, "grace", PASSWORD).await;

    let dir = tempfile::tempdir().unwrap();
    let endpoint = moto.endpoint();
    let (issuer, jwks) = (pool.issuer(), pool.jwks_url(&moto));
    let args = [
        "--aws",
        "--aws-endpoint",
        &endpoint,
        "--items-table",
        aws::TABLE,
        "--event-bus",
        aws::BUS,
        "--config-secret-id",
        aws::SECRET,
        "--issuer-url",
        &issuer,
        "--jwks-url",
        &jwks,
        "--audience",
        &pool.client_id,
    ];
    readme_aws_command_uses_these_flags(&args);
    let twin = TwinProcess::start_with_env(dir.path(), &args, &moto.env());

    let token = pool.sign_in(&sdk, "grace", PASSWORD).await;
    let sub = claims(&token)["sub"].as_str().unwrap().to_owned();
    let reply = twin.create(&token, &json!({"name": "made on moto"})).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let request_id = reply.header("apigw-requestid").unwrap().to_owned();

    // The item is in the table, under the caller's sub.
    let stored = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(aws::TABLE)
        .key(attr::OWNER, AttributeValue::S(sub.clone()))
        .key(attr::ID, AttributeValue::S(id.clone()))
        .send()
        .await
        .unwrap();
    let row = stored.item().expect("the item is in DynamoDB");
    assert_eq!(row[attr::NAME].as_s().unwrap(), "made on moto");

    // The API reads it back through DynamoDB too.
    let listed = twin.all_items(&token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());

    // The rule delivered the event to the archive log group, with the item id and request id.
    // It comes through the stream's event source mapping (a batching window, then the
    // consumer), so a moment after the 201.
    let mut archived = aws::archived(&sdk).await;
    for _ in 0..60 {
        if !archived.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        archived = aws::archived(&sdk).await;
    }
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert_eq!(archived[0]["detail-type"], "ItemCreated");
    assert_eq!(archived[0]["detail"]["item_id"], id.as_str());
    assert_eq!(archived[0]["detail"]["owner"], sub.as_str());
    assert_eq!(archived[0]["detail"]["request_id"], request_id.as_str());

    // A token of the pool for another app client is refused.
    let other = CognitoPool::create(&sdk, "heidi", PASSWORD).await;
    let foreign = other.sign_in(&sdk, "heidi", PASSWORD).await;
    assert_eq!(twin.get_auth(&foreign, "/items").await.status, 401);
}

#[tokio::test]
async fn a_missing_secret_stops_the_twin_at_start_with_a_clear_message() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(binary())
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args([
            "--aws",
            "--aws-endpoint",
            &moto.endpoint(),
            "--config-secret-id",
            "no/such/secret",
        ])
        .envs(moto.env())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the configuration secret"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no/such/secret") && stderr.contains("ResourceNotFoundException"),
        "{stderr}"
    );
}

/// The "On AWS services" command of `docs/local-twin.md` names exactly the flags this test runs
/// the twin with.
fn readme_aws_command_uses_these_flags(args: &[&str]) {
    let block = testkit::readme::sh_block_after_in("docs/local-twin.md", "## On AWS services");
    let flags = block
        .strip_prefix("cargo run --release -- ")
        .unwrap_or_else(|| panic!("{block}"));
    let mut documented: Vec<&str> = flags
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .collect();
    let mut used: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| a.starts_with("--"))
        .collect();
    documented.sort();
    used.sort();
    assert_eq!(
        documented, used,
        "documented flags vs the flags of the tested run"
    );
}
