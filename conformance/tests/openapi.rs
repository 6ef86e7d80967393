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
    // Every route that reads a body answers 415 for an encoded one, and says so.
    for (method, path) in routes::JWT.iter().chain(routes::IAM) {
        let op = &doc["paths"][path][method.to_lowercase()];
        if op.get("requestBody").is_some() {
            assert_eq!(
                op["responses"]["415"]["$ref"], "#/components/responses/UnsupportedMediaType",
                "{method} {path}"
            );
        }
    }
    let unsupported = &doc["components"]["responses"]["UnsupportedMediaType"];
    assert!(
        unsupported["description"]
            .as_str()
            .unwrap()
            .contains("Content-Encoding")
    );
    assert_eq!(
        unsupported["headers"]["Accept-Encoding"]["schema"]["enum"],
        serde_json::json!(["identity"])
    );
}

/// The `pattern` of `NewItem`'s `field`, read with the `regex` crate. The document's patterns
/// keep to the part of ECMA-262 (the dialect OpenAPI names) that reads the same there: `^`, `$`,
/// `*`, classes of `\uXXXX` escapes and ranges. Not `\s` (ECMA's holds U+FEFF, Unicode's
/// `White_Space` does not), `\p`, `\u{…}` or flags, whose meaning differs between the two.
fn new_item_pattern(field: &str) -> regex::Regex {
    let doc = doc();
    let pattern = doc["components"]["schemas"]["NewItem"]["properties"][field]["pattern"]
        .as_str()
        .unwrap()
        .to_owned();
    let portable = regex::Regex::new(r"^(?:[\^$*\[\]-]|\\u[0-9a-f]{4})*$").unwrap();
    assert!(portable.is_match(&pattern), "{field}: {pattern}");
    regex::Regex::new(&pattern).unwrap()
}

fn accepts(name: &str, description: Option<&str>) -> bool {
    functions::domain::NewItem {
        name: name.to_owned(),
        description: description.map(str::to_owned),
    }
    .validate()
    .is_ok()
}

/// Strings the blank and control rules are about: each alone, and around a visible letter.
fn table() -> Vec<String> {
    let mut table: Vec<String> = [
        "",
        " ",
        "a",
        " a ",
        "\u{FEFF}",
        "\u{FEFF}a",
        "\u{200B}\u{200C}\u{200D}",
        "\u{2060}",
        "\u{00AD}",
        "\u{00AD}-",
        "\u{3000}",
        "\u{00A0}\u{2007}",
        "\u{202E}abc",
        "\u{2066}",
        "\t",
        "a\nb",
        "\u{85}",
        "\u{7F}",
        "\u{9F}x",
        "😀",
        "\u{0301}",
        "中文",
        "\u{FFFD}",
        "\u{FFF9}\u{FFFB}",
        "\u{180E}",
        "\u{061C}",
        "\u{0600}1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Every character of the Basic Multilingual Plane, alone and next to a letter.
    for c in (0..=0xFFFF).filter_map(char::from_u32) {
        table.push(c.to_string());
        table.push(format!("a{c}"));
    }
    table
}

#[test]
fn the_name_pattern_refuses_what_the_blank_and_control_rules_refuse() {
    let pattern = new_item_pattern("name");
    for name in table() {
        assert_eq!(
            pattern.is_match(&name),
            accepts(&name, None),
            "name {name:?} ({:04X?})",
            name.chars().map(u32::from).collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_description_pattern_refuses_what_the_blank_rule_refuses() {
    let pattern = new_item_pattern("description");
    for description in table() {
        assert_eq!(
            pattern.is_match(&description),
            accepts("ok", Some(&description)),
            "description {description:?} ({:04X?})",
            description.chars().map(u32::from).collect::<Vec<_>>()
        );
    }
}

/// Past U+FFFF an ECMA-262 pattern without the `u` flag sees UTF-16 halves, so a class cannot
/// name these format characters: the document says so, and the API refuses them all the same.
/// The pattern is never stricter than the API.
#[test]
fn format_characters_past_the_bmp_are_refused_by_the_api_though_the_pattern_admits_them() {
    let name = new_item_pattern("name");
    let description = new_item_pattern("description");
    for &(first, last) in functions::domain::FORMAT_CHARACTERS {
        for c in (first..=last).filter(|c| u32::from(*c) > 0xFFFF) {
            let text = c.to_string();
            assert!(
                name.is_match(&text) && description.is_match(&text),
                "U+{:04X}",
                u32::from(c)
            );
            assert!(!accepts(&text, None) && !accepts("ok", Some(&text)));
            let visible = format!("{c}a");
            assert!(accepts(&visible, Some(&visible)));
        }
    }
    let doc = doc();
    assert!(
        doc["components"]["schemas"]["NewItem"]["properties"]["name"]["description"]
            .as_str()
            .unwrap()
            .contains("past U+FFFF")
    );
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
