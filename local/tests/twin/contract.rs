//! The API's contract over HTTP: routes, shapes, paging, isolation, gateway answers, CORS.

use serde_json::json;

use crate::common::{TwinProcess, urlencode};

#[tokio::test]
async fn public_route_needs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let reply = twin.client.get("/public", &[]).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"ok": true}));
    let request_id = reply.header("apigw-requestid").unwrap().to_owned();
    // The access log and the function's summary line both carry API Gateway's request id.
    let lines = twin.lines();
    let access = twin.access_log();
    let line = access
        .iter()
        .find(|l| l["requestId"] == request_id.as_str())
        .expect("an access-log line");
    assert_eq!(line["routeKey"], "GET /public");
    assert_eq!(line["status"], "200");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request completed") && l.contains(&request_id)),
        "function summary line with the request id"
    );
}

#[tokio::test]
async fn create_read_and_page_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let alice = twin.token("alice").await;

    let reply = twin
        .create(
            &alice,
            &json!({"name": "first", "description": "the very first"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let first = reply.json();
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/items/{id}").as_str())
    );
    assert_eq!(first["name"], "first");
    assert_eq!(first["description"], "the very first");
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));

    let got = twin.get_auth(&alice, &format!("/items/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), first);

    let mut ids = vec![id.to_owned()];
    for i in 1..5 {
        let r = twin
            .create(&alice, &json!({"name": format!("item {i}")}))
            .await;
        assert_eq!(r.status, 201);
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();

    let page1 = twin.get_auth(&alice, "/items?limit=2").await.json();
    let page1_ids: Vec<&str> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(page1_ids, ids[..2]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = twin
        .get_auth(
            &alice,
            &format!("/items?limit=2&cursor={}", urlencode(cursor)),
        )
        .await
        .json();
    let page2_ids: Vec<&str> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(page2_ids, ids[2..4]);
    let all: Vec<String> = twin
        .all_items(&alice)
        .await
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all, ids);
    let last = twin.get_auth(&alice, "/items?limit=5").await.json();
    assert_eq!(
        last["next_cursor"],
        serde_json::Value::Null,
        "no cursor when nothing is left"
    );

    // Each item became one archived ItemCreated event, in EventBridge's envelope.
    let archive = twin.archive().await;
    assert_eq!(archive.len(), 5);
    let event = archive
        .iter()
        .find(|e| e["detail"]["item_id"] == id)
        .expect("the first item's event");
    let mut keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "account",
            "detail",
            "detail-type",
            "id",
            "region",
            "resources",
            "source",
            "time",
            "version"
        ]
    );
    assert_eq!(event["source"], "items.api");
    assert_eq!(event["detail-type"], "ItemCreated");
    assert_eq!(event["detail"]["created_at"], first["created_at"]);
    assert!(
        event["detail"]["request_id"]
            .as_str()
            .is_some_and(|r| r.len() == 16)
    );
    assert!(
        event["detail"]["trace_id"]
            .as_str()
            .is_some_and(|t| t.starts_with("1-"))
    );
    assert!(
        event["detail"].get("name").is_none(),
        "item bodies stay out of the archive"
    );
}

#[tokio::test]
async fn a_user_never_sees_another_users_items() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let (alice, bob) = (twin.token("alice").await, twin.token("bob").await);
    let a = twin
        .create(&alice, &json!({"name": "alice's"}))
        .await
        .json();
    for _ in 0..3 {
        twin.create(&alice, &json!({"name": "more of alice's"}))
            .await;
    }
    let b = twin.create(&bob, &json!({"name": "bob's"})).await.json();

    let bob_list = twin.all_items(&bob).await;
    assert_eq!(bob_list, vec![b.clone()]);
    let reply = twin
        .get_auth(&bob, &format!("/items/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        reply.status, 404,
        "another user's item is not found, never forbidden"
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );

    // Alice's cursor is no good to Bob.
    let page = twin.get_auth(&alice, "/items?limit=1").await.json();
    let cursor = urlencode(page["next_cursor"].as_str().unwrap());
    let reply = twin
        .get_auth(&bob, &format!("/items?cursor={cursor}"))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["type"], "/problems/invalid-cursor");
}

#[tokio::test]
async fn gateway_answers_like_api_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let reply = twin.client.get("/nowhere", &[]).await.unwrap();
    assert_eq!(
        (reply.status.as_u16(), reply.json()),
        (404, json!({"message": "Not Found"}))
    );
    let reply = twin
        .client
        .send(http::Method::DELETE, "/items", &[], "")
        .await
        .unwrap();
    assert_eq!(reply.status, 404, "no route for the method");
    let reply = twin.client.get("/internal/events", &[]).await.unwrap();
    assert_eq!(reply.status, 403, "IAM routes refuse unsigned requests");

    let preflight = twin
        .client
        .send(
            http::Method::OPTIONS,
            "/items",
            &[
                ("origin", "http://localhost:5173"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
            ],
            "",
        )
        .await
        .unwrap();
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let methods = preflight.header("access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = preflight
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    // Caches keep answers apart by what CORS reads: on a preflight and on any other answer.
    let vary = "origin, access-control-request-method, access-control-request-headers";
    assert_eq!(preflight.header("vary"), Some(vary));
    let reply = twin
        .client
        .get("/public", &[("origin", "http://localhost:5173")])
        .await
        .unwrap();
    assert_eq!(reply.header("vary"), Some(vary));
}

#[tokio::test]
async fn an_unreadable_host_fails_the_invocation_and_the_twin_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    // No URL authority: lambda_http's conversion of the event panics on it, inside the
    // runtime's call on Lambda, so the invocation fails and API Gateway answers its 500.
    let reply = twin
        .client
        .get("/public", &[("host", "bad host")])
        .await
        .unwrap();
    assert_eq!(
        (reply.status.as_u16(), reply.json()),
        (500, json!({"message": "Internal Server Error"}))
    );
    let request_id = reply.header("apigw-requestid").unwrap().to_owned();
    let access = twin.access_log();
    let line = access
        .iter()
        .find(|l| l["requestId"] == request_id.as_str())
        .expect("the access-log line");
    // Lambda ran the invocation, which failed: Invoke's own status, and the runtime's error.
    assert_eq!(line["integrationStatus"], "200");
    let message = line["integrationErrorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("The Lambda function returned the following error: Lambda panicked"),
        "{line}"
    );
    let reply = twin.client.get("/public", &[]).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn a_request_s_trace_is_read_back_by_its_request_id() {
    let dir = tempfile::tempdir().unwrap();
    // No request is sampled by the rule: the callers' own decisions alone decide.
    let twin = TwinProcess::start_in(
        dir.path(),
        &["--xray-reservoir", "0", "--xray-fixed-rate", "0"],
    );
    let alice = twin.token("alice").await;
    let bearer = format!("Bearer {alice}");
    let create = |sampled: &'static str| {
        let bearer = bearer.clone();
        let twin = &twin;
        async move {
            let reply = twin
                .client
                .post_json(
                    "/items",
                    &[
                        ("authorization", &bearer),
                        ("x-amzn-trace-id", &format!("Sampled={sampled}")),
                    ],
                    &json!({"name": "traced"}),
                )
                .await
                .unwrap();
            assert_eq!(reply.status, 201, "{}", reply.text());
            reply.header("apigw-requestid").unwrap().to_owned()
        }
    };
    let unsampled = create("0").await;
    let request_id = create("1").await;
    // Segments arrive over UDP: give the daemon a moment.
    let mut trace = serde_json::Value::Null;
    for _ in 0..50 {
        let r = twin
            .client
            .get(&format!("/_twin/traces/{}", urlencode(&request_id)), &[])
            .await
            .unwrap();
        if r.status == 200
            && r.json()["segments"]
                .as_array()
                .is_some_and(|s| s.len() >= 2)
        {
            trace = r.json();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let segments = trace["segments"]
        .as_array()
        .unwrap_or_else(|| panic!("no trace for {request_id}"));
    let function = segments
        .iter()
        .find(|s| s["origin"] == "AWS::Lambda::Function")
        .expect("the function segment");
    assert_eq!(function["name"], "items-api-items");
    let handler = segments
        .iter()
        .find(|s| s["parent_id"] == function["id"])
        .expect("a subsegment of the function");
    assert_eq!(handler["trace_id"], function["trace_id"]);
    assert!(trace["trace_id"].as_str().unwrap().starts_with("1-"));
    // The unsampled request, served before the sampled one whose trace has arrived, left none.
    let r = twin
        .client
        .get(&format!("/_twin/traces/{}", urlencode(&unsampled)), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text());
}
