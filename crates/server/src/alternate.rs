//! The alternate request syntax (xAPI 1.0.3 Communication §1.3). A client that can send
//! only GET and POST and cannot set headers (Internet Explorer's XDomainRequest, some
//! proxies and embedded browsers) sends `POST <resource>?method=PUT` with a form body whose
//! fields carry the headers, the query parameters and the content. This middleware turns
//! such a request into the one it stands for before the scope routes it, so every resource
//! answers both syntaxes with the same handler.

use actix_web::ResponseError;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::uri::PathAndQuery;
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use xapi::Version;

use crate::version::VERSION_HEADER;
use crate::{ApiError, AppConfig};

/// The only query parameter of an alternate request: the method it stands for (§1.3.s3.b2).
const METHOD_PARAMETER: &str = "method";

/// The form field holding the request body (§1.3.s3.b4).
const CONTENT_FIELD: &str = "content";

/// Form fields that are headers (§1.3.s3.b6–b7), matched without regard to case, with the
/// spelling errors name them by.
const HEADER_FIELDS: [(HeaderName, &str); 6] = [
    (header::AUTHORIZATION, "Authorization"),
    (VERSION_HEADER, "X-Experience-API-Version"),
    (header::CONTENT_TYPE, "Content-Type"),
    (header::CONTENT_LENGTH, "Content-Length"),
    (header::IF_MATCH, "If-Match"),
    (header::IF_NONE_MATCH, "If-None-Match"),
];

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Whether an xAPI version has the alternate request syntax. xAPI 2.0.0 removed it, so a
/// request that names 2.0.0 (as a form field or a header) and uses it is refused.
pub fn alternate_syntax_allowed(version: Version) -> bool {
    match version {
        Version::V1_0 => true,
        Version::V2_0 => false,
    }
}

/// Rewrites an alternate request (`POST …?method=…` with a form body) into the request it
/// stands for: its method, headers, query and body. Other requests pass untouched. Runs
/// before the version check, since the version may arrive as a form field.
pub async fn translate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // Rejections answer in the version the request names, else the configured default.
    let fallback = req
        .headers()
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(Version::from_header)
        .or_else(|| req.app_data::<Data<AppConfig>>().map(|c| c.default_version))
        .unwrap_or(Version::V2_0);
    let method = match intended_method(req.method(), req.query_string()) {
        Ok(None) => return Ok(next.call(req).await?.map_into_left_body()),
        Ok(Some(method)) => method,
        Err(error) => return Ok(reject(req, fallback, error)),
    };
    let form = match read_form(&mut req).await {
        Ok(form) => form,
        Err(error) => return Ok(reject(req, fallback, error)),
    };
    if let Some(version) = form.version(req.headers())
        && !alternate_syntax_allowed(version)
    {
        let error = ApiError::bad_request(
            METHOD_PARAMETER,
            format!(
                "xAPI {} has no alternate request syntax; send a plain {method} request",
                version.header_value()
            ),
        );
        return Ok(reject(req, version, error));
    }
    let head_only = method == Method::HEAD;
    if let Err(error) = form.apply(&mut req, method) {
        return Ok(reject(req, fallback, error));
    }
    let response = next.call(req).await?;
    if head_only {
        // The client sent a POST, so whatever follows the headers is read as the body: a
        // HEAD answer must not have one.
        return Ok(response.map_body(|_, _| EitherBody::right(BoxBody::new(()))));
    }
    Ok(response.map_into_left_body())
}

/// The method an alternate request stands for; `None` when the request does not use the
/// syntax (has no `method` query parameter).
fn intended_method(method: &Method, query: &str) -> Result<Option<Method>, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    if !pairs.clone().any(|(name, _)| name == METHOD_PARAMETER) {
        return Ok(None);
    }
    // §1.3.s3.b1: alternate requests are POSTs.
    if method != Method::POST {
        return Err(ApiError::bad_request(
            METHOD_PARAMETER,
            format!(
                "the method parameter (alternate request syntax) is only for POST requests, not {method}"
            ),
        ));
    }
    let mut intended = None;
    for (name, value) in pairs {
        // §1.3.s3.b3: every other parameter travels in the form.
        if name != METHOD_PARAMETER {
            return Err(ApiError::bad_request(
                name.as_ref(),
                format!(
                    "an alternate request (?method=) takes no query parameter but method; send {name} as a form field"
                ),
            ));
        }
        if intended.replace(value).is_some() {
            return Err(ApiError::bad_request(METHOD_PARAMETER, "the method parameter is given twice"));
        }
    }
    let value = intended.unwrap_or_default();
    let method = match value.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        "PUT" => Method::PUT,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        _ => {
            return Err(ApiError::bad_request(
                METHOD_PARAMETER,
                format!("{value:?} is not an xAPI method; use GET, HEAD, PUT, POST or DELETE"),
            ));
        }
    };
    Ok(Some(method))
}

/// An alternate request's form, sorted into headers, query and content.
#[derive(Debug, Default, PartialEq)]
struct Form {
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The other fields, form-encoded again: the query of the request (§1.3.s3.b14).
    query: String,
    content: Option<String>,
}

async fn read_form(req: &mut ServiceRequest) -> Result<Form, ApiError> {
    let content_type =
        req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?")).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(FORM_CONTENT_TYPE) {
        return Err(ApiError::bad_request(
            "Content-Type",
            format!(
                "an alternate request (?method=) has a form body ({FORM_CONTENT_TYPE}), not {content_type:?}"
            ),
        ));
    }
    let body = req.extract::<Bytes>().await.map_err(|e| {
        if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!("the request body is too large: {e}"))
        } else {
            ApiError::bad_request("", format!("cannot read the request body: {e}"))
        }
    })?;
    Form::parse(&body)
}

impl Form {
    fn parse(body: &[u8]) -> Result<Form, ApiError> {
        let mut form = Form::default();
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(body) {
            if name == CONTENT_FIELD {
                // §1.3.s3.b5: the content is a UTF-8 string.
                if form.content.replace(value.into_owned()).is_some() {
                    return Err(ApiError::bad_request(
                        CONTENT_FIELD,
                        "the content form field is given twice",
                    ));
                }
            } else if let Some((header, label)) =
                HEADER_FIELDS.iter().find(|(header, _)| name.eq_ignore_ascii_case(header.as_str()))
            {
                if form.headers.iter().any(|(given, _)| given == header) {
                    return Err(ApiError::bad_request(
                        *label,
                        format!("the {label} form field is given twice"),
                    ));
                }
                let value = HeaderValue::from_str(&value).map_err(|_| {
                    ApiError::bad_request(*label, format!("{value:?} is not a valid {label}"))
                })?;
                form.headers.push((header.clone(), value));
            } else if is_parameter_name(&name) {
                query.append_pair(&name, &value);
            } else {
                // A JSON (or other) body sent under the form content type lands here.
                let start: String = name.chars().take(40).collect();
                return Err(ApiError::bad_request(
                    "Content-Type",
                    format!("the body is not form-encoded: {start:?}… is not a parameter name"),
                ));
            }
        }
        form.query = query.finish();
        Ok(form)
    }

    /// The version the request names: the form field, else the header.
    fn version(&self, headers: &HeaderMap) -> Option<Version> {
        self.header(&VERSION_HEADER)
            .or_else(|| headers.get(VERSION_HEADER))
            .and_then(|v| v.to_str().ok())
            .and_then(Version::from_header)
    }

    fn header(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.headers.iter().find(|(given, _)| given == name).map(|(_, value)| value)
    }

    /// Makes `req` the request the form stands for. Form headers replace real ones (a
    /// form's version wins over the header's); the content's type defaults to JSON; its
    /// length is the content's real length, whatever the form claims (JavaScript clients
    /// count UTF-16 units, not bytes).
    fn apply(self, req: &mut ServiceRequest, method: Method) -> Result<(), ApiError> {
        let mut parts = req.uri().clone().into_parts();
        let path = req.path();
        let path_and_query =
            if self.query.is_empty() { path.to_string() } else { format!("{path}?{}", self.query) };
        parts.path_and_query = Some(
            PathAndQuery::try_from(path_and_query)
                .map_err(|e| ApiError::Internal(format!("alternate request URI: {e}")))?,
        );
        let uri = Uri::from_parts(parts).map_err(|e| ApiError::Internal(format!("alternate URI: {e}")))?;
        let content = self.content.map(Bytes::from);
        let head = req.head_mut();
        head.method = method;
        head.uri = uri;
        let headers = &mut head.headers;
        // The real framing headers describe the form, not the content.
        for framing in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONTENT_ENCODING,
        ] {
            headers.remove(framing);
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        match &content {
            Some(content) => {
                if !headers.contains_key(header::CONTENT_TYPE) {
                    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content.len()));
            }
            None => {
                headers.remove(header::CONTENT_LENGTH);
            }
        }
        req.set_payload(Payload::from(content.unwrap_or_default()));
        Ok(())
    }
}

/// xAPI parameter names are ASCII words (`statementId`, `related_agents`, …).
fn is_parameter_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn reject<B>(req: ServiceRequest, version: Version, error: ApiError) -> ServiceResponse<EitherBody<B>> {
    let mut response = error.error_response();
    response.headers_mut().insert(VERSION_HEADER, HeaderValue::from_static(version.header_value()));
    req.into_response(response).map_into_right_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(error: ApiError) -> Option<String> {
        match error {
            ApiError::BadRequest { path, .. } => path,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn requests_without_a_method_parameter_are_not_alternate() {
        assert_eq!(intended_method(&Method::POST, "").unwrap(), None);
        assert_eq!(intended_method(&Method::GET, "statementId=1&limit=2").unwrap(), None);
    }

    #[test]
    fn the_method_parameter_names_the_intended_method() {
        for (value, method) in [
            ("GET", Method::GET),
            ("put", Method::PUT),
            ("POST", Method::POST),
            ("DELETE", Method::DELETE),
            ("HEAD", Method::HEAD),
        ] {
            let query = format!("method={value}");
            assert_eq!(intended_method(&Method::POST, &query).unwrap(), Some(method));
        }
    }

    #[test]
    fn bad_alternate_queries_are_rejected_naming_the_parameter() {
        let cases = [
            (Method::PUT, "method=PUT", "method"),
            (Method::GET, "method=GET", "method"),
            (Method::POST, "method=PATCH", "method"),
            (Method::POST, "method=", "method"),
            (Method::POST, "method=GET&method=PUT", "method"),
            (Method::POST, "method=PUT&statementId=x", "statementId"),
            (Method::POST, "limit=1&method=GET", "limit"),
        ];
        for (method, query, path) in cases {
            let error = intended_method(&method, query).expect_err(query);
            assert_eq!(path_of(error).as_deref(), Some(path), "{query}");
        }
    }

    #[test]
    fn form_fields_are_sorted_into_headers_query_and_content() {
        let body = b"statementId=abc&authorization=Basic%20eDp5&X-Experience-API-Version=1.0.3\
            &agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D&content=%7B%22a%22%3A+1%7D\
            &If-Match=%22e%22";
        let form = Form::parse(body).unwrap();
        assert_eq!(form.content.as_deref(), Some("{\"a\": 1}"));
        assert_eq!(form.query, "statementId=abc&agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D");
        assert_eq!(form.header(&header::AUTHORIZATION).unwrap(), "Basic eDp5");
        assert_eq!(form.header(&VERSION_HEADER).unwrap(), "1.0.3");
        assert_eq!(form.header(&header::IF_MATCH).unwrap(), "\"e\"");
        assert_eq!(form.version(&HeaderMap::new()), Some(Version::V1_0));
    }

    #[test]
    fn bad_forms_are_rejected() {
        let cases: [(&[u8], &str); 4] = [
            (b"content=a&content=b", "content"),
            (b"Authorization=a&authorization=b", "Authorization"),
            (b"If-None-Match=%0A", "If-None-Match"),
            (b"{\"statementId\":\"x\",\"content\":\"{}\"}", "Content-Type"),
        ];
        for (body, path) in cases {
            let error = Form::parse(body).expect_err(path);
            assert_eq!(path_of(error).as_deref(), Some(path));
        }
    }

    #[test]
    fn the_syntax_is_refused_under_xapi_2_0() {
        assert!(alternate_syntax_allowed(Version::V1_0));
        assert!(!alternate_syntax_allowed(Version::V2_0));
    }
}
