//! What the gateway tells the function about a request, read the same way in Lambda and in the
//! twin: both hand the router an API Gateway payload 2.0 event converted by `lambda_http`.

use axum::extract::FromRequestParts;
use http::request::Parts;
use lambda_http::request::RequestContext;

use super::problem::{Kind, Problem};
use crate::domain::{Origin, limits};

/// The ids of one request: API Gateway's request id and the X-Ray trace root and header.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub trace_id: Option<String>,
    pub trace_header: Option<String>,
    pub path: String,
}

impl RequestMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        // The telemetry crate reads the ids for the log lines; the handlers read the same ones.
        let ids = telemetry::RequestIds::from_parts(parts);
        Self {
            request_id: ids.request_id,
            trace_id: ids.xray_trace_id,
            trace_header: ids.trace_header,
            path: parts.uri.path().to_owned(),
        }
    }

    /// This request as the origin of what it creates or publishes.
    pub fn origin(&self) -> Origin {
        Origin {
            request_id: self.request_id.clone(),
            trace_header: self.trace_header.clone(),
        }
    }

    pub fn problem(&self, kind: Kind, detail: impl Into<String>) -> Problem {
        Problem::new(kind, detail, &self.request_id).with_instance(&self.path)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// The signed-in caller: the `sub` claim that the gateway's JWT authorizer verified and placed
/// at `requestContext.authorizer.jwt.claims`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let sub = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .and_then(|jwt| jwt.claims.get("sub"))
                // A partition key DynamoDB accepts; Cognito's subs are 36 bytes.
                .filter(|sub| !sub.is_empty() && sub.len() <= limits::OWNER_MAX_BYTES)
                .cloned(),
            _ => None,
        };
        // Only reachable if a route is deployed without its authorizer: refuse, never guess.
        sub.map(|sub| Caller { sub }).ok_or_else(|| {
            RequestMeta::from_parts(parts).problem(
                Kind::Unauthorized,
                format!(
                    "no verified `sub` claim (of at most {} bytes) in the request context",
                    limits::OWNER_MAX_BYTES
                ),
            )
        })
    }
}
