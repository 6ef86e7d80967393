//! A hello-world function on `lambda_runtime` alone: the baseline the cold-start figures of the
//! API's functions are compared with, in the same run.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"ok": true}))
    }))
    .await
}
