//! The Lambda binaries fail their cold start with a message that names what is wrong.

use functions::settings::env;
use testkit::Moto;

#[test]
fn items_names_every_missing_setting() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_items"))
        .env_clear()
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in env::REQUIRED {
        assert!(stderr.contains(name), "{name} not named in: {stderr}");
    }
}

#[test]
fn items_names_a_missing_secret() {
    let moto = Moto::start();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_items"))
        .env_clear()
        .envs(moto.env())
        .env(env::TABLE, "items")
        .env(env::EVENT_BUS, "items-api")
        .env(env::SECRET_ID, "items-api/config")
        .env(env::METRICS_NAMESPACE, "ItemsApi")
        .env(env::SERVICE_NAME, "items")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the configuration secret"),
        "{stderr}"
    );
    assert!(
        stderr.contains("items-api/config") && stderr.contains("ResourceNotFoundException"),
        "{stderr}"
    );
}
