//! Assembles the twin: embedded stand-ins, the two functions, the issuer and the gateway, on
//! one listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use functions::AppState;
use functions::adapters::embedded::config::FileConfig;
use functions::adapters::embedded::eventbridge::archive::LogArchive;
use functions::adapters::embedded::eventbridge::bus::{EmbeddedBus, rule_from_pattern_json};
use functions::adapters::embedded::eventbridge::faults::FaultyBus;
use functions::adapters::embedded::store::{RedbItemStore, StreamSource};
use functions::ports::EventBus;
use http::{HeaderName, HeaderValue, Method};
use tokio::net::TcpListener;
use tower::layer::util::Stack;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::sigv4::{LocalCredentials, SigV4Verifier};
use crate::auth::{JwksSource, JwtAuthorizer, LocalIssuer, RemoteJwks};
use crate::cloudwatch::CloudWatch;
use crate::cloudwatch::table::MeteredStore;
use crate::faults::config::FaultyConfig;
use crate::faults::store::FaultyStore;
use crate::faults::{Faults, Kind, Target};
use crate::gateway::routes::RouteTable;
use crate::gateway::throttle::TokenBucket;
use crate::gateway::xray_sampling::XraySampler;
use crate::gateway::{FunctionCopies, FunctionHost, Gateway};
use crate::names;
use crate::settings::{AwsArgs, ServeArgs};
use crate::stream::aws_reader::DynamoDbStreamsShard;
use crate::stream::consumer::{ServiceConsumer, StreamConsumer};
use crate::stream::reader::{EmbeddedShard, ShardReader};
use crate::twin_api;
use crate::xray_daemon::XrayDaemon;

mod connection;
mod dispatch;
mod serving;
mod surfaces;

pub use surfaces::TWIN_SURFACES;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The stand-ins: redb, the pattern-matching bus with its log-group archive, the secret file.
/// The bus is also returned as itself: its rule counters become `AWS/Events` metrics; and the
/// store, whose stream the event source mapping reads.
fn embedded_state(
    dir: &std::path::Path,
    archive: Arc<LogArchive>,
    cloudwatch: &Arc<CloudWatch>,
    faults: &Arc<Faults>,
) -> Result<(AppState, Arc<EmbeddedBus>, Arc<RedbItemStore>), BoxError> {
    let redb = Arc::new(
        RedbItemStore::open(&dir.join("items.redb"))?.with_stream_source(StreamSource {
            region: names::REGION.to_owned(),
            stream_arn: names::items_stream_arn(),
        }),
    );
    // DynamoDB's own metrics, measured around the embedded store and its faults, as DynamoDB
    // counts the throttles it answers.
    let store = MeteredStore {
        inner: Arc::new(FaultyStore {
            inner: Arc::clone(&redb) as _,
            faults: Arc::clone(faults),
        }),
        cloudwatch: Arc::clone(cloudwatch),
        table: names::ITEMS_TABLE.to_owned(),
    };
    let rule = rule_from_pattern_json(
        names::ITEM_CREATED_RULE.to_owned(),
        functions::events::ITEM_CREATED_RULE_PATTERN,
        names::ARCHIVE_LOG_GROUP.to_owned(),
    )?;
    let target_faults = Arc::clone(faults);
    let bus = Arc::new(
        EmbeddedBus::new(
            names::EVENT_BUS.to_owned(),
            names::ACCOUNT_ID.to_owned(),
            names::REGION.to_owned(),
            vec![rule],
            archive,
        )
        .with_target_fault(Arc::new(move |_rule| {
            target_faults
                .fires(Target::Archive, Kind::Fail)
                .then(|| crate::faults::injected(Target::Archive, Kind::Fail))
        })),
    );
    let config = FileConfig::load_or_create(&dir.join("secret.json"))?;
    let state = AppState {
        store: Arc::new(store),
        bus: Arc::clone(&bus) as _,
        config: Arc::new(config),
    };
    Ok((state, bus, redb))
}

/// The bus and the configuration with their faults; the store has its own inside the
/// embedded stand-ins (under DynamoDB's metrics), and around the AWS adapter here.
fn with_faults(state: AppState, faults: &Arc<Faults>, store_too: bool) -> AppState {
    AppState {
        store: if store_too {
            Arc::new(FaultyStore {
                inner: state.store,
                faults: Arc::clone(faults),
            })
        } else {
            state.store
        },
        bus: Arc::new(FaultyBus::new(
            state.bus,
            crate::faults::bus::rejection(faults),
        )),
        config: Arc::new(FaultyConfig {
            inner: state.config,
            faults: Arc::clone(faults),
        }),
    }
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

/// The table's stream on DynamoDB Streams (`ListStreams` by table name), as the mapping's shard.
async fn aws_shard(args: &AwsArgs) -> Result<Arc<dyn ShardReader>, BoxError> {
    let sdk = functions::adapters::aws::sdk_config(args.aws_endpoint.as_deref()).await;
    let client = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let streams = client
        .list_streams()
        .table_name(&args.items_table)
        .send()
        .await
        .map_err(|e| format!("DynamoDB Streams ListStreams: {e:?}"))?;
    let arn = streams
        .streams()
        .first()
        .and_then(|s| s.stream_arn())
        .ok_or_else(|| format!("the table {} has no stream", args.items_table))?
        .to_owned();
    let region = sdk
        .region()
        .map_or_else(|| names::REGION.to_owned(), |r| r.to_string());
    Ok(Arc::new(DynamoDbStreamsShard::new(client, arn, region)))
}

/// The `item-events` function as the mapping invokes it: publishing on `bus`, its EMF
/// documents (service `item-events`) read as metrics, as on Lambda.
fn item_events_handler(
    bus: Arc<dyn EventBus>,
    cloudwatch: &Arc<CloudWatch>,
) -> Arc<dyn StreamConsumer> {
    let cloudwatch = Arc::clone(cloudwatch);
    let log_group = format!("/aws/lambda/{}", crate::stream::FUNCTION_NAME);
    let layer = telemetry::InvocationLayer::new()
        .with_service("item-events")
        .with_metrics_output(move |documents| {
            crate::output::write(&[documents.as_bytes()]);
            cloudwatch.ingest_emf(&log_group, documents);
        });
    Arc::new(ServiceConsumer(functions::item_events::service_with(
        bus, layer,
    )))
}

/// The `AWS_IAM` authorizer with the key of the flags, or the data folder's.
fn iam_authorizer(args: &ServeArgs, dir: &std::path::Path) -> Result<SigV4Verifier, BoxError> {
    let credentials = match (&args.iam.iam_access_key_id, &args.iam.iam_secret_access_key) {
        (Some(id), Some(secret)) => LocalCredentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
        },
        _ => LocalCredentials::load_or_create(dir)?,
    };
    Ok(SigV4Verifier::new(
        credentials,
        names::REGION,
        names::ACCOUNT_ID,
    ))
}

/// A twin bound to its address, ready to serve.
pub struct Twin {
    pub addr: SocketAddr,
    pub issuer_url: String,
    pub audience: String,
    listener: TcpListener,
    /// Threads that serve requests (see `serving`).
    threads: usize,
    app: Router,
    gateway: Arc<Gateway>,
    cors: CorsRules,
    cors_origins: Vec<String>,
    limits: serving::Limits,
}

/// A function as the gateway invokes it: `router` (made again for each serving thread, see
/// [`FunctionCopies`]) behind the telemetry layer.
fn function(
    name: &str,
    timeout: Duration,
    router: impl Fn() -> crate::faults::function::Misbehave<Router> + Send + Sync + 'static,
    cloudwatch: &Arc<CloudWatch>,
) -> FunctionHost {
    let function_name = format!("items-api-{name}");
    let lambda_metrics = cloudwatch.function_metrics(&function_name);
    let cloudwatch = Arc::clone(cloudwatch);
    let log_group = format!("/aws/lambda/{function_name}");
    // As on Lambda, the EMF documents are log lines (stdout) that CloudWatch also reads as
    // metrics: here, straight into the twin's metric store.
    let metrics = telemetry::RequestLayer::new()
        .with_service(name)
        .with_metrics_output(move |documents| {
            crate::output::write(&[documents.as_bytes()]);
            cloudwatch.ingest_emf(&log_group, documents);
        });
    FunctionHost {
        name: name.to_owned(),
        arn: format!(
            "arn:aws:lambda:{}:{}:function:{function_name}",
            names::REGION,
            names::ACCOUNT_ID
        ),
        timeout,
        // The `service` of the function's EMF, as on AWS (the process's is the twin's). Around
        // the router as a whole, as the Lambda binaries have it; each thread's service shares
        // the layer's settings and so the function's cold start.
        service: Arc::new(FunctionCopies::new(move || {
            tower::Layer::layer(&metrics, router())
        })),
        metrics: lambda_metrics,
    }
}

/// The API's CORS rules, answering with a fixed `Vary` of their own: tower-http's would join
/// its list of names into a new value on every response.
pub type CorsRules = Stack<CorsLayer, SetResponseHeaderLayer<HeaderValue>>;

/// What a CORS answer depends on, besides the path: the request's origin and a preflight's
/// method and headers (the list tower-http sends by default).
const CORS_VARY: &str = "origin, access-control-request-method, access-control-request-headers";

pub(crate) fn cors(origins: &[String]) -> Result<CorsRules, BoxError> {
    let allow_origin = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| HeaderValue::from_str(o))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    let rules = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            http::header::LOCATION,
            crate::gateway::REQUEST_ID_HEADER,
            HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(Duration::from_secs(300))
        .vary([]);
    // Outside the rules: a preflight, answered by them alone, has it too.
    let vary =
        SetResponseHeaderLayer::appending(http::header::VARY, HeaderValue::from_static(CORS_VARY));
    Ok(Stack::new(rules, vary))
}

impl Twin {
    /// Opens the data folder and binds the listener; nothing is served until [`Twin::serve`].
    pub async fn bind(args: &ServeArgs, xray: XrayDaemon) -> Result<Self, BoxError> {
        let dir = &args.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("data folder {}: {e}", dir.display()))?;
        let threads = serving::threads(args.serve_threads);
        let listener = serving::listen(args.addr, threads > 1)
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

        let cloudwatch = Arc::new(
            CloudWatch::load(&args.observability_dir, args.function_timeout)
                .map_err(|e| format!("the dashboards and alarms (--observability-dir): {e}"))?,
        );
        let faults = Arc::new(Faults::new(args.faults.iter().cloned()));
        // On AWS services the archive is the CloudWatch Logs group, not a local file.
        let (state, archive, bus, shard) = if args.aws.enabled {
            let state = with_faults(aws_state(&args.aws).await?, &faults, true);
            (state, None, None, aws_shard(&args.aws).await?)
        } else {
            let archive = Arc::new(LogArchive::open(dir.join("logs"))?);
            let (state, bus, store) =
                embedded_state(dir, Arc::clone(&archive), &cloudwatch, &faults)?;
            crate::stream::spawn_trim(Arc::clone(&store));
            let shard: Arc<dyn ShardReader> = Arc::new(EmbeddedShard { store });
            (
                with_faults(state, &faults, false),
                Some(archive),
                Some(bus),
                shard,
            )
        };
        // The stream's event source mapping, invoking `item-events`, which publishes on the
        // same bus (and its faults) as the API did.
        let mapping = crate::stream::start(crate::stream::Wiring {
            data_dir: dir,
            repo_dir: &args.observability_dir,
            args: &args.item_events,
            reader: shard,
            handler: item_events_handler(Arc::clone(&state.bus), &cloudwatch),
            faults: Arc::clone(&faults),
            cloudwatch: Arc::clone(&cloudwatch),
            timeout: Duration::from_secs(args.function_timeout),
            xray: XraySampler::new(args.xray_reservoir, args.xray_fixed_rate),
        })?;
        if let Some(bus) = bus {
            cloudwatch.watch_rules(Arc::new(move || {
                bus.rule_stats()
                    .into_iter()
                    .map(|r| {
                        (
                            r.rule,
                            r.matched_events,
                            r.invocations,
                            r.failed_invocations,
                        )
                    })
                    .collect()
            }));
        }
        crate::cloudwatch::spawn_background(
            Arc::clone(&cloudwatch),
            Duration::from_secs(args.alarm_evaluation_interval.max(1)),
        );

        let timeout = Duration::from_secs(args.function_timeout);
        let gateway = Arc::new(Gateway {
            routes: RouteTable::default(),
            throttle: TokenBucket::new(args.throttle_rate, args.throttle_burst),
            authorizer,
            sigv4: iam_authorizer(args, dir)?,
            public: function(
                "public",
                timeout,
                {
                    let faults = Arc::clone(&faults);
                    move || {
                        crate::faults::function::around(
                            functions::router::public_router(),
                            &faults,
                            Target::Public,
                        )
                    }
                },
                &cloudwatch,
            ),
            items: function(
                "items",
                timeout,
                {
                    let faults = Arc::clone(&faults);
                    move || {
                        crate::faults::function::around(
                            functions::router(state.clone()),
                            &faults,
                            Target::Items,
                        )
                    }
                },
                &cloudwatch,
            ),
            account_id: names::ACCOUNT_ID.to_owned(),
            api_id: names::API_ID.to_owned(),
            xray: xray.clone(),
            xray_sampler: XraySampler::new(args.xray_reservoir, args.xray_fixed_rate),
            cloudwatch: Arc::clone(&cloudwatch),
            faults: Arc::clone(&faults),
        });

        let cors = cors(&args.cors_origins)?;
        let fallback = Arc::clone(&gateway);
        let cloudwatch_api = Arc::clone(&cloudwatch);
        let app = Router::new()
            .merge(crate::auth::routes(
                Arc::clone(&issuer),
                crate::auth::AppClient::new(
                    args.audience.clone(),
                    &args.callback_urls,
                    &args.logout_urls,
                    addr.port(),
                ),
            ))
            .merge(twin_api::routes(twin_api::TwinState {
                archive: archive.clone(),
                faults,
                cloudwatch: Arc::clone(&cloudwatch),
                issuer: Arc::clone(&issuer),
                xray,
                stream: Some(Arc::clone(&mapping.status)),
                dlq: Some(mapping.dlq.clone()),
            }))
            .merge(crate::ops::routes(
                cloudwatch,
                archive,
                Some((mapping.status, mapping.dlq)),
            ))
            .merge(crate::web_app::routes(args.audience.clone()))
            .merge(crate::cloudwatch::query_protocol::routes(
                cloudwatch_api,
                &gateway.sigv4,
            ))
            .fallback(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
                    let gateway = Arc::clone(&fallback);
                    async move { gateway.handle(request, peer).await }
                },
            )
            // Each handler made a route once, not on every request (see `public_router`).
            // No CORS: these are the twin's own surfaces (see `dispatch`).
            .with_state(());
        let limits = serving::Limits::new(
            connection::Timeouts {
                header_read: Duration::from_secs(args.header_read_timeout),
                idle: Duration::from_secs(args.idle_timeout),
            },
            args.max_connections as usize,
        );
        Ok(Self {
            addr,
            issuer_url,
            audience: args.audience.clone(),
            listener,
            threads,
            app,
            gateway,
            cors,
            cors_origins: args.cors_origins.clone(),
            limits,
        })
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
    pub async fn serve(self) -> Result<(), BoxError> {
        let service = dispatch::Connections {
            app: self.app,
            gateway: self.gateway,
            cors: self.cors,
            cors_origins: self.cors_origins,
            guard: surfaces::Guard { bound: self.addr },
        };
        if self.threads > 1 {
            return serving::on_threads(
                self.listener,
                self.threads,
                service,
                self.limits,
                shutdown_signal(),
            )
            .await;
        }
        serving::serve(self.listener, service, self.limits, shutdown_signal()).await;
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
