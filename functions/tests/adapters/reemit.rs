//! The re-emit procedure of `docs/operations.md`, run as written with the AWS CLI against moto:
//! an item whose event was never published gets it archived.

use functions::adapters::aws::DynamoDbItemStore;
use functions::domain::{Item, NewItem};
use functions::ports::ItemStore;
use testkit::Moto;
use testkit::aws as aws_env;

#[tokio::test]
async fn the_documented_re_emit_archives_the_missing_event() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_table(&sdk, "owner", "id").await;
    aws_env::create_bus_and_archive(&sdk, functions::events::ITEM_CREATED_RULE_PATTERN).await;
    assert_eq!(
        (aws_env::TABLE, aws_env::BUS),
        ("items", "items-api"),
        "the names docs/operations.md uses"
    );

    // Stored, acknowledged, but its event never made it to the bus.
    let store = DynamoDbItemStore::new(aws_sdk_dynamodb::Client::new(&sdk), aws_env::TABLE);
    let item = Item::create(
        "0f5a6c1e-owner",
        NewItem {
            name: "orphan".into(),
            description: None,
        },
    );
    store.put(&item).await.unwrap();
    assert!(aws_env::archived(&sdk).await.is_empty());

    let script = testkit::readme::sh_block_after_in("docs/operations.md", "## Re-emitting events")
        .replace("OWNER", &item.owner)
        .replace("ITEM_ID", &item.id.to_string())
        .replace("CREATED_AT", &item.created_at_rfc3339())
        .replace("REQUEST_ID", "JKJaXmPLvHcESHA=");
    let venv_bin = testkit::moto::server_path().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .envs(moto.env())
        .env("PATH", path)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("\"orphan\""),
        "get-item shows the stored item: {stdout}"
    );
    assert!(stdout.contains("\"FailedEntryCount\": 0"), "{stdout}");

    let archived = aws_env::archived(&sdk).await;
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0]["detail"]["item_id"], item.id.to_string());
    assert_eq!(archived[0]["detail"]["owner"], item.owner);
    assert_eq!(
        archived[0]["detail"]["created_at"],
        item.created_at_rfc3339()
    );
}
