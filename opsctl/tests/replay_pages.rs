//! `reemit` over a window larger than one request sweeps: the answers' `next_cursor` is sent
//! back until there is none, and the counts add up. A small server on loopback plays the route
//! (the twin's route sweeps 5,000 rows a request: too many items to create for this).

use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use opsctl::reemit::{ReplayTotals, replay};
use serde_json::{Value, json};

/// What the route answered and what it was sent, in order.
#[derive(Clone, Default)]
struct Route {
    answers: Arc<Mutex<Vec<Value>>>,
    seen: Arc<Mutex<Vec<(Value, String)>>>,
}

async fn answer(
    State(route): State<Route>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    route.seen.lock().unwrap().push((body, auth));
    let mut answers = route.answers.lock().unwrap();
    Json(if answers.len() > 1 {
        answers.remove(0)
    } else {
        answers[0].clone()
    })
}

async fn serve(answers: Vec<Value>) -> (String, Route) {
    let route = Route {
        answers: Arc::new(Mutex::new(answers)),
        ..Route::default()
    };
    let app = axum::Router::new()
        .route("/internal/events/replay", post(answer))
        .with_state(route.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, route)
}

fn keys() -> Credentials {
    Credentials::new("AKIAPAGESTEST0000001", "pages-secret", None, None, "test")
}

const FROM: &str = "2026-11-21T00:00:00Z";
const TO: &str = "2026-11-22T00:00:00Z";

#[tokio::test]
async fn each_next_cursor_is_sent_back_until_the_window_is_swept() {
    let (url, route) = serve(vec![
        json!({"items": 5000, "published": 4998, "failed": 2, "next_cursor": "page-2"}),
        json!({"items": 5000, "published": 5000, "failed": 0, "next_cursor": "page-3"}),
        json!({"items": 12, "published": 12, "failed": 0, "next_cursor": null}),
    ])
    .await;
    let totals = replay(&url, FROM, TO, &keys(), "us-east-1").await.unwrap();
    assert_eq!(
        totals,
        ReplayTotals {
            items: 10_012,
            published: 10_010,
            failed: 2,
            requests: 3
        }
    );
    let seen = route.seen.lock().unwrap().clone();
    let bodies: Vec<&Value> = seen.iter().map(|(b, _)| b).collect();
    assert_eq!(
        bodies,
        [
            &json!({"from": FROM, "to": TO}),
            &json!({"from": FROM, "to": TO, "cursor": "page-2"}),
            &json!({"from": FROM, "to": TO, "cursor": "page-3"}),
        ]
    );
    // Every request is signed on its own, for its own body.
    let auths: Vec<&str> = seen.iter().map(|(_, a)| a.as_str()).collect();
    for auth in &auths {
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAPAGESTEST0000001/"),
            "{auth}"
        );
    }
    assert!(auths[0] != auths[1] && auths[1] != auths[2]);
}

#[tokio::test]
async fn a_cursor_that_does_not_move_stops_the_replay() {
    let (url, route) = serve(vec![
        json!({"items": 1, "published": 1, "failed": 0, "next_cursor": "stuck"}),
    ])
    .await;
    let err = replay(&url, FROM, TO, &keys(), "us-east-1")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("answered the cursor it was sent"),
        "{err}"
    );
    assert_eq!(route.seen.lock().unwrap().len(), 2);
}
