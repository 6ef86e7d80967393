//! One `EventBus` contract, run against the embedded bus (archive files) and EventBridge on moto
//! (rule → CloudWatch Logs): the same events in, the same envelopes archived.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use functions::adapters::aws::EventBridgeBus;
use functions::adapters::embedded::eventbridge::archive::LogArchive;
use functions::adapters::embedded::eventbridge::bus::{EmbeddedBus, rule_from_pattern_json};
use functions::domain::{Item, NewItem};
use functions::events::ItemCreated;
use functions::ports::{BusEvent, EventBus};
use serde_json::{Value, json};
use testkit::Moto;

use testkit::aws as aws_env;

type Archived<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Value>> + 'a>> + 'a>;

fn item_created(owner: &str) -> (Item, BusEvent) {
    let item = Item::create(
        owner,
        NewItem {
            name: "n".into(),
            description: None,
        },
    );
    let event = ItemCreated::new(
        &item,
        "JKJaXmPLvHcESHA=",
        Some("1-5759e988-bd862e3fe1be46a994272793"),
    );
    let bus_event = event.to_bus_event(&item);
    (item, bus_event)
}

async fn contract(bus: &dyn EventBus, archived: Archived<'_>) {
    // One ItemCreated: archived once, in EventBridge's envelope, with the contract's detail.
    let (item, event) = item_created("alice");
    bus.publish(std::slice::from_ref(&event)).await.unwrap();
    let envelopes = archived().await;
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    let envelope = &envelopes[0];
    for key in [
        "version",
        "id",
        "detail-type",
        "source",
        "time",
        "region",
        "resources",
        "detail",
    ] {
        assert!(
            envelope.get(key).is_some(),
            "envelope has `{key}`: {envelope}"
        );
    }
    assert_eq!(envelope["source"], "items.api");
    assert_eq!(envelope["detail-type"], "ItemCreated");
    assert_eq!(envelope["detail"]["item_id"], item.id.to_string());
    assert_eq!(envelope["detail"]["owner"], "alice");
    assert_eq!(envelope["detail"]["request_id"], "JKJaXmPLvHcESHA=");
    assert_eq!(
        envelope["detail"]["trace_id"],
        "1-5759e988-bd862e3fe1be46a994272793"
    );
    // EventBridge writes `time` in whole seconds.
    let time = envelope["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 20, "{time}");
    assert!(
        item.created_at_rfc3339().starts_with(&time[..19]),
        "{time} vs {}",
        item.created_at_rfc3339()
    );

    // Events the rule does not match are accepted and not archived.
    let mut other = event.clone();
    other.source = "someone.else".into();
    let mut other_type = event.clone();
    other_type.detail_type = "ItemDeleted".into();
    bus.publish(&[other, other_type]).await.unwrap();
    assert_eq!(archived().await.len(), 1);

    // A batch: every matching entry archived once.
    let batch: Vec<(Item, BusEvent)> = (0..5).map(|_| item_created("bob")).collect();
    let events: Vec<BusEvent> = batch.iter().map(|(_, e)| e.clone()).collect();
    bus.publish(&events).await.unwrap();
    let ids: Vec<Value> = archived()
        .await
        .iter()
        .map(|e| e["detail"]["item_id"].clone())
        .collect();
    assert_eq!(ids.len(), 6);
    for (item, _) in &batch {
        assert_eq!(
            ids.iter()
                .filter(|id| **id == json!(item.id.to_string()))
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn embedded_bus_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Arc::new(LogArchive::open(dir.path()).unwrap());
    let rule = rule_from_pattern_json(
        aws_env::RULE,
        functions::events::ITEM_CREATED_RULE_PATTERN,
        aws_env::LOG_GROUP,
    )
    .unwrap();
    let bus = EmbeddedBus::new(
        aws_env::BUS.into(),
        "123456789012".into(),
        "us-east-1".into(),
        vec![rule],
        Arc::clone(&archive),
    );
    let read = || -> Pin<Box<dyn Future<Output = Vec<Value>> + '_>> {
        Box::pin(async {
            let events = archive.read(aws_env::LOG_GROUP).unwrap_or_default();
            events
                .iter()
                .map(|e| serde_json::from_str(&e.message).unwrap())
                .collect()
        })
    };
    contract(&bus, Box::new(read)).await;
}

#[tokio::test]
async fn eventbridge_bus_meets_the_contract() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_bus_and_archive(&sdk, functions::events::ITEM_CREATED_RULE_PATTERN).await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), aws_env::BUS);
    let read =
        || -> Pin<Box<dyn Future<Output = Vec<Value>> + '_>> { Box::pin(aws_env::archived(&sdk)) };
    contract(&bus, Box::new(read)).await;
}
