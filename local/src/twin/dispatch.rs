//! Each request to its part of the twin: a path of the twin's own surfaces (see [`surfaces`])
//! to its own routes, once their guard let it through, without CORS; any other path to the
//! gateway behind the API's CORS rules (its routes, and API Gateway's `404` for a path it has
//! no route for).
//!
//! The API's requests are nearly all a twin serves under load: they skip the router of the
//! twin's own pages, a lookup among them and the boxing of its handler, on every request.

use std::convert::Infallible;
use std::future::Ready;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Either};
use http::HeaderValue;
use tower::{Layer, Service};
use tower_http::cors::Cors;
use tower_http::set_header::SetResponseHeader;

use super::connection::{Requests, Tracked};
use super::surfaces::{self, Guard};
use crate::gateway::Gateway;

/// Makes one [`Dispatch`] per connection, knowing its peer.
#[derive(Clone)]
pub struct Connections {
    pub app: Router,
    pub gateway: Arc<Gateway>,
    pub cors: crate::twin::CorsRules,
    /// What `cors` was made from, to make it again for another serving thread.
    pub cors_origins: Vec<String>,
    pub guard: Guard,
}

impl Connections {
    /// The connections of another serving thread: the same twin, with CORS rules of its own.
    /// Their header values are counted references to one buffer, and every answer takes one
    /// and lets it go: rules shared by the threads would have both change the count on every
    /// request, moving it between their cores.
    pub fn for_thread(&self) -> Self {
        Self {
            cors: crate::twin::cors(&self.cors_origins)
                .expect("the origins were read when the twin was bound"),
            ..self.clone()
        }
    }

    /// The service of a connection from `peer` to `local`, telling `requests` of each request.
    pub fn connection(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
        requests: Arc<Requests>,
    ) -> Dispatch {
        Dispatch(Arc::new(Parts {
            peer,
            local,
            app: self.app.clone(),
            guard: self.guard,
            requests,
            api: Mutex::new(self.cors.layer(Api(Arc::new(Peer {
                gateway: Arc::clone(&self.gateway),
                peer,
            })))),
        }))
    }
}

/// The gateway behind the API's CORS rules.
type ApiService = SetResponseHeader<Cors<Api>, HeaderValue>;

/// One connection's requests, each to its part of the twin.
///
/// hyper clones the service for every request. Cloned field by field, that would touch the
/// reference counts of the app's router, the gateway and the CORS rules' header values, which
/// every connection shares, from both workers on every request; one count per connection
/// instead stays with the worker that serves it. The CORS service needs `&mut` to be called:
/// a lock of the connection's own, held only while a request is handed over.
#[derive(Clone)]
pub struct Dispatch(Arc<Parts>);

struct Parts {
    peer: SocketAddr,
    local: SocketAddr,
    app: Router,
    guard: Guard,
    requests: Arc<Requests>,
    api: Mutex<ApiService>,
}

type TwinFuture = Either<<Router as Service<Request>>::Future, Ready<Result<Response, Infallible>>>;

impl Service<Request> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Tracked<Either<<ApiService as Service<Request>>::Future, TwinFuture>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both parts are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let parts = &*self.0;
        let in_flight = parts.requests.dispatched();
        if !surfaces::is_twin_surface(request.uri().path()) {
            let mut api = parts.api.lock().unwrap_or_else(|e| e.into_inner());
            return Tracked::new(Either::Left(api.call(request)), in_flight);
        }
        if let Some(refusal) = parts.guard.refusal(&request, parts.local) {
            let answer = Either::Right(std::future::ready(Ok(refusal)));
            return Tracked::new(Either::Right(answer), in_flight);
        }
        // The twin's own handlers (and the gateway as fallback) read the peer from here.
        request.extensions_mut().insert(ConnectInfo(parts.peer));
        let answer = Service::<Request>::call(&mut parts.app.clone(), request);
        Tracked::new(Either::Right(Either::Left(answer)), in_flight)
    }
}

/// The gateway as a service, for one peer. Each request's future holds the connection's
/// count, not the gateway's, which every connection of both threads shares.
#[derive(Clone)]
pub struct Api(Arc<Peer>);

struct Peer {
    gateway: Arc<Gateway>,
    peer: SocketAddr,
}

impl Service<Request> for Api {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let connection = Arc::clone(&self.0);
        async move { Ok(connection.gateway.handle(request, connection.peer).await) }.boxed()
    }
}
