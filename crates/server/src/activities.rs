//! `GET /xapi/activities?activityId=…` (xAPI 1.0.3 Communication §2.5): the Activity with
//! the definition the LRS holds, merged from the statements it accepted.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};
use store::{ActivityReader, CredentialReader, TenantReader};

use crate::auth::authenticate;
use crate::query::QueryParams;
use crate::{ApiError, AppConfig};

pub async fn get<S: ActivityReader + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config).await?;
    principal.require(crate::scopes::DEFINITIONS_READ)?;
    let params = QueryParams::parse(req.query_string(), &["activityId"])?;
    params.require("activityId")?;
    let id = params.iri("activityId")?.unwrap_or_default();
    let mut held = store.activity_definitions(principal.store, vec![id.clone()]).await?;
    let mut activity = Map::new();
    activity.insert("objectType".into(), json!("Activity"));
    activity.insert("id".into(), json!(id));
    // An activity the LRS never saw a definition for is still an Activity (xAPI 2.0.0).
    if let Some(definition) = held.remove(&id) {
        activity.insert("definition".into(), Value::Object(definition));
    }
    Ok(HttpResponse::Ok().json(Value::Object(activity)))
}
