//! Helpdesk connectors: tickets pulled from Zendesk, ServiceNow and Jira on a schedule
//! (and on demand), instead of exports someone has to remember to upload.
//!
//! Each connector keeps the helpdesk's own cursor, so a run fetches only what changed since
//! the last one: Zendesk's incremental ticket export cursor, ServiceNow's `sys_updated_on`,
//! Jira's `updated`. Fields are mapped by the same presets as the file imports
//! (`tickets::Preset`), tickets are updated in place, and a complete run records the
//! coverage reports end their windows at. Requests obey the helpdesks' rate limits and are
//! retried with backoff when they fail for a while (`http`); a page of tickets and the
//! cursor after it are stored in one transaction (`run`), so a connector resumes after a
//! restart from the last page it stored. Credentials are sealed before they are stored
//! (`sealing`) and opened only inside a run.

mod http;
mod jira;
mod run;
mod schedule;
mod sealing;
mod servicenow;
mod vendor;
mod zendesk;

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use store::StoreId;
use store::connectors::NewConnector;

pub use run::{RunNowError, run_now};
pub use schedule::{SchedulerOptions, spawn};
pub use sealing::{Binding, SealingError, SecretKey};

use crate::tickets::Preset;

/// Tickets stored by connector runs, by `store`, `connector` and `kind` (a Prometheus counter).
pub const CONNECTOR_TICKETS: &str = "tally_connector_tickets_total";
/// Connector runs, by `store`, `connector`, `kind` and `outcome` (`ok`, `failed`).
pub const CONNECTOR_RUNS: &str = "tally_connector_runs_total";
/// Waits a helpdesk's rate limit imposed, by `store`, `connector` and `kind`.
pub const CONNECTOR_RATE_LIMITED: &str = "tally_connector_rate_limited_total";
/// What each connector's tickets are known through, as Unix seconds (a gauge).
pub const CONNECTOR_KNOWN_THROUGH: &str = "tally_connector_known_through_seconds";

/// Which helpdesk a connector reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Zendesk,
    ServiceNow,
    Jira,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Zendesk, Kind::ServiceNow, Kind::Jira];

    pub fn name(self) -> &'static str {
        self.preset().name()
    }

    /// The file-import preset whose mapping its tickets go through.
    pub fn preset(self) -> Preset {
        match self {
            Kind::Zendesk => Preset::Zendesk,
            Kind::ServiceNow => Preset::ServiceNow,
            Kind::Jira => Preset::Jira,
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// `POST /admin/stores/{id}/connectors`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorRequest {
    pub kind: String,
    pub base_url: String,
    pub credentials: Map<String, Value>,
    pub every: String,
    #[serde(default)]
    pub filter: Option<String>,
}

/// Why a connector cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The request breaks a rule: the property and the rule.
    #[error("{property}: {rule}")]
    Invalid { property: &'static str, rule: String },
    #[error(
        "helpdesk connectors need TALLY_SECRET_KEY (32 bytes in base64) in the server's environment, to \
         store the helpdesk credentials encrypted; none is set, so no connector can be created"
    )]
    NoKey,
}

fn invalid(property: &'static str, rule: impl Into<String>) -> ConnectorError {
    ConnectorError::Invalid { property, rule: rule.into() }
}

/// The shortest schedule accepted: helpdesks allow a few export requests a minute.
const SHORTEST_EVERY: Duration = Duration::from_secs(1);

/// Checks a request and seals its credentials: the connector to store.
pub fn prepare(
    request: ConnectorRequest,
    store: StoreId,
    key: Option<&SecretKey>,
) -> Result<NewConnector, ConnectorError> {
    let kind = Kind::from_name(request.kind.trim())
        .ok_or_else(|| invalid("kind", "must be \"zendesk\", \"servicenow\" or \"jira\""))?;
    let base_url = checked_base_url(&request.base_url)?;
    let authorization = authorization(kind, &request.credentials)?;
    let every = parse_every(&request.every).map_err(|rule| invalid("every", rule))?;
    let filter = request.filter.unwrap_or_default().trim().to_string();
    vendor::check_filter(kind, &filter).map_err(|rule| invalid("filter", rule))?;
    let key = key.ok_or(ConnectorError::NoKey)?;
    let binding = Binding { store, kind: kind.name(), base_url: &base_url };
    Ok(NewConnector {
        store,
        kind: kind.name().to_string(),
        sealed_credentials: key.seal(&binding, authorization.as_bytes()),
        base_url,
        every_seconds: every.as_secs() as i64,
        filter,
    })
}

/// A helpdesk's address: `https://`, or `http://` to this machine only (a helpdesk's
/// credentials never cross a network in clear); no path beyond `/`, no query.
fn checked_base_url(text: &str) -> Result<String, ConnectorError> {
    let url = text.trim().trim_end_matches('/');
    let rule = "must be the helpdesk's https:// address (such as https://acme.zendesk.com), without a path";
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("base_url", rule))?;
    let host_and_port = rest;
    if host_and_port.is_empty() || host_and_port.contains(['/', '?', '#', '@', ' ']) {
        return Err(invalid("base_url", rule));
    }
    match scheme {
        "https" => Ok(url.to_string()),
        "http" if is_loopback(host_and_port) => Ok(url.to_string()),
        "http" => {
            Err(invalid("base_url", "must use https:// (plain http:// only to this machine, for tests)"))
        }
        _ => Err(invalid("base_url", rule)),
    }
}

fn is_loopback(host_and_port: &str) -> bool {
    let host = match host_and_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_and_port.rsplit_once(':').map_or(host_and_port, |(host, _)| host),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The `Authorization` header the helpdesk takes for these credentials:
/// - Zendesk: `{"email", "api_token"}` (Basic `email/token:api_token`) or `{"oauth_token"}`;
/// - ServiceNow: `{"username", "password"}` (Basic);
/// - Jira Cloud: `{"email", "api_token"}` (Basic `email:api_token`).
fn authorization(kind: Kind, credentials: &Map<String, Value>) -> Result<String, ConnectorError> {
    let text = |name: &'static str, property: &'static str| -> Result<Option<String>, ConnectorError> {
        match credentials.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(invalid(property, "must be a non-empty string")),
        }
    };
    let allowed: &[&str] = match kind {
        Kind::Zendesk => &["email", "api_token", "oauth_token"],
        Kind::ServiceNow => &["username", "password"],
        Kind::Jira => &["email", "api_token"],
    };
    if let Some(unknown) = credentials.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(
            "credentials",
            format!("{unknown:?} is not a {} credential; expected {}", kind.name(), allowed.join(", ")),
        ));
    }
    let basic = |user: String, password: String| {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    };
    match kind {
        Kind::Zendesk => {
            let oauth = text("oauth_token", "credentials.oauth_token")?;
            let email = text("email", "credentials.email")?;
            let token = text("api_token", "credentials.api_token")?;
            match (oauth, email, token) {
                (Some(oauth), None, None) => Ok(format!("Bearer {oauth}")),
                (None, Some(email), Some(token)) => Ok(basic(format!("{email}/token"), token)),
                (None, None, Some(_)) => Err(invalid("credentials.email", "is required with api_token")),
                (None, Some(_), None) => Err(invalid("credentials.api_token", "is required with email")),
                _ => Err(invalid("credentials", "must be {\"email\", \"api_token\"} or {\"oauth_token\"}")),
            }
        }
        Kind::ServiceNow => {
            let user = text("username", "credentials.username")?
                .ok_or_else(|| invalid("credentials.username", "is required"))?;
            let password = text("password", "credentials.password")?
                .ok_or_else(|| invalid("credentials.password", "is required"))?;
            Ok(basic(user, password))
        }
        Kind::Jira => {
            let email = text("email", "credentials.email")?
                .ok_or_else(|| invalid("credentials.email", "is required"))?;
            let token = text("api_token", "credentials.api_token")?
                .ok_or_else(|| invalid("credentials.api_token", "is required"))?;
            Ok(basic(email, token))
        }
    }
}

/// `30s`, `15m`, `1h`, `1d` (a whole number and a unit).
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let rule =
        || format!("{text:?} is not a schedule such as 15m, 1h or 1d (a whole number of s, m, h or d)");
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(rule)?;
    let (number, unit) = text.split_at(unit_at);
    let number: u64 = number.parse().map_err(|_| rule())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(rule()),
    };
    let every = Duration::from_secs(number.checked_mul(seconds).ok_or_else(rule)?);
    if every < SHORTEST_EVERY || every > Duration::from_secs(366 * 86_400) {
        return Err(format!("{text:?} is outside 1s to 366d"));
    }
    Ok(every)
}

/// A schedule as [`parse_every`] reads it, in its largest whole unit.
pub fn every_text(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SecretKey {
        SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([3u8; 32])).unwrap()
    }

    fn request(body: Value) -> ConnectorRequest {
        serde_json::from_value(body).unwrap()
    }

    fn refusal(body: Value) -> (&'static str, String) {
        match prepare(request(body), StoreId::new(1), Some(&key())) {
            Err(ConnectorError::Invalid { property, rule }) => (property, rule),
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn schedules_read_as_a_number_and_a_unit() {
        assert_eq!(parse_every("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_every(" 15m "), Ok(Duration::from_secs(900)));
        assert_eq!(parse_every("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "h", "1", "1 h", "1w", "0s", "-1h", "999999999999999999999d"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
        assert_eq!(every_text(3_600), "1h");
        assert_eq!(every_text(90), "90s");
    }

    #[test]
    fn each_helpdesk_takes_its_own_credentials() {
        let ok = |kind: &str, credentials: Value| {
            let body = json!({"kind": kind, "base_url": "https://acme.example", "credentials": credentials, "every": "1h"});
            let new = prepare(request(body), StoreId::new(1), Some(&key())).unwrap();
            let binding = Binding { store: new.store, kind: &new.kind, base_url: &new.base_url };
            String::from_utf8(key().open(&binding, &new.sealed_credentials).unwrap()).unwrap()
        };
        let zendesk = ok("zendesk", json!({"email": "ops@acme.example", "api_token": "tok"}));
        let expected = base64::engine::general_purpose::STANDARD.encode("ops@acme.example/token:tok");
        assert_eq!(zendesk, format!("Basic {expected}"));
        assert_eq!(ok("zendesk", json!({"oauth_token": "oauth"})), "Bearer oauth");
        let servicenow = ok("servicenow", json!({"username": "svc", "password": "pw"}));
        assert_eq!(
            servicenow,
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("svc:pw"))
        );
        let jira = ok("jira", json!({"email": "ops@acme.example", "api_token": "tok"}));
        let expected = base64::engine::general_purpose::STANDARD.encode("ops@acme.example:tok");
        assert_eq!(jira, format!("Basic {expected}"));
    }

    #[test]
    fn bad_requests_name_the_property_and_the_rule() {
        let base = json!({"kind": "jira", "base_url": "https://acme.atlassian.net",
                          "credentials": {"email": "a@b.example", "api_token": "t"}, "every": "1h"});
        let with = |key: &str, value: Value| {
            let mut body = base.clone();
            body[key] = value;
            refusal(body)
        };
        assert_eq!(with("kind", json!("freshdesk")).0, "kind");
        assert_eq!(with("base_url", json!("ftp://acme")).0, "base_url");
        assert_eq!(with("base_url", json!("https://acme.atlassian.net/rest")).0, "base_url");
        assert!(with("base_url", json!("http://acme.atlassian.net")).1.contains("https://"));
        assert_eq!(with("every", json!("often")).0, "every");
        assert_eq!(with("credentials", json!({"email": "a@b.example"})).0, "credentials.api_token");
        assert_eq!(
            with("credentials", json!({"email": "a@b.example", "api_token": 5})).0,
            "credentials.api_token"
        );
        assert_eq!(with("credentials", json!({"password": "x"})).0, "credentials");
        assert_eq!(with("filter", json!("project = HELP ORDER BY created")).0, "filter");
        let mut zendesk = base.clone();
        zendesk["kind"] = json!("zendesk");
        zendesk["filter"] = json!("status:open");
        assert_eq!(refusal(zendesk).0, "filter");
    }

    #[test]
    fn no_connector_without_a_key_and_plain_http_only_to_this_machine() {
        let body = json!({"kind": "servicenow", "base_url": "http://127.0.0.1:9999/",
                          "credentials": {"username": "u", "password": "p"}, "every": "1h"});
        assert_eq!(prepare(request(body.clone()), StoreId::new(1), None).unwrap_err(), ConnectorError::NoKey);
        let new = prepare(request(body), StoreId::new(1), Some(&key())).unwrap();
        assert_eq!(new.base_url, "http://127.0.0.1:9999");
        assert!(is_loopback("localhost:80") && is_loopback("[::1]:8080") && !is_loopback("10.0.0.1:80"));
    }
}
