//! Entry points for fuzzers and robustness tests: the server's parsers of untrusted
//! input, callable synchronously on raw bytes. Each answers `Ok` or a client error; a
//! panic (or a server error for input alone) is the bug a fuzzer is looking for.
//!
//! Not an API for anything else: `fuzz/` (cargo-fuzz) and the stable-toolchain
//! robustness tests call these.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use actix_web::ResponseError;
use actix_web::web::Bytes;

use crate::{ApiError, AppConfig, limits, multipart, params, query};

/// Why an input was refused: its status (always a 4xx for a well-behaved parser) and
/// message.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal { status: error.status_code().as_u16(), message: error.to_string() }
    }
}

/// Parses a `multipart/mixed` statement request whose `Content-Type` is `content_type`,
/// fed in chunks of `chunk` bytes (delimiters straddle chunk edges). Answers the number
/// of attachment parts.
pub fn multipart(content_type: &str, body: &[u8], chunk: usize) -> Result<usize, Refusal> {
    let boundary = multipart::boundary(content_type)?;
    let chunks: Vec<Result<Bytes, std::convert::Infallible>> =
        body.chunks(chunk.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let limits = multipart::Limits { statements_bytes: 1 << 20, attachment_bytes: 4 << 20 };
    let received = run_ready(multipart::read(&boundary, futures_util::stream::iter(chunks), limits))?;
    Ok(received.attachments.len())
}

/// Parses a statement `GET` query string (every filter, `limit`, `more` tokens).
pub fn statements_get(query_string: &str) -> Result<(), Refusal> {
    params::parse_statements_get(query_string, 100)?;
    Ok(())
}

/// Parses a document resource's query string: `activityId`, `agent`, `registration`,
/// `since` and the id parameters.
pub fn document_params(query_string: &str) -> Result<(), Refusal> {
    let names = ["activityId", "agent", "registration", "stateId", "profileId", "since"];
    let params = query::QueryParams::parse(query_string, &names)?;
    params.iri("activityId")?;
    params.agent("agent")?;
    params.uuid("registration")?;
    params.timestamp("since")?;
    Ok(())
}

/// The limit checks a statements body passes before it is parsed.
pub fn statements_body_limits(body: &[u8]) -> Result<(), Refusal> {
    limits::check_statements_body(body, &AppConfig::default())?;
    Ok(())
}

/// Drives a future whose input is all in memory to completion: it never waits on
/// anything, so polling with a no-op waker finishes it.
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
