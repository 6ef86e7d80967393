//! Assembles the twin: embedded stand-ins, the two functions, the issuer and the gateway, on
//! one listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use functions::AppState;
use functions::adapters::embedded::archive::LogArchive;
use functions::adapters::embedded::bus::{EmbeddedBus, rule_from_pattern_json};
use functions::adapters::embedded::config::FileConfig;
use functions::adapters::embedded::store::RedbItemStore;
use http::{HeaderName, HeaderValue, Method};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{JwksSource, JwtAuthorizer, LocalIssuer, RemoteJwks};
use crate::gateway::routes::RouteTable;
use crate::gateway::throttle::TokenBucket;
use crate::gateway::{FunctionHost, Gateway};
use crate::settings::{AwsArgs, ServeArgs, names};
use crate::twin_api;
use crate::xray_daemon::XrayDaemon;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The stand-ins: redb, the pattern-matching bus with its log-group archive, the secret file.
fn embedded_state(dir: &std::path::Path, archive: Arc<LogArchive>) -> Result<AppState, BoxError> {
    let store = RedbItemStore::open(&dir.join("items.redb"))?;
    let rule = rule_from_pattern_json(
        names::ITEM_CREATED_RULE.to_owned(),
        functions::events::ITEM_CREATED_RULE_PATTERN,
        names::ARCHIVE_LOG_GROUP.to_owned(),
    )?;
    let bus = EmbeddedBus::new(
        names::EVENT_BUS.to_owned(),
        names::ACCOUNT_ID.to_owned(),
        names::REGION.to_owned(),
        vec![rule],
        archive,
    );
    let config = FileConfig::load_or_create(&dir.join("secret.json"))?;
    Ok(AppState {
        store: Arc::new(store),
        bus: Arc::new(bus),
        config: Arc::new(config),
    })
}

/// The AWS adapters, as the `items` Lambda builds them.
async fn aws_state(args: &AwsArgs) -> Result<AppState, BoxError> {
    let sdk = functions::adapters::aws::sdk_config(args.aws_endpoint.as_deref()).await;
    let resources = functions::adapters::aws::AwsResources {
        table: args.items_table.clone(),
        event_bus: args.event_bus.clone(),
        secret_id: args.config_secret_id.clone(),
        secret_ttl: functions::adapters::secret_document::DEFAULT_TTL,
    };
    let state = functions::adapters::aws::app_state(&sdk, &resources)
        .await
        .map_err(|e| format!("cannot read the configuration secret: {e}"))?;
    Ok(state)
}

/// A twin bound to its address, ready to serve.
pub struct Twin {
    pub addr: SocketAddr,
    pub issuer_url: String,
    pub audience: String,
    listener: TcpListener,
    app: Router,
}

fn function(name: &str, timeout: Duration, service: Router) -> FunctionHost {
    FunctionHost {
        name: name.to_owned(),
        arn: format!(
            "arn:aws:lambda:{}:{}:function:items-api-{name}",
            names::REGION,
            names::ACCOUNT_ID
        ),
        timeout,
        // The `service` of the function's EMF, as on AWS (the process's is the twin's).
        service: service.layer(telemetry::RequestLayer::new().with_service(name)),
    }
}

fn cors(origins: &[String]) -> Result<CorsLayer, BoxError> {
    let allow_origin = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| HeaderValue::from_str(o))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    Ok(CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            http::header::LOCATION,
            HeaderName::from_static("apigw-requestid"),
        ])
        .max_age(Duration::from_secs(300)))
}

impl Twin {
    /// Opens the data folder and binds the listener; nothing is served until [`Twin::serve`].
    pub async fn bind(args: &ServeArgs, xray: XrayDaemon) -> Result<Self, BoxError> {
        let dir = &args.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("data folder {}: {e}", dir.display()))?;
        let listener = TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("listen on {}: {e}", args.addr))?;
        let addr = listener.local_addr()?;

        let local_issuer_url = format!("http://{addr}{}", names::ISSUER_PATH);
        let issuer = Arc::new(LocalIssuer::load_or_create(
            dir,
            local_issuer_url,
            args.audience.clone(),
        )?);
        let issuer_url = args
            .issuer_url
            .clone()
            .unwrap_or_else(|| issuer.issuer_url().to_owned());
        let jwks_url = args.jwks_url.clone().unwrap_or_else(|| issuer.jwks_url());
        let authorizer = JwtAuthorizer::new(
            issuer_url.clone(),
            vec![args.audience.clone()],
            JwksSource::Remote(RemoteJwks::new(jwks_url)?),
        );

        // On AWS services the archive is the CloudWatch Logs group, not a local file.
        let (state, archive) = if args.aws.enabled {
            (aws_state(&args.aws).await?, None)
        } else {
            let archive = Arc::new(LogArchive::open(dir.join("logs"))?);
            (embedded_state(dir, Arc::clone(&archive))?, Some(archive))
        };

        let timeout = Duration::from_secs(args.function_timeout);
        let gateway = Arc::new(Gateway {
            routes: RouteTable::default(),
            throttle: TokenBucket::new(args.throttle_rate, args.throttle_burst),
            authorizer,
            public: function("public", timeout, functions::router::public_router()),
            items: function("items", timeout, functions::router(state)),
            account_id: names::ACCOUNT_ID.to_owned(),
            api_id: names::API_ID.to_owned(),
            xray: xray.clone(),
        });

        let app = Router::new()
            .merge(crate::auth::routes(Arc::clone(&issuer), names::ISSUER_PATH))
            .merge(twin_api::routes(archive))
            .merge(crate::xray_daemon::routes(xray))
            .fallback(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
                    Arc::clone(&gateway).handle(request, peer)
                },
            )
            .layer(cors(&args.cors_origins)?);
        Ok(Self {
            addr,
            issuer_url,
            audience: args.audience.clone(),
            listener,
            app,
        })
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
    pub async fn serve(self) -> Result<(), BoxError> {
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
