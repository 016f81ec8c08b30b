//! Liveness and readiness for load balancers and orchestrators: `GET /health` answers
//! while the process serves HTTP; `GET /ready` only when the store answers too, with
//! every migration this binary knows applied.

use actix_web::HttpResponse;
use actix_web::web::Data;
use serde_json::json;
use store::Health;

use crate::observability::DB_UP;

/// `GET /health`: the process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /ready`: the store answers and its schema is current (one small query).
pub async fn ready<S: Health + 'static>(store: Data<S>) -> HttpResponse {
    let unavailable = |message: &str, detail: serde_json::Value| {
        HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(json!({
            "status": "unavailable",
            "migrations": detail,
            "error": { "status": 503, "message": message },
        }))
    };
    match store.readiness().await {
        Ok(readiness) if readiness.migrations_current() => {
            metrics::gauge!(DB_UP).set(1.0);
            HttpResponse::Ok().json(json!({
                "status": "ready",
                "migrations": { "current": true, "applied": readiness.schema_version },
            }))
        }
        Ok(readiness) => {
            tracing::warn!(
                applied = readiness.schema_version,
                expected = readiness.expected_version,
                "not ready: migrations are pending"
            );
            unavailable(
                "the database schema is behind this server; run `tally migrate`",
                json!({ "current": false, "applied": readiness.schema_version, "expected": readiness.expected_version }),
            )
        }
        Err(error) => {
            metrics::gauge!(DB_UP).set(0.0);
            tracing::warn!(%error, "not ready");
            unavailable("the database is unavailable", serde_json::Value::Null)
        }
    }
}
