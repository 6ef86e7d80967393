//! The twin's CloudWatch endpoint for AWS SDKs and the CLI, at [`PATH`] on the twin's address:
//! the AWS Query protocol (a form-encoded `POST` with `Action` and `Version`, answered in XML),
//! which aws-sdk-cloudwatch 1.99 (the version `opsctl` is pinned to) speaks, signed with
//! Signature Version 4 for the `monitoring` service with the twin's IAM key. One action is
//! served: `GetMetricData` ([`super::get_metric_data`]).
//!
//! Clients set it as their endpoint: `--endpoint-url http://127.0.0.1:3000/_aws/cloudwatch`.
//! Errors are CloudWatch's: `<ErrorResponse>` with a `Sender` type, a code and a message; the
//! signature's codes are those of the common errors page
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html>).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{StatusCode, header};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::CloudWatch;
use super::get_metric_data::{self, Page, QueryInput, Refusal};
use crate::auth::sigv4::{SigV4Error, SigV4Verifier};
use crate::html::escape;

/// Where the endpoint is, under the twin's own surfaces.
pub const PATH: &str = "/_aws/cloudwatch";
/// CloudWatch's signing name, in every credential scope.
pub const SIGNING_NAME: &str = "monitoring";
const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// The largest form the endpoint reads: 500 queries of a few hundred bytes each fit.
const MAX_BODY: usize = 1024 * 1024;

struct Endpoint {
    cloudwatch: Arc<CloudWatch>,
    verifier: SigV4Verifier,
}

/// The endpoint's route; `verifier` holds the twin's IAM key (it is made for `monitoring`).
pub fn routes(cloudwatch: Arc<CloudWatch>, verifier: &SigV4Verifier) -> Router {
    let endpoint = Arc::new(Endpoint {
        cloudwatch,
        verifier: verifier.for_service(SIGNING_NAME),
    });
    Router::new()
        .route(PATH, post(handle))
        .route(&format!("{PATH}/"), post(handle))
        .with_state(endpoint)
}

async fn handle(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("The twin reads requests of at most {MAX_BODY} bytes."),
        );
    };
    if let Err(refusal) = endpoint.verifier.verify(
        parts.method.as_str(),
        &parts.uri,
        &parts.headers,
        &bytes,
        OffsetDateTime::now_utc(),
    ) {
        return error(
            StatusCode::FORBIDDEN,
            signature_code(&refusal),
            &refusal.message(),
        );
    }
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes) else {
        return error(
            StatusCode::BAD_REQUEST,
            "MalformedQueryString",
            "The request body is not a form.",
        );
    };
    let params: BTreeMap<String, String> = pairs.into_iter().collect();
    match params.get("Action").map(String::as_str) {
        Some("GetMetricData") => get_metric_data(&endpoint.cloudwatch, &params),
        Some(other) => error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!(
                "The action {other} is not valid for this web service (the twin serves GetMetricData)."
            ),
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "MissingAction",
            "The request must contain the parameter Action.",
        ),
    }
}

fn signature_code(refusal: &SigV4Error) -> &'static str {
    match refusal {
        SigV4Error::Unsigned => "MissingAuthenticationToken",
        SigV4Error::Malformed(_) | SigV4Error::Scope(_) => "IncompleteSignature",
        SigV4Error::UnknownKey(_) | SigV4Error::SessionToken => "InvalidClientTokenId",
        SigV4Error::Expired { .. } | SigV4Error::NotYetCurrent { .. } | SigV4Error::Mismatch => {
            "SignatureDoesNotMatch"
        }
    }
}

fn get_metric_data(cloudwatch: &CloudWatch, params: &BTreeMap<String, String>) -> Response {
    let request = match parse_request(params) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, "ValidationError", &message),
    };
    match get_metric_data::run(&cloudwatch.store, &request, cloudwatch.clock.now_secs()) {
        Ok(page) => xml(
            StatusCode::OK,
            render(&page, &uuid::Uuid::new_v4().to_string()),
        ),
        Err(Refusal::Validation(m)) => error(StatusCode::BAD_REQUEST, "ValidationError", &m),
        Err(Refusal::InvalidNextToken(m)) => error(StatusCode::BAD_REQUEST, "InvalidNextToken", &m),
    }
}

fn instant(params: &BTreeMap<String, String>, name: &str) -> Result<i64, String> {
    let text = params
        .get(name)
        .ok_or_else(|| format!("The parameter {name} is required."))?;
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| format!("The parameter {name} ({text}) is not an ISO 8601 date-time."))
}

/// The request from its form: `MetricDataQueries.member.N.…` to queries in the alarm files'
/// JSON shape.
pub fn parse_request(
    params: &BTreeMap<String, String>,
) -> Result<get_metric_data::Request, String> {
    let mut queries = Vec::new();
    for n in 1.. {
        let prefix = format!("MetricDataQueries.member.{n}.");
        let fields: BTreeMap<&str, &str> = params
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (&k[prefix.len()..], v.as_str()))
            .collect();
        if fields.is_empty() {
            break;
        }
        queries.push(query(&fields).map_err(|e| format!("MetricDataQueries.member.{n}: {e}"))?);
    }
    let scan_by_ascending = match params.get("ScanBy").map(String::as_str) {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(format!(
                "The value {other} for parameter ScanBy is not TimestampAscending or TimestampDescending."
            ));
        }
    };
    let max_datapoints = match params.get("MaxDatapoints") {
        None => get_metric_data::DEFAULT_MAX_DATAPOINTS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!("The parameter MaxDatapoints ({text}) is not a positive whole number.")
            })?,
    };
    if params.contains_key("LabelOptions.Timezone") {
        return Err("The twin writes labels as given: leave out LabelOptions.".into());
    }
    Ok(get_metric_data::Request {
        queries,
        start: instant(params, "StartTime")?,
        end: instant(params, "EndTime")?,
        scan_by_ascending,
        max_datapoints,
        next_token: params.get("NextToken").cloned(),
    })
}

fn query(fields: &BTreeMap<&str, &str>) -> Result<QueryInput, String> {
    let get = |k: &str| fields.get(k).copied();
    let period = |k: &str| -> Result<Option<i64>, String> {
        get(k)
            .map(|p| {
                p.parse::<i64>()
                    .map_err(|_| format!("{k} ({p}) is not a number"))
            })
            .transpose()
    };
    if get("MetricStat.Unit").is_some() {
        return Err("the twin does not filter by Unit: leave out MetricStat.Unit".into());
    }
    let mut q = json!({});
    for key in ["Id", "Expression", "Label", "AccountId"] {
        if let Some(v) = get(key) {
            q[key] = json!(v);
        }
    }
    if let Some(v) = get("ReturnData") {
        q["ReturnData"] = json!(v == "true");
    }
    let has_stat = fields.keys().any(|k| k.starts_with("MetricStat."));
    let mut period_of_query = period("Period")?;
    if has_stat {
        let dimensions: Vec<Value> = (1..)
            .map_while(|m| {
                let name = get(&format!("MetricStat.Metric.Dimensions.member.{m}.Name"))?;
                let value = get(&format!("MetricStat.Metric.Dimensions.member.{m}.Value"));
                Some(json!({"Name": name, "Value": value.unwrap_or_default()}))
            })
            .collect();
        q["MetricStat"] = json!({
            "Metric": {
                "Namespace": get("MetricStat.Metric.Namespace"),
                "MetricName": get("MetricStat.Metric.MetricName"),
                "Dimensions": dimensions,
            },
            "Stat": get("MetricStat.Stat"),
        });
        period_of_query = period("MetricStat.Period")?.or(period_of_query);
    }
    Ok(QueryInput {
        query: q,
        period: period_of_query,
    })
}

fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The page as CloudWatch's XML answer.
pub fn render(page: &Page, request_id: &str) -> String {
    let mut out = format!(
        "<GetMetricDataResponse xmlns=\"{XMLNS}\"><GetMetricDataResult><MetricDataResults>"
    );
    for r in &page.results {
        let _ = write!(
            out,
            "<member><Id>{}</Id><Label>{}</Label><Timestamps>",
            escape(&r.id),
            escape(&r.label)
        );
        for (t, _) in &r.points {
            let _ = write!(out, "<member>{}</member>", rfc3339(*t));
        }
        out.push_str("</Timestamps><Values>");
        for (_, v) in &r.points {
            let _ = write!(out, "<member>{v}</member>");
        }
        let status = if r.partial { "PartialData" } else { "Complete" };
        let _ = write!(out, "</Values><StatusCode>{status}</StatusCode></member>");
    }
    out.push_str("</MetricDataResults>");
    if let Some(token) = &page.next_token {
        let _ = write!(out, "<NextToken>{}</NextToken>", escape(token));
    }
    let _ = write!(
        out,
        "<Messages/></GetMetricDataResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetMetricDataResponse>"
    );
    out
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(message),
            uuid::Uuid::new_v4()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_form_becomes_queries_of_the_alarm_files_shape() {
        let params = form(&[
            ("Action", "GetMetricData"),
            ("MetricDataQueries.member.1.Id", "requests"),
            (
                "MetricDataQueries.member.1.MetricStat.Metric.Namespace",
                "AWS/ApiGateway",
            ),
            (
                "MetricDataQueries.member.1.MetricStat.Metric.MetricName",
                "Count",
            ),
            (
                "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name",
                "ApiId",
            ),
            (
                "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value",
                "a1",
            ),
            ("MetricDataQueries.member.1.MetricStat.Period", "60"),
            ("MetricDataQueries.member.1.MetricStat.Stat", "Sum"),
            ("MetricDataQueries.member.1.ReturnData", "false"),
            ("MetricDataQueries.member.2.Id", "rate"),
            ("MetricDataQueries.member.2.Expression", "requests / 60"),
            ("StartTime", "2026-12-08T00:00:00Z"),
            ("EndTime", "2026-12-08T01:00:00Z"),
            ("ScanBy", "TimestampAscending"),
        ]);
        let request = parse_request(&params).unwrap();
        assert_eq!(request.queries.len(), 2);
        assert_eq!(
            request.queries[0].query,
            json!({"Id": "requests", "ReturnData": false, "MetricStat": {
                "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "Count",
                    "Dimensions": [{"Name": "ApiId", "Value": "a1"}]},
                "Stat": "Sum"}})
        );
        assert_eq!(request.queries[0].period, Some(60));
        assert_eq!(
            request.queries[1].query,
            json!({"Id": "rate", "Expression": "requests / 60"})
        );
        assert_eq!(request.end - request.start, 3600);
        assert!(request.scan_by_ascending);
        assert_eq!(request.max_datapoints, 100_800);

        let mut bad = params.clone();
        bad.insert("ScanBy".into(), "Sideways".into());
        assert!(parse_request(&bad).unwrap_err().contains("Sideways"));
        bad = params.clone();
        bad.remove("EndTime");
        assert!(parse_request(&bad).unwrap_err().contains("EndTime"));
    }

    #[test]
    fn the_answer_is_cloudwatchs_xml() {
        let page = Page {
            results: vec![get_metric_data::ResultPage {
                id: "good".into(),
                label: "good <requests>".into(),
                points: vec![(1_800_000_000, 499.0), (1_800_000_060, 0.5)],
                partial: true,
            }],
            next_token: Some("2".into()),
        };
        let xml = render(&page, "r1");
        assert!(xml.starts_with("<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetMetricDataResult><MetricDataResults><member><Id>good</Id><Label>good &lt;requests&gt;</Label>"), "{xml}");
        assert!(xml.contains("<Timestamps><member>2027-01-15T08:00:00Z</member><member>2027-01-15T08:01:00Z</member></Timestamps><Values><member>499</member><member>0.5</member></Values><StatusCode>PartialData</StatusCode>"), "{xml}");
        assert!(xml.contains("<NextToken>2</NextToken>"), "{xml}");
    }
}
