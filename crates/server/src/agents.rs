//! `GET /xapi/agents?agent=…` (xAPI 1.0.3 Communication §2.4): the Person object for an
//! agent: its identifier and the names statements gave it.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};
use store::{CredentialReader, StatementFilter, StatementQuery, StatementReader, TenantReader};
use xapi::AgentKey;

use crate::auth::authenticate;
use crate::query::QueryParams;
use crate::{ApiError, AppConfig};

/// How many of the agent's most recent statements are read for its names.
const NAME_SOURCES: usize = 50;

pub async fn get<S: StatementReader + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config).await?;
    principal.require(crate::scopes::DEFINITIONS_READ)?;
    let params = QueryParams::parse(req.query_string(), &["agent"])?;
    let text = params.require("agent")?;
    let key = params
        .agent("agent")?
        .ok_or_else(|| ApiError::bad_request("agent", "the agent parameter is required"))?;
    let agent: Map<String, Value> = serde_json::from_str(text).unwrap_or_default();

    let query = StatementQuery {
        filter: StatementFilter { agent: Some(key.clone()), ..StatementFilter::default() },
        ascending: false,
        limit: NAME_SOURCES,
        cursor: None,
    };
    let mut names: Vec<String> = Vec::new();
    for statement in store.query_statements(principal.store, query).await?.statements {
        let Ok(Value::Object(json)) = serde_json::from_str::<Value>(&statement.body) else {
            continue;
        };
        for role in ["actor", "object"] {
            if let Some(Value::Object(actor)) = json.get(role)
                && AgentKey::of(actor).as_ref() == Some(&key)
                && let Some(Value::String(name)) = actor.get("name")
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
    }

    let mut person = Map::new();
    person.insert("objectType".into(), json!("Person"));
    if !names.is_empty() {
        person.insert("name".into(), json!(names));
    }
    for ifi in ["mbox", "mbox_sha1sum", "openid", "account"] {
        if let Some(value) = agent.get(ifi) {
            person.insert(ifi.into(), json!([value]));
        }
    }
    Ok(HttpResponse::Ok().json(Value::Object(person)))
}
