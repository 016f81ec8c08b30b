//! `GET /ui/statements`: the statement filters of `GET /xapi/statements` (agent, verb,
//! activity, registration, since, until), newest first, a page at a time through the same
//! `more` tokens, each statement's JSON a click away.
//!
//! The filters are parsed by the API's own parser (`server::params`), so they mean exactly
//! what they mean there; the form only adds conveniences: an email address stands for the
//! agent `{"mbox": "mailto:…"}`, and a date for its midnight UTC.

use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use server::params::{self, StatementsGet};
use server::scopes::StatementAccess;
use server::{ApiError, AppConfig};
use store::{StatementPage, StatementReader, StoredStatement};

use super::{notice, store};
use crate::layout::{self, Section};
use crate::session::{self, STATEMENTS_READ, SignedIn};
use crate::{PageError, format};

/// Statements per page.
const PAGE: usize = 25;

#[derive(Debug, Default, Deserialize)]
pub struct StatementsQuery {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    verb: String,
    #[serde(default)]
    activity: String,
    #[serde(default)]
    registration: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    more: String,
}

/// The `agent` parameter for what the form's agent field holds: Agent JSON as it is, an
/// email address (with or without `mailto:`) as an mbox.
fn agent_param(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() || text.starts_with('{') {
        return text.to_string();
    }
    let email = text.strip_prefix("mailto:").unwrap_or(text);
    json!({ "mbox": format!("mailto:{email}") }).to_string()
}

/// A timestamp parameter: a bare date means its midnight UTC.
fn instant_param(text: &str) -> String {
    let text = text.trim();
    if text.len() == 10 && jiff::civil::Date::strptime("%Y-%m-%d", text).is_ok() {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    }
}

impl StatementsQuery {
    /// The query string `GET /xapi/statements` would get.
    fn xapi_query(&self) -> String {
        format::query(&[
            ("agent", &agent_param(&self.agent)),
            ("verb", self.verb.trim()),
            ("activity", self.activity.trim()),
            ("registration", self.registration.trim()),
            ("since", &instant_param(&self.since)),
            ("until", &instant_param(&self.until)),
            ("limit", &PAGE.to_string()),
        ])
    }
}

fn first_language(map: Option<&Value>) -> Option<&str> {
    let map = map?.as_object()?;
    ["en-US", "en", "en-GB"].iter().find_map(|t| map.get(*t)).or_else(|| map.values().next())?.as_str()
}

/// Who, in a few words: the name, else the identifier.
fn actor_words(actor: &Value) -> String {
    if let Some(name) = actor.get("name").and_then(Value::as_str) {
        return name.to_string();
    }
    for key in ["mbox", "mbox_sha1sum", "openid"] {
        if let Some(id) = actor.get(key).and_then(Value::as_str) {
            return id.to_string();
        }
    }
    match actor.get("account") {
        Some(account) => format!(
            "{} ({})",
            account.get("name").and_then(Value::as_str).unwrap_or_default(),
            account.get("homePage").and_then(Value::as_str).unwrap_or_default()
        ),
        None => "(a group)".to_string(),
    }
}

fn object_words(object: &Value) -> String {
    first_language(object.get("definition").and_then(|d| d.get("name")))
        .map(str::to_string)
        .or_else(|| object.get("id").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| object.get("objectType").and_then(Value::as_str).unwrap_or("object").to_string())
}

fn statement_row(statement: &StoredStatement) -> Markup {
    let json: Value = serde_json::from_str(&statement.body).unwrap_or(Value::Null);
    let verb = &json["verb"];
    let verb_words = first_language(verb.get("display"))
        .or_else(|| verb.get("id").and_then(Value::as_str))
        .unwrap_or_default();
    let pretty = serde_json::to_string_pretty(&json).unwrap_or_else(|_| statement.body.clone());
    html! {
        tr data-id=(statement.id) {
            td { (statement.stored.to_rfc3339()) }
            td.actor { (actor_words(&json["actor"])) }
            td.verb { (verb_words) }
            td.object.wrap { (object_words(&json["object"])) }
            td {
                details {
                    summary { "JSON" span.hint { " of " (statement.id) } }
                    pre.json { code { (pretty) } }
                }
            }
        }
    }
}

fn text_input(id: &str, label: &str, hint: &str, value: &str) -> Markup {
    html! {
        div {
            label for=(id) { (label) @if !hint.is_empty() { " " span.hint { (hint) } } }
            input id=(id) type="text" name=(id) value=(value);
        }
    }
}

pub async fn show<S: StatementReader + SignedIn + 'static>(
    req: HttpRequest,
    query: web::Query<StatementsQuery>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(STATEMENTS_READ)?;
    let store = store::<S>(&req)?.get_ref();
    let request = if query.more.is_empty() {
        params::parse_statements_get(&query.xapi_query(), config.max_page_size.min(PAGE))
    } else {
        params::parse_statements_get(&format::query(&[("more", &query.more)]), config.max_page_size.min(PAGE))
    };
    let page: Result<(StatementPage, String), String> = match request {
        Ok(StatementsGet::Query { mut query, params, .. }) => {
            // As `GET /xapi/statements` does for statements/read/mine.
            if server::scopes::statement_access(&viewer.scopes) == Some(StatementAccess::OwnOnly) {
                query.filter.authority = viewer.agent.clone();
            }
            Ok((store.query_statements(viewer.store, query).await?, params))
        }
        Ok(StatementsGet::Single { .. }) => Err("Use the filters to find statements.".to_string()),
        Err(ApiError::BadRequest { message, .. }) => Err(message),
        Err(other) => return Err(other.into()),
    };
    let body = html! {
        form.filters method="get" action="/ui/statements" {
            (text_input("agent", "Agent", "(email or Agent JSON)", &query.agent))
            (text_input("verb", "Verb", "(IRI)", &query.verb))
            (text_input("activity", "Activity", "(IRI)", &query.activity))
            (text_input("registration", "Registration", "(UUID)", &query.registration))
            (text_input("since", "Stored after", "(date or ISO 8601)", &query.since))
            (text_input("until", "Stored until", "(date or ISO 8601)", &query.until))
            div { button type="submit" { "Filter" } }
        }
        @match &page {
            Err(message) => { (notice("error", message)) }
            Ok((page, _)) if page.statements.is_empty() => { p { "No statements match." } }
            Ok((page, params)) => {
                table #statements {
                    caption { "Statements, most recently stored first" }
                    thead { tr {
                        th scope="col" { "Stored" } th scope="col" { "Actor" } th scope="col" { "Verb" }
                        th scope="col" { "Object" } th scope="col" { "Statement" }
                    } }
                    tbody { @for statement in &page.statements { (statement_row(statement)) } }
                }
                nav aria-label="Pages of statements" {
                    @if !query.more.is_empty() {
                        a href="/ui/statements" { "First page" } " "
                    }
                    @if let Some(next) = page.next {
                        a #more href=(format::with_query("/ui/statements", &format::query(&[("more", &params::encode_more(next, params))]))) {
                            "Older statements"
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Statements, "Statements", body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_stands_for_an_mbox_agent() {
        assert_eq!(agent_param("ann@example.com"), r#"{"mbox":"mailto:ann@example.com"}"#);
        assert_eq!(agent_param("mailto:ann@example.com"), r#"{"mbox":"mailto:ann@example.com"}"#);
        assert_eq!(agent_param(r#"{"openid":"http://x.y"}"#), r#"{"openid":"http://x.y"}"#);
        assert_eq!(agent_param(" "), "");
    }

    #[test]
    fn a_date_means_its_midnight() {
        assert_eq!(instant_param("2025-03-03"), "2025-03-03T00:00:00Z");
        assert_eq!(instant_param("2025-03-03T10:00:00+01:00"), "2025-03-03T10:00:00+01:00");
    }
}
