//! The `public` Lambda: `GET /public`. Links no AWS client, so it starts as fast as a Rust
//! function can.

use tower::Layer;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init("public");
    // Around the router as a whole: `Router::layer` would wrap each route in it, a boxed
    // service cloned and a boxed future more on every request.
    let app = telemetry::RequestLayer::new().layer(functions::router::public_router());
    lambda_http::run(app).await
}
