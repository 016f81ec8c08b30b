//! `GET /xapi/about` (xAPI 1.0.3 Communication §2.8): no authentication, no version header.

use actix_web::HttpResponse;
use serde_json::json;

/// The xAPI versions this LRS speaks.
pub const SUPPORTED_VERSIONS: &[&str] = &["1.0.3", "2.0.0"];

pub async fn about() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "version": SUPPORTED_VERSIONS, "extensions": {} }))
}
