//! Cross-origin resource sharing, so xAPI clients in web pages on other origins (TinCanJS,
//! xAPI.js, ADL's xAPIWrapper, cmi5 players) can use every xAPI resource. It wraps the
//! whole `/xapi` scope, outside the version check and authentication: a browser's
//! preflight carries neither.

use actix_cors::Cors;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};
use actix_web::http::uri::Uri;

use crate::version::VERSION_HEADER;

/// Response headers scripts on other origins may read: the document and paging headers
/// clients act on (xAPI 1.0.3 Communication §1.2, §2.2, §3.1).
const EXPOSED_HEADERS: [HeaderName; 5] = [
    header::ETAG,
    header::LAST_MODIFIED,
    HeaderName::from_static("x-experience-api-consistent-through"),
    VERSION_HEADER,
    header::CONTENT_TYPE,
];

/// How long a browser may reuse a preflight's answer, in seconds (browsers cap it lower:
/// Chromium at two hours).
const PREFLIGHT_MAX_AGE: usize = 86_400;

/// The CORS policy of the xAPI resources. `allowed_origins` empty (or holding `*`) allows
/// every origin; otherwise only those listed (see [`normalize_origin`]; invalid entries are
/// logged and left out).
///
/// - Preflights are answered here, without credentials or a version header, for the
///   methods xAPI uses.
/// - Any request header is allowed: a preflight is answered with the headers it asks for
///   (X-Experience-API-Version, Authorization, Content-Type, If-Match, If-None-Match,
///   X-Experience-API-Hash, Accept-Language, and whatever else a client sends). Headers
///   grant nothing by themselves; the credential check does.
/// - Credentialed requests work: the answer names the request's origin (never `*`) and
///   carries `Access-Control-Allow-Credentials: true`, which clients that set
///   `withCredentials` need.
/// - With a list, a request whose `Origin` is not on it is refused with 400 before it
///   reaches a resource, preflight or not. Browsers send some cross-origin requests
///   without a preflight (form POSTs, which is what the alternate request syntax is), so
///   withholding only the answer would still let any page write with a credential the
///   browser holds. Requests without `Origin` (servers, command-line tools) are unaffected.
pub fn policy(allowed_origins: &[String]) -> Cors {
    let cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_any_header()
        .expose_headers(EXPOSED_HEADERS)
        .supports_credentials()
        .max_age(PREFLIGHT_MAX_AGE);
    let origins: Vec<String> = allowed_origins
        .iter()
        .filter_map(|origin| match normalize_origin(origin) {
            Ok(origin) => Some(origin),
            Err(error) => {
                tracing::error!(%error, "CORS: ignoring an allowed origin");
                None
            }
        })
        .collect();
    if allowed_origins.is_empty() || origins.iter().any(|o| o == "*") {
        return cors.allow_any_origin();
    }
    origins.iter().fold(cors.block_on_origin_mismatch(true), |cors, origin| cors.allowed_origin(origin))
}

/// Checks an allowed origin from configuration and writes it the way browsers send it in
/// `Origin`: `scheme://host[:port]` in lower case, without a trailing slash. `*` stands for
/// any origin.
pub fn normalize_origin(origin: &str) -> Result<String, String> {
    let trimmed = origin.trim().trim_end_matches('/');
    if trimmed == "*" {
        return Ok(trimmed.to_string());
    }
    let invalid =
        || format!("{origin:?} is not an origin (scheme://host[:port], e.g. https://lms.example.com)");
    let uri: Uri = trimmed.parse().map_err(|_| invalid())?;
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority))
            if matches!(uri.path(), "" | "/")
                && uri.query().is_none()
                && !authority.as_str().contains('@') =>
        {
            Ok(format!("{scheme}://{authority}").to_ascii_lowercase())
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        assert_eq!(normalize_origin(" https://LMS.Example.com/ ").unwrap(), "https://lms.example.com");
        assert_eq!(normalize_origin("http://localhost:3000").unwrap(), "http://localhost:3000");
        assert_eq!(normalize_origin("capacitor://localhost").unwrap(), "capacitor://localhost");
        assert_eq!(normalize_origin("*").unwrap(), "*");
    }

    #[test]
    fn urls_that_are_not_origins_are_refused() {
        for bad in [
            "",
            "lms.example.com",
            "https://lms.example.com/path",
            "https://lms.example.com?x=1",
            "https://user@lms.example.com",
            "https://",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad:?}");
        }
    }
}
