//! Logging and metrics set-up for the binary: one subscriber for the whole process
//! (human-readable or JSON lines on stderr, colour only on a terminal), and the
//! Prometheus listener.

use std::io::IsTerminal;
use std::net::TcpListener;

use actix_web::dev::Server;
use anyhow::Result;
use store::Health;

use crate::config::LogFormat;

/// Installs the global `tracing` subscriber. The filter comes from `TALLY_LOG`
/// (env-filter syntax); per-request lines are at `debug` under the `tally::access`
/// target (`TALLY_LOG=info,tally::access=debug`), and every event inside a request
/// carries its `request_id`.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TALLY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
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
