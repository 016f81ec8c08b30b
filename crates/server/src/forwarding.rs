//! Statement forwarding, at least once: each rule's statements, followed in ingest order
//! from its place (see `store::forwarding`: the statements are the outbox), delivered to
//! the target's `POST /statements` in batches.
//!
//! A process delivers a rule only while it holds the rule's lease, so several Tally
//! processes on one database deliver each statement through one of them; a rule moves past
//! a batch only after the target accepted it, and only if no other process moved it first.
//! A process killed between the two sends the batch again when it (or another) resumes:
//! delivery is at least once, and statement ids make a re-sent statement a no-op at any
//! conformant target. A failed delivery is retried with exponential backoff; a batch that
//! failed `max_attempts` times, or a statement the target refuses outright, is moved to the
//! rule's dead letters, and delivery goes on after it.

use std::time::Duration;

use serde_json::Value;
use store::forwarding::{DeadLetter, ForwardingRule, ForwardingStore};
use store::insights::TailedStatement;
use store::{AttachmentReader, RollupReader, Seq, StatementTail, StoreError, StoreId};
use xapi::Timestamp;

use crate::forwarding_secret::{self, SecretUnavailable};

/// Statements behind each rule's place, by `store` and `rule` (a Prometheus gauge).
pub const FORWARD_LAG: &str = "tally_forward_lag_statements";
/// Failed deliveries, by `store` and `rule` (a Prometheus counter).
pub const FORWARD_FAILURES: &str = "tally_forward_failures_total";
/// Statements delivered, by `store` and `rule` (a Prometheus counter).
pub const FORWARD_DELIVERED: &str = "tally_forward_delivered_total";

/// Statements sent in one request.
const BATCH: usize = 100;
/// Statements read from the tail at a time (those the filter passes make the batch).
const TAIL_PAGE: usize = 1_000;
/// How often the forwarder looks for work when it has none.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// The first retry's delay; each failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often a rule whose secret cannot be opened looks again (the key may have come).
const HOLD_RETRY: Duration = Duration::from_secs(5);
/// How long one delivery may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How this process forwards.
#[derive(Clone, Debug)]
pub struct ForwarderOptions {
    /// Who holds leases (unique per process).
    pub owner: String,
    /// How long a lease lasts without renewal: how soon another process takes over a rule
    /// whose forwarder died.
    pub lease: Duration,
    /// What the rules' sealed secrets open with (`TALLY_SECRET_KEY`).
    pub secret_key: Option<insights::connectors::SecretKey>,
}

impl Default for ForwarderOptions {
    fn default() -> Self {
        ForwarderOptions {
            owner: format!("tally-{}-{}", std::process::id(), uuid::Uuid::new_v4()),
            lease: Duration::from_secs(15),
            secret_key: None,
        }
    }
}

/// Runs the forwarder until the process ends.
pub fn spawn<S>(store: S, options: ForwarderOptions) -> tokio::task::JoinHandle<()>
where
    S: ForwardingStore + StatementTail + RollupReader + AttachmentReader + Clone + 'static,
{
    tokio::spawn(async move {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        loop {
            match round(&store, &options, &agent).await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(IDLE_POLL).await,
                Err(error) => {
                    tracing::warn!(%error, "forwarding failed; retrying");
                    tokio::time::sleep(IDLE_POLL * 4).await;
                }
            }
        }
    })
}

/// One pass over every rule; answers whether any moved. A rule with nothing to send, or
/// backing off, is left alone: no lease is written for it (on SQLite, a write would take
/// the lock statements are written under).
async fn round<S>(store: &S, options: &ForwarderOptions, agent: &ureq::Agent) -> Result<bool, StoreError>
where
    S: ForwardingStore + StatementTail + RollupReader + AttachmentReader,
{
    let mut moved = false;
    for listed in store.forwarding_rules(None).await? {
        let head = store.ingest_head(listed.store).await?;
        let labels = [("store", listed.store.to_string()), ("rule", listed.id.to_string())];
        metrics::gauge!(FORWARD_LAG, &labels).set(head.since(listed.delivered) as f64);
        let now = Timestamp::now();
        if !listed.enabled || head <= listed.delivered || listed.next_attempt > now {
            continue;
        }
        let until = Timestamp::from_micros(now.as_micros() + options.lease.as_micros() as i64);
        let Some(rule) = store.claim_forwarding(listed.id, &options.owner, now, until).await? else {
            continue;
        };
        if !step(store, &rule, options, agent).await? {
            continue;
        }
        moved = true;
        let delivered = store.forwarding_rules(Some(rule.store)).await?.into_iter().find(|r| r.id == rule.id);
        let lag = delivered.map_or(0, |r| head.since(r.delivered));
        metrics::gauge!(FORWARD_LAG, &labels).set(lag as f64);
        tracing::debug!(target: "tally::forwarding", rule = rule.id, store = rule.store.get(), lag, "forwarded");
    }
    Ok(moved)
}

/// What a delivery came to.
enum Outcome {
    Accepted,
    /// The target refused these statements for what they are (a 4xx other than 408 and
    /// 429): sending them again cannot help.
    Refused(String),
    /// The target or the network failed: worth trying again.
    Failed(String),
}

/// Delivers the next batch of one rule; answers whether the rule moved.
async fn step<S>(
    store: &S,
    rule: &ForwardingRule,
    options: &ForwarderOptions,
    agent: &ureq::Agent,
) -> Result<bool, StoreError>
where
    S: ForwardingStore + StatementTail + AttachmentReader,
{
    let owner = options.owner.as_str();
    let secret = match forwarding_secret::opened(options.secret_key.as_ref(), rule) {
        Ok(secret) => secret,
        Err(unavailable) => return held(store, rule, owner, unavailable).await,
    };
    let tail = store.statements_after(rule.store, rule.delivered, TAIL_PAGE).await?;
    let Some(last) = tail.last() else { return Ok(false) };
    let (batch, to) = batch_of(rule, &tail, last.seq);
    if batch.is_empty() {
        return store.advance_forwarding(rule.id, owner, rule.delivered, to, Vec::new()).await;
    }
    let labels = [("store", rule.store.to_string()), ("rule", rule.id.to_string())];
    match deliver(store, agent, rule, &secret, &batch).await? {
        Outcome::Accepted => {
            metrics::counter!(FORWARD_DELIVERED, &labels).increment(batch.len() as u64);
            store.advance_forwarding(rule.id, owner, rule.delivered, to, Vec::new()).await
        }
        Outcome::Refused(error) if batch.len() > 1 => {
            // Find the statement the target refuses: the ones before it go, one by one.
            metrics::counter!(FORWARD_FAILURES, &labels).increment(1);
            let mut from = rule.delivered;
            for statement in &batch {
                let one = std::slice::from_ref(statement);
                match deliver(store, agent, rule, &secret, one).await? {
                    Outcome::Accepted => metrics::counter!(FORWARD_DELIVERED, &labels).increment(1),
                    Outcome::Refused(error) => {
                        let dead = vec![dead_letter(statement, &error)];
                        if !store.advance_forwarding(rule.id, owner, from, statement.seq, dead).await? {
                            return Ok(false);
                        }
                        return Ok(true);
                    }
                    Outcome::Failed(error) => return failed(store, rule, owner, &batch, &error).await,
                }
                if !store.advance_forwarding(rule.id, owner, from, statement.seq, Vec::new()).await? {
                    return Ok(false);
                }
                from = statement.seq;
            }
            tracing::debug!(%error, "a batch the target refused went through one by one");
            Ok(true)
        }
        Outcome::Refused(error) => {
            metrics::counter!(FORWARD_FAILURES, &labels).increment(1);
            let dead = batch.iter().map(|s| dead_letter(s, &error)).collect();
            store.advance_forwarding(rule.id, owner, rule.delivered, to, dead).await
        }
        Outcome::Failed(error) => {
            metrics::counter!(FORWARD_FAILURES, &labels).increment(1);
            failed(store, rule, owner, &batch, &error).await
        }
    }
}

/// The statements of `tail` the rule passes, up to a batch of one xAPI version family, and
/// the place the rule moves to once they are delivered (past the ones it skips).
fn batch_of<'a>(
    rule: &ForwardingRule,
    tail: &'a [TailedStatement],
    end: Seq,
) -> (Vec<&'a TailedStatement>, Seq) {
    let mut batch: Vec<&TailedStatement> = Vec::new();
    let mut family = None;
    for statement in tail {
        let json: Value = serde_json::from_str(&statement.body).unwrap_or_default();
        if !rule.filter.passes(&json) {
            continue;
        }
        let this = version_header(&json);
        if batch.len() == BATCH || family.is_some_and(|f| f != this) {
            // The batch ends before this statement: the rule moves to just before it.
            return (batch, statement.seq.before());
        }
        family = Some(this);
        batch.push(statement);
    }
    (batch, end)
}

/// The `X-Experience-API-Version` a statement is sent under: its own version's.
fn version_header(statement: &Value) -> &'static str {
    match statement.get("version").and_then(Value::as_str) {
        Some(v) if v.starts_with("2.") => "2.0.0",
        _ => "1.0.3",
    }
}

/// A rule whose secret cannot be had: the error is shown on the rule and it waits, but no
/// failure is counted and nothing is dead-lettered, since no statement is at fault;
/// delivery resumes where it was once the key is there.
async fn held<S: ForwardingStore>(
    store: &S,
    rule: &ForwardingRule,
    owner: &str,
    unavailable: SecretUnavailable,
) -> Result<bool, StoreError> {
    let next = Timestamp::from_micros(Timestamp::now().as_micros() + HOLD_RETRY.as_micros() as i64);
    store.hold_forwarding(rule.id, owner, &unavailable.to_string(), next).await?;
    tracing::warn!(rule = rule.id, error = %unavailable, "a forwarding rule cannot authenticate to its target");
    Ok(false)
}

/// Records a failure: backs off, and after `max_attempts` failures in a row gives the batch
/// up (dead letters) so that delivery goes on after it.
async fn failed<S: ForwardingStore>(
    store: &S,
    rule: &ForwardingRule,
    owner: &str,
    batch: &[&TailedStatement],
    error: &str,
) -> Result<bool, StoreError> {
    let backoff = FIRST_BACKOFF.saturating_mul(1 << rule.failures.min(16)).min(MAX_BACKOFF);
    let next = Timestamp::from_micros(Timestamp::now().as_micros() + backoff.as_micros() as i64);
    let failures = store.fail_forwarding(rule.id, owner, error, next).await?;
    tracing::warn!(rule = rule.id, failures, error, "forwarding a batch failed");
    if failures >= rule.max_attempts {
        let to = batch.last().map_or(rule.delivered, |s| s.seq);
        let dead = batch.iter().map(|s| dead_letter(s, error)).collect();
        return store.advance_forwarding(rule.id, owner, rule.delivered, to, dead).await;
    }
    Ok(false)
}

fn dead_letter(statement: &TailedStatement, error: &str) -> DeadLetter {
    DeadLetter {
        seq: statement.seq,
        statement: statement.id.to_string(),
        error: error.to_string(),
        at: Timestamp::now(),
    }
}

/// Sends statements to the rule's target, with the content of their attachments that have
/// no `fileUrl` (multipart, as xAPI 1.0.3 Communication §1.5 asks), off the async threads
/// (the client blocks). `secret` is the rule's, opened.
async fn deliver<S: AttachmentReader>(
    store: &S,
    agent: &ureq::Agent,
    rule: &ForwardingRule,
    secret: &str,
    batch: &[&TailedStatement],
) -> Result<Outcome, StoreError> {
    let bodies: Vec<&str> = batch.iter().map(|s| s.body.as_str()).collect();
    let statements = format!("[{}]", bodies.join(","));
    let version = version_header(&serde_json::from_str(&batch[0].body).unwrap_or_default());
    let url = format!("{}/statements", rule.url.trim_end_matches('/'));
    let authorization = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", rule.key))
        )
    };
    let (content_type, body) = match attachment_parts(store, rule.store, batch).await? {
        parts if parts.is_empty() => ("application/json".to_string(), statements.into_bytes()),
        parts => multipart_body(&statements, parts),
    };
    let agent = agent.clone();
    let sent = tokio::task::spawn_blocking(move || {
        agent
            .post(&url)
            .header("Authorization", &authorization)
            .header("X-Experience-API-Version", version)
            .header("Content-Type", &content_type)
            .send(&body[..])
            .map(|response| {
                let status = response.status().as_u16();
                let text = response.into_body().read_to_string().unwrap_or_default();
                (status, text)
            })
    })
    .await;
    Ok(match sent {
        Ok(Ok((status, _))) if (200..300).contains(&status) => Outcome::Accepted,
        Ok(Ok((status, text))) if (400..500).contains(&status) && status != 408 && status != 429 => {
            Outcome::Refused(format!(
                "the target answered {status}: {}",
                text.chars().take(300).collect::<String>()
            ))
        }
        Ok(Ok((status, text))) => Outcome::Failed(format!(
            "the target answered {status}: {}",
            text.chars().take(300).collect::<String>()
        )),
        Ok(Err(e)) => Outcome::Failed(format!("the target cannot be reached: {e}")),
        Err(e) => Outcome::Failed(format!("the delivery task failed: {e}")),
    })
}

/// One attachment's content to send: its hash, content type and bytes.
struct Part {
    sha2: String,
    content_type: String,
    content: Vec<u8>,
}

/// The content the store holds of the batch's attachments without a `fileUrl`, once per
/// hash.
async fn attachment_parts<S: AttachmentReader>(
    store: &S,
    id: StoreId,
    batch: &[&TailedStatement],
) -> Result<Vec<Part>, StoreError> {
    let mut hashes: Vec<String> = Vec::new();
    for statement in batch {
        let json: Value = serde_json::from_str(&statement.body).unwrap_or_default();
        for attachment in json.get("attachments").and_then(Value::as_array).into_iter().flatten() {
            let sha2 = attachment.get("sha2").and_then(Value::as_str);
            if let Some(sha2) = sha2.filter(|_| attachment.get("fileUrl").is_none())
                && !hashes.iter().any(|h| h == sha2)
            {
                hashes.push(sha2.to_string());
            }
        }
    }
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let mut parts = Vec::new();
    for info in store.attachments(id, hashes).await? {
        let mut content = Vec::with_capacity(info.length as usize);
        for index in 0..info.chunks {
            content.extend(store.attachment_chunk(id, info.sha2.clone(), index).await?.unwrap_or_default());
        }
        parts.push(Part { sha2: info.sha2, content_type: info.content_type, content });
    }
    Ok(parts)
}

/// A `multipart/mixed` body: the statements, then each attachment part.
fn multipart_body(statements: &str, parts: Vec<Part>) -> (String, Vec<u8>) {
    let boundary = format!("tally-forward-{}", uuid::Uuid::new_v4().simple());
    let mut body =
        format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n{statements}\r\n").into_bytes();
    for part in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {}\r\n\r\n",
                part.content_type, part.sha2
            )
            .as_bytes(),
        );
        body.extend_from_slice(&part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={boundary}"), body)
}
