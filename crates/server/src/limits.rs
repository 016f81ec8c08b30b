//! Limits on what one request may cost, checked before the expensive work: header size,
//! how slowly a body may arrive, how deeply statement JSON nests and how many statements
//! one request carries. (Body, document and attachment sizes are enforced where the body
//! is read; `limit` on queries by the query parser.)
//!
//! Every refusal is a 4xx with the LRS's JSON error naming the limit, so a client knows
//! which setting it ran into.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpMessage, ResponseError};
use futures_util::{Stream, StreamExt};

use crate::{ApiError, AppConfig};

/// What a cheap scan of a JSON body found: how deep it nests and, when it is an array,
/// how many items it holds at the top level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonShape {
    pub depth: usize,
    pub top_level_items: Option<usize>,
}

/// Scans JSON text without parsing it: nesting depth (outside strings) and the number of
/// top-level array items. Stops early once `max_depth` is exceeded. Malformed JSON is
/// not reported here; the parser does that.
pub fn json_shape(body: &[u8], max_depth: usize) -> JsonShape {
    let mut shape = JsonShape::default();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // For a top-level array: commas at depth 1, and whether anything follows its `[`.
    let mut top_is_array = None;
    let mut commas = 0usize;
    let mut non_empty = false;
    for &byte in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        if depth == 1 && top_is_array == Some(true) && !byte.is_ascii_whitespace() && byte != b']' {
            non_empty = true;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                if depth == 0 && top_is_array.is_none() {
                    top_is_array = Some(byte == b'[');
                }
                depth += 1;
                shape.depth = shape.depth.max(depth);
                if depth > max_depth {
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => commas += 1,
            _ => {}
        }
    }
    if top_is_array == Some(true) {
        shape.top_level_items = Some(if non_empty { commas + 1 } else { 0 });
    }
    shape
}

/// Refuses a statements body that nests deeper than `max_json_depth` (400) or carries
/// more than `max_batch_statements` statements (413), before it is parsed.
pub fn check_statements_body(body: &[u8], config: &AppConfig) -> Result<(), ApiError> {
    let shape = json_shape(body, config.max_json_depth);
    if shape.depth > config.max_json_depth {
        return Err(ApiError::bad_request(
            "",
            format!("the JSON nests deeper than {} levels (the max_json_depth limit)", config.max_json_depth),
        ));
    }
    if let Some(items) = shape.top_level_items
        && items > config.max_batch_statements
    {
        return Err(ApiError::PayloadTooLarge(format!(
            "the batch holds {items} statements; at most {} are accepted per request (the \
             max_batch_statements limit)",
            config.max_batch_statements
        )));
    }
    Ok(())
}

/// Middleware: refuses requests whose headers add up to more than `max_header_bytes`
/// (431), and bounds how long a body may stall: when no byte arrives for
/// `body_idle_timeout`, the request is answered 408 and the connection closed, so slow
/// clients cannot hold workers and memory.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(config) = req.app_data::<Data<AppConfig>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let header_bytes: usize =
        req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > config.max_header_bytes {
        let error = ApiError::HeadersTooLarge(format!(
            "the request headers take {header_bytes} bytes; at most {} are accepted (the max_header_bytes limit)",
            config.max_header_bytes
        ));
        let (req, _) = req.into_parts();
        return Ok(ServiceResponse::new(req, error.error_response()).map_into_right_body());
    }
    let timed_out = Rc::new(Cell::new(false));
    let payload = req.take_payload();
    let guarded = idle_timeout(payload, config.body_idle_timeout, timed_out.clone());
    req.set_payload(Payload::Stream { payload: Box::pin(guarded) });
    let response = next.call(req).await?;
    if !timed_out.get() {
        return Ok(response.map_into_left_body());
    }
    // Whatever the handler made of the broken body, the answer is a timeout.
    let error = ApiError::RequestTimeout(format!(
        "no part of the request body arrived for {} ms (the body_idle_timeout limit)",
        config.body_idle_timeout.as_millis()
    ));
    let (req, _) = response.into_parts();
    let mut answer = error.error_response();
    answer.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    answer.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
    Ok(ServiceResponse::new(req, answer).map_into_right_body())
}

/// The payload, ending with an error once no chunk has arrived for `limit`.
fn idle_timeout(
    payload: Payload,
    limit: Duration,
    timed_out: Rc<Cell<bool>>,
) -> impl Stream<Item = Result<Bytes, PayloadError>> {
    // Fused: readers such as multipart parsers poll again after the end.
    let stream = futures_util::stream::unfold(Some(payload), move |state| {
        let timed_out = timed_out.clone();
        async move {
            let mut payload = state?;
            match actix_web::rt::time::timeout(limit, payload.next()).await {
                Ok(Some(item)) => Some((item, Some(payload))),
                Ok(None) => None,
                Err(_) => {
                    timed_out.set(true);
                    let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body stalled");
                    Some((Err(PayloadError::Io(error)), None))
                }
            }
        }
    });
    stream.fuse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_and_top_level_items_are_counted_outside_strings() {
        let shape = json_shape(br#"[{"a":[1,2,{"b":"[[[,,,"}]}, {"c":"\"]"}, 3]"#, 100);
        assert_eq!(shape, JsonShape { depth: 4, top_level_items: Some(3) });
        assert_eq!(json_shape(b"[ ]", 100).top_level_items, Some(0));
        assert_eq!(json_shape(b" [\n{}\n] ", 100).top_level_items, Some(1));
        assert_eq!(json_shape(br#"{"a":[1,2,3]}"#, 100), JsonShape { depth: 2, top_level_items: None });
        assert_eq!(json_shape(b"\"[[[\"", 100), JsonShape { depth: 0, top_level_items: None });
    }

    #[test]
    fn the_scan_stops_past_the_limit() {
        let deep = "[".repeat(1_000_000);
        assert_eq!(json_shape(deep.as_bytes(), 10).depth, 11);
    }

    #[test]
    fn statements_bodies_over_a_limit_name_it() {
        let config = AppConfig { max_json_depth: 5, max_batch_statements: 2, ..AppConfig::default() };
        let deep = format!("{}{}", "[".repeat(6), "]".repeat(6));
        let err = check_statements_body(deep.as_bytes(), &config).unwrap_err();
        assert!(
            matches!(&err, ApiError::BadRequest { message, .. } if message.contains("max_json_depth")),
            "{err:?}"
        );
        let err = check_statements_body(b"[{},{},{}]", &config).unwrap_err();
        assert!(
            matches!(&err, ApiError::PayloadTooLarge(m) if m.contains("max_batch_statements")),
            "{err:?}"
        );
        assert!(check_statements_body(b"[{},{}]", &config).is_ok());
        assert!(check_statements_body(b"{\"a\":{\"b\":{}}}", &config).is_ok());
    }
}
