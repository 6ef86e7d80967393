//! The metric contract, both ways, on a running twin: a scenario drives every route and every
//! fault, then the twin's metric store (`/_twin/metrics`) is read.
//!
//! - every metric an alarm names, and every custom metric a dashboard names, was emitted;
//! - every custom metric emitted is in `telemetry::metric_names::ALL` and on a dashboard, and
//!   every metric of that list was emitted.
//!
//! The dashboards and alarms are read by the twin's own readers (the ones its console and alarm
//! evaluation use); `conformance/tests/observability.rs` holds the same files to the list
//! statically.

use std::collections::BTreeSet;
use std::time::Duration;

use http::Method;
use local::cloudwatch::query::QueryKind;
use local::cloudwatch::store::MetricId;
use local::cloudwatch::{
    METRICS_NAMESPACE, default_repo_dir, load_alarms, placeholders, read_json_dir,
};
use serde_json::{Value, json};

use crate::common::TwinProcess;

/// The metrics the alarms name (every namespace) and the custom ones the dashboards name.
fn named() -> (BTreeSet<MetricId>, BTreeSet<MetricId>) {
    let repo = default_repo_dir();
    let values = placeholders(local::settings::ServeArgs::default().function_timeout);
    let metric_ids = |queries: &[local::cloudwatch::query::Query]| -> Vec<MetricId> {
        queries
            .iter()
            .filter_map(|q| match &q.kind {
                QueryKind::Metric { id, .. } => Some(id.clone()),
                QueryKind::Expression(_) => None,
            })
            .collect()
    };
    let by_alarms: BTreeSet<MetricId> = load_alarms(&repo, &values)
        .unwrap()
        .iter()
        .flat_map(|def| metric_ids(&def.queries))
        .collect();
    let mut on_dashboards = BTreeSet::new();
    for (stem, body) in read_json_dir(&repo.join("dashboards"), &values).unwrap() {
        for widget in body["widgets"].as_array().unwrap() {
            if widget["type"] != "metric" {
                continue;
            }
            let query = local::ops::widgets::widget_queries(&widget["properties"])
                .unwrap_or_else(|e| panic!("dashboard {stem}: {e}"));
            on_dashboards.extend(metric_ids(&query.queries));
        }
    }
    (by_alarms, on_dashboards)
}

fn emitted(metrics: &Value) -> BTreeSet<MetricId> {
    metrics["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let dims: Vec<(&str, &str)> = m["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (d["Name"].as_str().unwrap(), d["Value"].as_str().unwrap()))
                .collect();
            MetricId::new(
                m["Namespace"].as_str().unwrap(),
                m["MetricName"].as_str().unwrap(),
                &dims,
            )
        })
        .collect()
}

struct Scenario {
    twin: TwinProcess,
    bearer: String,
}

impl Scenario {
    async fn call(&self, method: Method, path: &str, body: Option<Value>, want: u16) -> Value {
        let mut headers = vec![("authorization", self.bearer.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let reply = self
            .twin
            .client
            .send(method.clone(), path, &headers, body)
            .await
            .unwrap();
        assert_eq!(reply.status, want, "{method} {path}: {}", reply.text());
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
    }

    /// A signed `POST /internal/events/replay` of the last hour, with the twin's own key.
    async fn replay(&self) -> Value {
        let path = self
            .twin
            .data_dir
            .join(local::auth::sigv4::CREDENTIALS_FILE);
        let creds: local::auth::sigv4::LocalCredentials =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let format = &time::format_description::well_known::Rfc3339;
        let body = json!({
            "from": (now - time::Duration::hours(1)).format(format).unwrap(),
            "to": (now + time::Duration::minutes(1)).format(format).unwrap(),
        });
        let reply = self
            .twin
            .client
            .send_signed(
                &creds,
                now,
                Method::POST,
                "/internal/events/replay",
                body.to_string(),
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    async fn under(&self, fault: &str, calls: &[(Method, &str, u16)]) {
        // The stream's consumer publishes a moment after the 201: a fault on its way (the bus,
        // the consumer itself) stays until an invocation has met it.
        let on_stream = fault.starts_with("bus=") || fault.starts_with("item-events=");
        if on_stream {
            assert!(self.twin.caught_up_within(Duration::from_secs(30)).await);
        }
        self.twin.set_fault(fault).await;
        for (method, path, want) in calls {
            let body = (*method == Method::POST).then(|| json!({ "name": fault }));
            self.call(method.clone(), path, body, *want).await;
        }
        if fault.starts_with("archive=") {
            // The consumer publishes; the rule's target fails.
            assert!(self.twin.caught_up_within(Duration::from_secs(30)).await);
        }
        if on_stream {
            let started = std::time::Instant::now();
            while self.twin.stream().await["lastFunctionError"].is_null() {
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "{fault}: no invocation"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.twin.clear_faults().await;
    }
}

#[tokio::test]
async fn every_metric_named_is_emitted_and_every_custom_metric_emitted_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &["--alarm-evaluation-interval", "3600"]);
    let bearer = format!("Bearer {}", twin.token("contract").await);
    let s = Scenario { twin, bearer };

    // Every route, healthy.
    s.call(Method::GET, "/public", None, 200).await;
    s.call(Method::GET, "/nope", None, 404).await;
    let anonymous = s.twin.client.get("/items", &[]).await.unwrap();
    assert_eq!(anonymous.status, 401);
    let item = s
        .call(
            Method::POST,
            "/items",
            Some(json!({"name": "contract"})),
            201,
        )
        .await;
    s.call(Method::POST, "/items", Some(json!({"name": ""})), 422)
        .await;
    s.call(Method::GET, "/items", None, 200).await;
    let one = format!("/items/{}", item["id"].as_str().unwrap());
    s.call(Method::GET, &one, None, 200).await;
    s.call(Method::POST, "/internal/events/replay", None, 403)
        .await;
    // The operator's signed replay re-emits through the items function (service `items`).
    assert!(s.twin.caught_up_within(Duration::from_secs(30)).await);
    let replay = s.replay().await;
    assert_eq!(replay["published"], 1, "{replay}");

    // Every fault.
    let throttled = [(Method::GET, "/items", 503), (Method::POST, "/items", 503)];
    s.under("store=throttle", &throttled).await;
    s.under("store=fail", &[(Method::GET, &one, 500)]).await;
    s.under("bus=reject", &[(Method::POST, "/items", 201)])
        .await;
    s.twin.set_fault("bus=reject").await;
    let replay = s.replay().await;
    assert!(replay["failed"].as_u64().unwrap() >= 1, "{replay}");
    s.twin.clear_faults().await;
    s.under("archive=fail", &[(Method::POST, "/items", 201)])
        .await;
    s.under("config=fail", &[(Method::GET, "/items", 503)])
        .await;
    s.under("items=slow:20ms", &[(Method::GET, "/items", 200)])
        .await;
    s.under("items=panic", &[(Method::GET, "/items", 500)])
        .await;
    s.under("items=throttle", &[(Method::GET, "/items", 500)])
        .await;
    s.under("public=slow:20ms", &[(Method::GET, "/public", 200)])
        .await;
    s.under("public=panic", &[(Method::GET, "/public", 500)])
        .await;
    s.under("public=throttle", &[(Method::GET, "/public", 500)])
        .await;
    s.under("item-events=fail", &[(Method::POST, "/items", 201)])
        .await;
    // The consumer's retries succeed: every event is out before the metrics are read.
    assert!(s.twin.caught_up_within(Duration::from_secs(60)).await);

    // The minute ends: the bus's rule counters are recorded.
    let clock = s
        .twin
        .client
        .post_json("/_twin/clock", &[], &json!({ "to_next_minute": true }))
        .await
        .unwrap();
    assert_eq!(clock.status, 200, "{}", clock.text());
    let metrics = s.twin.client.get("/_twin/metrics", &[]).await.unwrap();
    assert_eq!(metrics.status, 200);
    let emitted = emitted(&metrics.json());

    let (by_alarms, on_dashboards) = named();
    let custom = |id: &&MetricId| id.namespace == METRICS_NAMESPACE;
    let dashboard_custom: BTreeSet<&MetricId> = on_dashboards.iter().filter(custom).collect();
    assert!(!dashboard_custom.is_empty());

    // Named, therefore emitted.
    let missing: Vec<String> = by_alarms
        .iter()
        .chain(dashboard_custom.iter().copied())
        .filter(|id| !emitted.contains(*id))
        .map(ToString::to_string)
        .collect();
    assert!(
        missing.is_empty(),
        "named by an alarm or a dashboard, never emitted by the scenario: {missing:#?}"
    );

    // Emitted, therefore in the code's list and on a dashboard.
    let listed: BTreeSet<&str> = telemetry::metric_names::ALL
        .iter()
        .map(|m| m.name)
        .collect();
    for id in emitted.iter().filter(custom) {
        assert!(
            listed.contains(id.name.as_str()),
            "{id} is emitted but not in telemetry::metric_names::ALL"
        );
        assert!(
            dashboard_custom.contains(id),
            "{id} is emitted but no dashboard shows it"
        );
    }
    // And the whole list was emitted.
    let emitted_names: BTreeSet<&str> = emitted
        .iter()
        .filter(custom)
        .map(|id| id.name.as_str())
        .collect();
    let never: Vec<&&str> = listed
        .iter()
        .filter(|n| !emitted_names.contains(**n))
        .collect();
    assert!(never.is_empty(), "in the list, never emitted: {never:?}");
}
