//! What operators see: a request id and a `tracing` span per request, and Prometheus
//! metrics served on a listener of their own.
//!
//! Metrics go through the [`metrics`] facade, so any crate can record its own without a
//! handle (the names below are Tally's; insights records, for example,
//! `metrics::gauge!("tally_rollup_lag_statements").set(lag)` and
//! `metrics::counter!("tally_tickets_imported_total").increment(n)`). Until
//! [`install_metrics`] runs (the `tally` binary calls it unless metrics are off),
//! recording is a no-op.
//!
//! When the binary exports traces (OTLP), each request's span becomes a server span
//! named after its route, joined to the caller's trace when the request carries a W3C
//! `traceparent`, with the HTTP semantic-convention attributes set on it.
//!
//! Labels are bounded: routes are the matched route *pattern* (`/xapi/statements`, never
//! a raw path with ids in it), methods a fixed set, statuses the status code.

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{self, Data};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use store::Health;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header a request id comes in and goes back out in.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Requests answered, by `route`, `method` and `status`.
pub const HTTP_REQUESTS: &str = "tally_http_requests_total";
/// Time to answer a request (to the response head), by `route` and `method`.
pub const HTTP_DURATION: &str = "tally_http_request_duration_seconds";
/// Statements accepted by statement writes (re-sent equivalent ones included).
pub const STATEMENTS_INGESTED: &str = "tally_statements_ingested_total";
/// Statements per accepted statement request.
pub const BATCH_SIZE: &str = "tally_statement_batch_size";
/// Database connections: `state` = `open`, `idle`, `max`, `waiting`.
pub const DB_POOL: &str = "tally_db_pool_connections";
/// Whether the database answered the last readiness check or scrape (1) or not (0).
pub const DB_UP: &str = "tally_db_up";

/// The id of the request being served (an extension of the request).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// A client's request id is kept when it is short and plain; otherwise a new one is made.
fn accepted_request_id(value: Option<&HeaderValue>) -> Option<String> {
    let text = value?.to_str().ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '+' | '=');
    (!text.is_empty() && text.len() <= 128 && text.chars().all(plain)).then(|| text.to_string())
}

/// Request headers as a source of trace context (`traceparent`, `tracestate`).
struct TraceHeaders<'a>(&'a HeaderMap);

impl Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Middleware: gives every request an id (the client's `X-Request-Id` or a new one),
/// runs it inside a `request` span carrying that id, echoes the id in the response, and
/// records the request's route, status and latency. Without a trace exporter the span's
/// OpenTelemetry calls do nothing (the global propagator is a no-op until the binary
/// installs one).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = accepted_request_id(req.headers().get(&REQUEST_ID))
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = method_label(req.method());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        path = %req.path(),
        otel.kind = "server",
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&TraceHeaders(req.headers())));
    // Fails when no OpenTelemetry layer is installed (or the span is filtered out): then
    // there is no exported span to join, name or describe.
    let exported = span.set_parent(parent).is_ok();
    let result = next.call(req).instrument(span.clone()).await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            // Errors that escaped the handlers still get an answer with the id.
            let (status, route) = (error.as_response_error().status_code(), "unmatched");
            record(route, method, status.as_u16(), started);
            return Err(error);
        }
    };
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    record(&route, method, status, started);
    if exported {
        describe_for_traces(&span, method, &route, status);
    }
    span.in_scope(|| {
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(target: "tally::access", status, route, latency_ms, "request failed");
        } else {
            tracing::debug!(target: "tally::access", status, route, latency_ms, "request");
        }
    });
    Ok(response)
}

/// Names the span after its route and sets the HTTP semantic-convention attributes (as
/// OpenTelemetry attributes, so log lines are not crowded with them).
fn describe_for_traces(span: &tracing::Span, method: &'static str, route: &str, status: u16) {
    // The exported span exists by now (its parent was set), so it is renamed, not built.
    span.context().span().update_name(format!("{method} {route}"));
    span.set_attribute("http.request.method", method);
    span.set_attribute("http.route", route.to_string());
    span.set_attribute("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.set_status(opentelemetry::trace::Status::error(format!("HTTP {status}")));
    }
}

fn record(route: &str, method: &'static str, status: u16, started: Instant) {
    let route = route.to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
}

fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Records an accepted statement request of `statements` statements.
pub fn record_batch(statements: usize) {
    metrics::counter!(STATEMENTS_INGESTED).increment(statements as u64);
    metrics::histogram!(BATCH_SIZE).record(statements as f64);
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same
/// handle). Latencies and batch sizes are histograms with fixed buckets.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let latency = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
    let batch = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0];
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(HTTP_DURATION.into()), &latency)
        .and_then(|b| {
            b.set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(BATCH_SIZE.into()), &batch)
        })
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
    describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route pattern, method and status");
    metrics::describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "time to answer a request");
    metrics::describe_counter!(STATEMENTS_INGESTED, "statements accepted by statement writes");
    metrics::describe_histogram!(BATCH_SIZE, "statements per accepted statement request");
    metrics::describe_gauge!(DB_POOL, "database connections by state (open, idle, max, waiting)");
    metrics::describe_gauge!(DB_UP, "1 when the database answered the last check, else 0");
}

/// Serves `GET /metrics` (Prometheus text format) on its own listener, one worker. The
/// pool gauges are read from the store at each scrape.
pub fn serve_metrics<S: Health + Clone + 'static>(
    store: S,
    handle: PrometheusHandle,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(Data::new(store.clone()))
            .app_data(Data::new(handle.clone()))
            .route("/metrics", web::get().to(scrape::<S>))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(server)
}

async fn scrape<S: Health>(store: Data<S>, handle: Data<PrometheusHandle>) -> HttpResponse {
    let pool = store.pool_status();
    metrics::gauge!(DB_POOL, "state" => "open").set(pool.size as f64);
    metrics::gauge!(DB_POOL, "state" => "idle").set(pool.available as f64);
    metrics::gauge!(DB_POOL, "state" => "waiting").set(pool.waiting as f64);
    if let Some(max) = pool.max {
        metrics::gauge!(DB_POOL, "state" => "max").set(max as f64);
    }
    // A database that does not answer must not hold the scrape past Prometheus's timeout.
    let check = actix_web::rt::time::timeout(std::time::Duration::from_secs(2), store.readiness());
    let up = matches!(check.await, Ok(Ok(_)));
    metrics::gauge!(DB_UP).set(if up { 1.0 } else { 0.0 });
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_short_request_ids_are_kept_and_others_replaced() {
        let keep = HeaderValue::from_static("3f2a-9c1e.trace:1");
        assert_eq!(accepted_request_id(Some(&keep)).as_deref(), Some("3f2a-9c1e.trace:1"));
        for bad in ["", "has space", "line\tbreak", "<script>", &"x".repeat(129)] {
            let value = HeaderValue::from_str(bad).unwrap();
            assert_eq!(accepted_request_id(Some(&value)), None, "{bad:?}");
        }
    }
}
