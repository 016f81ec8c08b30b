//! Asking a helpdesk for a page, politely: its rate limits obeyed, transient failures
//! retried with exponential backoff, and nothing sent anywhere but its own address.
//!
//! Rate limits, as the three helpdesks document them:
//! - a 429 carries `Retry-After` (seconds, or an HTTP date): wait that long and ask again;
//! - a success says how many requests are left in the window (Zendesk
//!   `x-rate-limit-remaining` and `ratelimit-remaining`, ServiceNow and Jira
//!   `X-RateLimit-Remaining`) and when it resets (Zendesk `ratelimit-reset`, seconds from now;
//!   ServiceNow `X-RateLimit-Reset`, Unix seconds; Jira `X-RateLimit-Reset`, an ISO 8601
//!   instant): at none left, the next request waits for the reset.
//!
//! Redirects are not followed: the credentials go to the configured address or nowhere.

use std::time::{Duration, Instant};

use serde_json::Value;
use ureq::http::HeaderMap;

/// Attempts of one request that fails for a while (5xx, 408, no connection).
const ATTEMPTS: u32 = 5;
/// The first retry's delay; each failure doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Rate-limit waits one request accepts before the run gives up until its next turn.
const RATE_LIMIT_WAITS: u32 = 10;
/// The longest wait a rate limit may impose within a run; a longer one ends the run (its
/// next turn comes after it).
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The most of a helpdesk's error body quoted in an error.
const QUOTED: usize = 300;

/// One page request: a path under the helpdesk's address and its query parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PageRequest {
    pub path: &'static str,
    pub query: Vec<(&'static str, String)>,
}

impl PageRequest {
    /// The value of query parameter `name`, if the request has it.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// A page as the helpdesk answered it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub body: Value,
    /// `X-Total-Count` (ServiceNow): how many records the whole query matches.
    pub total: Option<u64>,
}

/// Why a page could not be had; the text is safe to show (it never holds a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FetchError(pub String);

/// A helpdesk's address and the `Authorization` it takes.
pub(crate) struct Client {
    agent: ureq::Agent,
    base_url: String,
    authorization: String,
    /// The rate limit's window is spent until then.
    paused_until: Option<Instant>,
    /// Called once per wait a rate limit imposed (for the metric).
    on_rate_limit: Box<dyn Fn() + Send + Sync>,
}

impl Client {
    pub(crate) fn new(
        base_url: &str,
        authorization: String,
        on_rate_limit: Box<dyn Fn() + Send + Sync>,
    ) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Client { agent, base_url: base_url.to_string(), authorization, paused_until: None, on_rate_limit }
    }

    /// GETs a page, waiting out rate limits and retrying transient failures.
    pub(crate) async fn get(&mut self, request: &PageRequest) -> Result<Answer, FetchError> {
        let (mut failures, mut rate_waits) = (0u32, 0u32);
        loop {
            if let Some(until) = self.paused_until.take() {
                tokio::time::sleep_until(until.into()).await;
            }
            let reply = self.send(request).await;
            match reply {
                Ok((status, headers, body)) if (200..300).contains(&status) => {
                    self.paused_until = window_spent(&headers);
                    let body: Value = serde_json::from_str(&body).map_err(|e| {
                        FetchError(format!(
                            "{} answered {status} with something that is not JSON: {e}",
                            request.path
                        ))
                    })?;
                    let total = header(&headers, "x-total-count").and_then(|t| t.parse().ok());
                    return Ok(Answer { body, total });
                }
                Ok((429, headers, body)) => {
                    rate_waits += 1;
                    let wait = retry_after(&headers).unwrap_or_else(|| backoff(rate_waits));
                    if rate_waits > RATE_LIMIT_WAITS || wait > LONGEST_WAIT {
                        return Err(FetchError(format!(
                            "the helpdesk's rate limit holds for {} s more: {}",
                            wait.as_secs(),
                            quoted(&body)
                        )));
                    }
                    (self.on_rate_limit)();
                    tracing::info!(
                        path = request.path,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited; waiting"
                    );
                    self.paused_until = Some(Instant::now() + wait);
                }
                Ok((status, _, body)) if status >= 500 || status == 408 => {
                    failures += 1;
                    let error = format!("{} answered {status}: {}", request.path, quoted(&body));
                    if failures >= ATTEMPTS {
                        return Err(FetchError(format!("{error} ({failures} attempts)")));
                    }
                    tracing::info!(%error, "retrying");
                    self.paused_until = Some(Instant::now() + backoff(failures));
                }
                Ok((status @ (401 | 403), _, _)) => {
                    return Err(FetchError(format!(
                        "the helpdesk refused the connector's credentials ({status}); replace the connector \
                         with credentials that may read its tickets"
                    )));
                }
                Ok((status, headers, body)) if (300..400).contains(&status) => {
                    let location = header(&headers, "location").unwrap_or("elsewhere");
                    return Err(FetchError(format!(
                        "{} answered {status}, pointing to {location}; connectors follow no redirect: \
                         set base_url to the helpdesk's own address ({})",
                        request.path,
                        quoted(&body)
                    )));
                }
                Ok((status, _, body)) => {
                    return Err(FetchError(format!("{} answered {status}: {}", request.path, quoted(&body))));
                }
                Err(error) => {
                    failures += 1;
                    if failures >= ATTEMPTS {
                        return Err(FetchError(format!("{error} ({failures} attempts)")));
                    }
                    tracing::info!(%error, "retrying");
                    self.paused_until = Some(Instant::now() + backoff(failures));
                }
            }
        }
    }

    /// One request, off the async threads (the client blocks): status, headers and body.
    async fn send(&self, request: &PageRequest) -> Result<(u16, HeaderMap, String), String> {
        let url = format!("{}{}", self.base_url, request.path);
        let mut call = self
            .agent
            .get(&url)
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json");
        for (name, value) in &request.query {
            call = call.query(*name, value);
        }
        let path = request.path;
        let sent = tokio::task::spawn_blocking(move || {
            call.call().map(|response| {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = response.into_body().read_to_string().unwrap_or_default();
                (status, headers, body)
            })
        })
        .await;
        match sent {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(format!("the helpdesk cannot be reached at {path}: {e}")),
            Err(e) => Err(format!("the request task failed: {e}")),
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The delay after the `n`th failure in a row: 250 ms, 500 ms, 1 s, …
fn backoff(n: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << n.saturating_sub(1).min(10))
}

/// `Retry-After`: seconds, or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = header(headers, "retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(seconds.max(0.0)));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    Some(until(at))
}

/// When a success says the window has no request left, the instant it resets.
fn window_spent(headers: &HeaderMap) -> Option<Instant> {
    let remaining = ["x-rate-limit-remaining", "ratelimit-remaining", "x-ratelimit-remaining"]
        .iter()
        .find_map(|name| header(headers, name))?;
    if remaining.parse::<i64>().ok()? > 0 {
        return None;
    }
    let reset = ["ratelimit-reset", "x-ratelimit-reset"].iter().find_map(|name| header(headers, name));
    let wait = reset.and_then(reset_wait).unwrap_or(FIRST_BACKOFF).min(LONGEST_WAIT);
    Some(Instant::now() + wait)
}

/// A reset header: seconds from now (Zendesk), Unix seconds (ServiceNow) or an ISO 8601
/// instant (Jira).
fn reset_wait(value: &str) -> Option<Duration> {
    // Fewer seconds than a year are a delay; more are an instant since the epoch.
    const YEAR: u64 = 366 * 86_400;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(if seconds < YEAR {
            Duration::from_secs(seconds)
        } else {
            until(jiff::Timestamp::from_second(seconds as i64).ok()?)
        });
    }
    Some(until(value.parse::<jiff::Timestamp>().ok()?))
}

fn until(at: jiff::Timestamp) -> Duration {
    let micros = at.as_microsecond() - jiff::Timestamp::now().as_microsecond();
    Duration::from_micros(micros.max(0) as u64)
}

fn quoted(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() { "(no body)".to_string() } else { body.chars().take(QUOTED).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(retry_after(&headers(&[("retry-after", "2")])), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[])), None);
    }

    #[test]
    fn a_spent_window_waits_for_its_reset_in_each_vendors_form() {
        assert!(window_spent(&headers(&[("x-rate-limit-remaining", "3")])).is_none());
        let zendesk =
            window_spent(&headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "5")])).unwrap();
        assert!(zendesk > Instant::now() + Duration::from_secs(4));
        let soon = jiff::Timestamp::now().as_second() + 3;
        let servicenow = window_spent(&headers(&[
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", &soon.to_string()),
        ]))
        .unwrap();
        assert!(servicenow > Instant::now() + Duration::from_secs(1));
        assert!(servicenow < Instant::now() + Duration::from_secs(4));
        let jira = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2)).to_string();
        let jira =
            window_spent(&headers(&[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", &jira)])).unwrap();
        assert!(jira > Instant::now() + Duration::from_millis(900));
    }

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(3), Duration::from_secs(1));
    }
}
