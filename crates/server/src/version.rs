//! The `X-Experience-API-Version` header: required on every xAPI request but `/about`,
//! and sent on every xAPI response (xAPI 1.0.3 Communication §3.3).

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError};
use xapi::Version;

use actix_web::web::Data;

use crate::{ApiError, AppConfig};

pub const VERSION_HEADER: HeaderName = HeaderName::from_static("x-experience-api-version");

/// The xAPI version of the current request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XapiVersion(pub Version);

/// Checks the request's version header, records it for the handlers, and stamps the
/// response with the version the LRS answered in.
pub async fn negotiate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let exempt = req.path().trim_end_matches('/').ends_with("/about");
    let fallback = req.app_data::<Data<AppConfig>>().map_or(Version::V1_0, |c| c.default_version);
    let header = req.headers().get(&VERSION_HEADER).map(|v| v.to_str().unwrap_or(""));
    let version = match header.map(Version::from_header) {
        Some(Some(version)) => version,
        _ if exempt => fallback,
        None => {
            return Ok(reject(req, fallback, "the X-Experience-API-Version header is required"));
        }
        Some(None) => {
            let message = format!(
                "X-Experience-API-Version {:?} is not supported; use 1.0.3 or 2.0.0",
                header.unwrap_or_default()
            );
            return Ok(reject(req, fallback, &message));
        }
    };
    req.extensions_mut().insert(XapiVersion(version));
    let mut response = next.call(req).await?;
    response.headers_mut().insert(VERSION_HEADER, HeaderValue::from_static(version.header_value()));
    Ok(response.map_into_left_body())
}

fn reject<B>(req: ServiceRequest, version: Version, message: &str) -> ServiceResponse<EitherBody<B>> {
    let mut response = ApiError::bad_request("X-Experience-API-Version", message).error_response();
    response.headers_mut().insert(VERSION_HEADER, HeaderValue::from_static(version.header_value()));
    req.into_response(response).map_into_right_body()
}

impl FromRequest for XapiVersion {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req.extensions().get::<XapiVersion>().copied().unwrap_or(XapiVersion(Version::V1_0))))
    }
}
