//! Liveness and readiness for load balancers and orchestrators: `GET /health` answers
//! while the process serves HTTP; `GET /ready` only when the store answers too.

use actix_web::HttpResponse;
use actix_web::web::Data;
use serde_json::json;
use store::Store;

/// `GET /health`: the process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /ready`: the store answers (and its migrations ran, which opening it ensures).
pub async fn ready<S: Store>(store: Data<S>) -> HttpResponse {
    match store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .json(json!({ "status": "unavailable", "error": { "status": 503, "message": "the database is unavailable" } }))
        }
    }
}
