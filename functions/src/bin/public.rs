//! The `public` Lambda: `GET /public`. Links no AWS client, so it starts as fast as a Rust
//! function can.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init("public");
    lambda_http::run(functions::router::public_router().layer(telemetry::RequestLayer::new())).await
}
