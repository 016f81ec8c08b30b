//! Trace export to an OpenTelemetry collector over OTLP/HTTP (protobuf), when an endpoint
//! is configured. Spans are batched on the SDK's own thread and sent with a small
//! blocking client on `ureq` (already a dependency), so the export neither needs the
//! request runtime nor brings a second HTTP stack.

use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// How long one export may take before the batch is dropped (the collector is down or
/// stuck; requests are never held up by it).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a collector's reply that is read (replies are small status messages).
const MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// The collector URL for traces: the OTLP convention is a base URL to which the signal's
/// path is appended (`http://collector:4318` → `http://collector:4318/v1/traces`).
pub fn traces_url(endpoint: &str) -> Result<String> {
    let base = endpoint.trim().trim_end_matches('/');
    if base.starts_with("https://") {
        anyhow::bail!(
            "OTLP endpoint {endpoint}: TLS is not built in; send to a collector over http:// (a local agent or sidecar)"
        );
    }
    if !base.starts_with("http://") || base.len() == "http://".len() {
        anyhow::bail!("OTLP endpoint {endpoint}: expected http://host:port");
    }
    Ok(format!("{base}/v1/traces"))
}

/// A tracer provider that exports every finished span to `endpoint` in batches. The
/// service is named `tally` unless `OTEL_SERVICE_NAME` says otherwise; batch sizes and
/// delays follow the standard `OTEL_BSP_*` variables, extra headers `OTEL_EXPORTER_OTLP_HEADERS`.
pub fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint)?)
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(UreqClient::new())
        .build()
        .context("cannot set up the OTLP trace exporter")?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("tally");
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}

/// The exporter's HTTP client: a blocking `ureq` agent, run on the batch processor's
/// thread. Every reply is returned as it came (the exporter judges the status).
#[derive(Debug)]
struct UreqClient(ureq::Agent);

impl UreqClient {
    fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(EXPORT_TIMEOUT))
            .build();
        UreqClient(config.into())
    }
}

#[async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let reply = self.0.run(request.map(|body| body.to_vec()))?;
        let (head, mut body) = reply.into_parts();
        let bytes = body.with_config().limit(MAX_REPLY_BYTES).read_to_vec()?;
        Ok(Response::from_parts(head, Bytes::from(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_to_the_base_url() {
        assert_eq!(traces_url("http://collector:4318").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://127.0.0.1:4318/").unwrap(), "http://127.0.0.1:4318/v1/traces");
    }

    #[test]
    fn endpoints_that_cannot_be_reached_are_refused_at_start() {
        for bad in ["https://collector:4318", "collector:4318", "http://", ""] {
            assert!(traces_url(bad).is_err(), "{bad:?}");
        }
    }
}
