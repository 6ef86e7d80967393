//! The example web client (`examples/web/`) against the deployed stack: Terraform's
//! `web_client_config` output is the `config.json` it reads, with the keys the twin writes, and
//! the default callback, logout and CORS settings are those of the page where docs/deploy.md
//! serves it.

use std::collections::BTreeSet;

use hcl::Expression;
use local::web_app::WebClientConfig;

use crate::support::*;

/// The `value` of the root module's output `name`.
fn output_value(name: &str) -> Expression {
    let body = module_body(&terraform_dir());
    attr(block(&body, "output", &[name]).body(), "value").clone()
}

/// `localhost:PORT`, from the command docs/deploy.md shows to serve `examples/web/`.
fn documented_page() -> String {
    let deploy = read(&conformance::repo_root().join("docs/deploy.md"));
    let command = deploy
        .lines()
        .find(|l| l.starts_with("python3 -m http.server "))
        .expect("docs/deploy.md shows how to serve examples/web/ with python3 -m http.server");
    let words: Vec<&str> = command.split_whitespace().collect();
    assert!(
        command.contains("--directory examples/web"),
        "it serves the folder itself, so the page is at /: {command}"
    );
    let port: u16 = words[3]
        .parse()
        .unwrap_or_else(|_| panic!("the port follows http.server: {command}"));
    format!("localhost:{port}")
}

#[test]
fn the_web_client_config_output_is_the_app_s_settings() {
    let value = output_value("web_client_config");
    let Expression::FuncCall(call) = &value else {
        panic!("web_client_config is jsonencode({{…}}): {}", source(&value));
    };
    assert_eq!(call.name.name.as_str(), "jsonencode");
    let fields = object(&call.args[0]);
    let keys: BTreeSet<String> = fields.iter().map(|(k, _)| k.clone()).collect();
    let settings = WebClientConfig::for_twin("http://localhost:3000", "client");
    let twin_keys: BTreeSet<String> = serde_json::to_value(settings)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, twin_keys, "the keys of the twin's /app/config.json");

    let field = |key: &str| source(object_field(&call.args[0], key));
    assert_eq!(field("apiUrl"), "module.api.api_url");
    assert_eq!(field("authDomain"), "module.auth.hosted_ui_url");
    // The client whose ID tokens the API's JWT authorizer accepts.
    assert_eq!(field("clientId"), "module.auth.app_client_id");
    let root = module_body(&terraform_dir());
    let given =
        |module: &str, arg: &str| source(attr(block(&root, "module", &[module]).body(), arg));
    assert_eq!(given("api", "jwt_audience"), "[module.auth.app_client_id]");
    // The URLs it names are ones the app client registers.
    assert_eq!(field("redirectUri"), "var.callback_urls[0]");
    assert!(field("logoutUri").contains("var.logout_urls[0]"));
    assert_eq!(given("auth", "callback_urls"), "var.callback_urls");
    assert_eq!(given("auth", "logout_urls"), "var.logout_urls");
    assert_eq!(given("api", "cors_allow_origins"), "var.cors_allow_origins");
}

#[test]
fn the_default_urls_are_the_page_docs_deploy_serves() {
    let page = documented_page();
    let root = terraform_dir();
    let list = |name: &str| -> Vec<String> {
        let value = default_of(&root, name).unwrap_or_else(|| panic!("{name} has a default"));
        value
            .as_array()
            .unwrap_or_else(|| panic!("{name} is a list"))
            .iter()
            .map(|v| v.as_str().expect("a string").to_owned())
            .collect()
    };
    // The page is the callback (it takes the code itself) and where sign-out lands.
    assert_eq!(list("callback_urls")[0], format!("http://{page}/"));
    assert_eq!(list("logout_urls")[0], format!("http://{page}/"));
    // It calls the API from its own origin.
    assert!(
        list("cors_allow_origins").contains(&format!("http://{page}")),
        "cors_allow_origins lets the page at {page} read the API's answers"
    );
}

#[test]
fn the_api_s_cors_rules_let_the_app_send_its_headers_and_read_the_request_id() {
    let api = module_body(&module_dir("api"));
    let http_api = block(&api, "resource", &["aws_apigatewayv2_api", "http"]).body();
    let cors = block(http_api, "dynamic", &["cors_configuration"]).body();
    let content = block(cors, "content", &[]).body();
    let exposed = strings(attr(content, "expose_headers"));
    assert!(exposed.contains(&"apigw-requestid"), "{exposed:?}");
    let allowed = strings(attr(content, "allow_headers"));
    // What examples/web/app.js sends: the ID token, a JSON body, the create's key.
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(&header), "{header} in {allowed:?}");
    }
    let script = read(&conformance::repo_root().join("examples/web/app.js")).to_ascii_lowercase();
    for header in [
        "\"apigw-requestid\"",
        "\"idempotency-key\"",
        "authorization:",
    ] {
        assert!(script.contains(header), "app.js uses {header}");
    }
}
