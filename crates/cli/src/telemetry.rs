//! Logging, tracing and metrics set-up for the binary: one subscriber for the whole
//! process (human-readable or JSON lines on stderr, colour only on a terminal, and spans
//! exported over OTLP when an endpoint is configured), and the Prometheus listener.

use std::io::IsTerminal;
use std::net::TcpListener;

use actix_web::dev::Server;
use anyhow::Result;
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use store::Health;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Installs the global `tracing` subscriber. The filter comes from `TALLY_LOG`
/// (env-filter syntax); per-request lines are at `debug` under the `tally::access`
/// target (`TALLY_LOG=info,tally::access=debug`), and every event inside a request
/// carries its `request_id`. With `otlp_endpoint`, the spans the filter lets through are
/// also exported, and incoming W3C `traceparent` headers are honoured.
pub fn init_tracing(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry> {
    let filter =
        EnvFilter::try_from_env("TALLY_LOG").unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(false).boxed(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).boxed(),
    };
    let provider = otlp_endpoint.map(crate::otlp::tracer_provider).transpose()?;
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("tally")));
    if provider.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
    tracing_subscriber::registry().with(filter).with(logs).with(traces).init();
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, "exporting traces over OTLP/HTTP");
    }
    Ok(Telemetry { provider })
}

/// What must outlive the process's work: the trace exporter, whose last batch is sent
/// by [`Telemetry::shutdown`].
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still queued (bounded by the export timeout) and stops exporting.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("tally: the last traces could not be exported: {error}");
        }
    }
}

/// Starts the metrics listener on `bind` (`off` disables it). A listener that cannot be
/// bound is logged and skipped: metrics never keep the LRS from serving (two processes on
/// one host would otherwise collide on the default port).
pub fn serve_metrics<S: Health + Clone + 'static>(bind: &str, store: S) -> Result<Option<Server>> {
    if bind.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let handle = server::observability::install_metrics().map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    let listener = match TcpListener::bind(bind) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, bind, "cannot listen for metrics; /metrics is off (set --metrics-bind)");
            return Ok(None);
        }
    };
    let address = listener.local_addr()?;
    let server = server::observability::serve_metrics(store, handle, listener)?;
    tracing::info!(%address, "metrics at http://{address}/metrics");
    Ok(Some(server))
}
