//! The OpenAPI document says what the code does: the same routes with the same authorization,
//! and the same limits.

use functions::domain::limits;
use functions::router::{OPENAPI, routes};
use serde_json::Value;

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("functions/openapi.json is JSON")
}

/// `(METHOD, /path)` of every operation, with `{proxy}` read as the gateway's `{proxy+}`.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase(), path.clone()));
        }
    }
    out.sort();
    out
}

#[test]
fn the_document_has_exactly_the_routes_of_the_router() {
    let doc = doc();
    let documented = operations(&doc);
    let mut expected: Vec<(String, String)> = routes::PUBLIC
        .iter()
        .chain(routes::JWT)
        .chain(routes::IAM)
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert!(
        routes::IAM
            .iter()
            .all(|(_, p)| p.starts_with(routes::IAM_PREFIX)),
        "operator routes live under the IAM prefix"
    );
    expected.sort();
    assert_eq!(documented, expected);
}

#[test]
fn authorization_is_as_the_gateway_applies_it() {
    let doc = doc();
    assert_eq!(
        doc["security"],
        serde_json::json!([{"jwt": []}]),
        "JWT by default"
    );
    for (method, path) in routes::PUBLIC {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert_eq!(
            op["security"],
            serde_json::json!([]),
            "{method} {path} is public"
        );
    }
    for (method, path) in routes::JWT {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert!(
            op.get("security").is_none(),
            "{method} {path} keeps the JWT default"
        );
        assert!(
            op["responses"].get("401").is_some(),
            "{method} {path} documents 401"
        );
        assert!(
            op["responses"].get("429").is_some(),
            "{method} {path} documents 429"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"],
        "awsSigv4"
    );
    for (method, path) in routes::IAM {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert_eq!(
            op["x-amazon-apigateway-auth"]["type"], "AWS_IAM",
            "{method} {path}"
        );
        assert_eq!(
            op["security"],
            serde_json::json!([{"sigv4": []}]),
            "{method} {path}"
        );
        assert!(
            op["responses"].get("403").is_some(),
            "{method} {path} documents 403"
        );
    }
}

#[test]
fn limits_are_the_code_limits() {
    let doc = doc();
    let new_item = &doc["components"]["schemas"]["NewItem"];
    assert_eq!(
        new_item["additionalProperties"], false,
        "unknown fields are rejected"
    );
    assert_eq!(new_item["required"], serde_json::json!(["name"]));
    assert_eq!(new_item["properties"]["name"]["minLength"], 1);
    assert_eq!(
        new_item["properties"]["name"]["maxLength"],
        limits::NAME_MAX_CHARS
    );
    assert_eq!(
        new_item["properties"]["description"]["maxLength"],
        limits::DESCRIPTION_MAX_CHARS
    );
    let params = doc["paths"]["/items"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
    assert_eq!(param("limit")["minimum"], limits::PAGE_MIN);
    assert_eq!(param("limit")["maximum"], limits::PAGE_MAX);
    assert_eq!(param("limit")["default"], limits::PAGE_DEFAULT);
    assert_eq!(param("cursor")["maxLength"], limits::CURSOR_MAX_BYTES);
    assert_eq!(
        doc["components"]["schemas"]["ItemPage"]["properties"]["items"]["maxItems"],
        limits::PAGE_MAX
    );
    let create = &doc["paths"]["/items"]["post"]["responses"];
    for status in ["201", "400", "413", "415", "422"] {
        assert!(
            create.get(status).is_some(),
            "POST /items documents {status}"
        );
    }
}

#[test]
fn documented_ids_are_the_ids_the_api_accepts() {
    let doc = doc();
    let pattern = doc["components"]["schemas"]["Item"]["properties"]["id"]["pattern"]
        .as_str()
        .unwrap();
    let path_pattern = doc["paths"]["/items/{id}"]["get"]["parameters"][0]["schema"]["pattern"]
        .as_str()
        .unwrap();
    assert_eq!(pattern, path_pattern);
    // The pattern, read by hand: 8-4-4-4-12 lowercase hex, version 7, RFC 9562 variant.
    let id = functions::domain::ItemId::generate().to_string();
    let groups: Vec<&str> = id.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(groups[2].starts_with('7') && "89ab".contains(&groups[3][..1]));
    assert_eq!(
        pattern,
        "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    );
}
