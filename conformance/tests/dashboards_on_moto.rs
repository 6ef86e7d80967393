//! The dashboards as Terraform puts them (`aws_cloudwatch_dashboard`, named `<name>-<file>`, the
//! body filled), through CloudWatch's own `PutDashboard` served by moto, and read back unchanged.
//! moto checks only that a body is JSON (its `PutDashboard` answers no validation messages), so
//! the widget schema is held by `observability.rs`; this is the wire half.

use local::cloudwatch::{placeholders, read_json_dir};
use serde_json::Value;
use testkit::Moto;

const STACK: &str = "items-api";

#[tokio::test]
async fn every_dashboard_is_accepted_by_put_dashboard_and_read_back_unchanged() {
    let moto = Moto::start();
    let sdk = testkit::aws::sdk_config(&moto).await;
    let client = aws_sdk_cloudwatch::Client::new(&sdk);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dashboards = read_json_dir(&repo.join("dashboards"), &placeholders(10)).unwrap();
    assert!(dashboards.len() >= 3, "the repository's dashboards");

    for (stem, body) in &dashboards {
        let name = format!("{STACK}-{stem}");
        let put = client
            .put_dashboard()
            .dashboard_name(&name)
            .dashboard_body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutDashboard {name}: {e:?}"));
        assert!(
            put.dashboard_validation_messages().is_empty(),
            "{name}: {:?}",
            put.dashboard_validation_messages()
        );
        let got = client
            .get_dashboard()
            .dashboard_name(&name)
            .send()
            .await
            .unwrap();
        let read: Value = serde_json::from_str(got.dashboard_body().unwrap()).unwrap();
        assert_eq!(&read, body, "{name} reads back as it was put");
    }

    let listed: Vec<String> = client
        .list_dashboards()
        .dashboard_name_prefix(STACK)
        .send()
        .await
        .unwrap()
        .dashboard_entries()
        .iter()
        .filter_map(|d| d.dashboard_name().map(str::to_owned))
        .collect();
    for (stem, _) in &dashboards {
        assert!(listed.contains(&format!("{STACK}-{stem}")), "{listed:?}");
    }

    // The same call refuses a body that is not a dashboard document, so acceptance above means
    // something.
    let refused = client
        .put_dashboard()
        .dashboard_name(format!("{STACK}-broken"))
        .dashboard_body("{\"widgets\": [")
        .send()
        .await;
    assert!(refused.is_err(), "a body that is not JSON is refused");
}
