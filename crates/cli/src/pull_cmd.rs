//! `tally pull --from URL --key K --secret S`: statements from any xAPI LRS, read through its
//! statement resource (`GET /statements?ascending=true&attachments=true`, following `more`)
//! and stored here with their ids, bodies, authority and attachments.
//!
//! Idempotent (statement ids: a statement already here is accepted again and stored once)
//! and resumable: after each page it records, per store and source, where the next read
//! starts, and a later run starts there. Each page is validated whole before any of it is
//! stored. This LRS sets `stored`, so the order `since` and Consistent-Through rely on is
//! its own; with `--keep-stored` (a migration: the operator, who holds the storage itself,
//! has more than `admin`) each statement keeps the source's `stored`, which the store
//! accepts only in order and after everything it holds.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use server::multipart::{self, Limits};
use store::{AttachmentUpload, PullCursors, StatementBatch, StatementWriter, StoreId, TenantReader};
use xapi::{Statement, Timestamp, Version};

use crate::config::PullArgs;
use crate::progress::Progress;

/// Statements asked for per page (a page with its attachments is held in memory).
const PAGE: usize = 200;

/// How long one response may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The largest page accepted, attachments included.
const MAX_PAGE_BYTES: u64 = 1 << 30;

pub async fn pull<S: StatementWriter + TenantReader + PullCursors>(store: &S, args: PullArgs) -> Result<()> {
    let id = args.into_store;
    match store.store_info(id).await? {
        Some(info) if !info.revoked => {}
        Some(_) => bail!("store {id} is revoked: it takes no statements"),
        None => bail!("there is no store {id}"),
    }
    if let Some(since) = &args.since
        && Timestamp::parse(since).is_none()
    {
        bail!("--since: {since:?} is not an RFC 3339 time (2025-03-01T00:00:00Z)");
    }
    let source = Source::new(&args.from, &args.key, &args.secret);
    source.check_is_an_lrs()?;
    let resource = source.resource();
    let since = match args.since {
        Some(since) => Some(since),
        None => store.pull_cursor(id, &resource).await?,
    };
    match &since {
        Some(since) => println!("pulling statements stored after {since} from {resource}"),
        None => println!("pulling every statement from {resource}"),
    }
    let mut next = Some(source.first_page(since.as_deref()));
    let progress = Progress::new(resource.clone(), "statements");
    let (mut pulled, mut attachments) = (0u64, 0u64);
    while let Some(url) = next.take() {
        let page = source.page(&url).await?;
        let count = page.statements.len() as u64;
        attachments += page.uploads.len() as u64;
        let resume = page.resume_after.clone();
        next = page.more.clone();
        store_page(store, id, &source.authority_of_pull(), args.keep_stored, page).await.with_context(
            || {
                format!(
                    "storing a page from {url} failed; the pages before it are stored, and a re-run resumes"
                )
            },
        )?;
        if let Some(resume) = resume {
            store.set_pull_cursor(id, &resource, &resume).await?;
        }
        pulled += count;
        progress.rows(pulled);
    }
    progress.finish();
    println!(
        "pulled: {pulled} statements read, each stored once, with {attachments} attachments, into store {id}"
    );
    Ok(())
}

/// A page as read: its statements, validated, the content of their attachments, the next
/// page, and where a later run resumes once this page is stored.
struct Page {
    statements: Vec<Statement>,
    uploads: Vec<AttachmentUpload>,
    more: Option<String>,
    resume_after: Option<String>,
}

/// Stores a page, in runs of consecutive statements with the same authority (a batch has
/// one): the source's authority is kept, and its `stored` when `keep_stored`.
async fn store_page<S: StatementWriter>(
    store: &S,
    id: StoreId,
    fallback: &Value,
    keep_stored: bool,
    page: Page,
) -> Result<()> {
    let mut runs: Vec<(Value, Vec<Statement>)> = Vec::new();
    for statement in page.statements {
        let authority = statement.json().get("authority").cloned().unwrap_or_else(|| fallback.clone());
        match runs.last_mut() {
            Some((held, run)) if *held == authority => run.push(statement),
            _ => runs.push((authority, vec![statement])),
        }
    }
    let mut uploads = Some(page.uploads);
    for (authority, statements) in runs {
        let batch = StatementBatch {
            store: id,
            version: Version::V1_0,
            authority,
            define: true,
            keep_stored,
            statements,
            // The content goes with the first batch; each batch's statements find theirs
            // stored once per hash.
            attachments: uploads.take().unwrap_or_default(),
        };
        store.write_statements(batch).await?;
    }
    Ok(())
}

/// The LRS pulled from.
struct Source {
    /// Its xAPI base URL, without a trailing slash (`https://lrs.example.com/xapi`).
    base: String,
    authorization: String,
    agent: ureq::Agent,
}

impl Source {
    fn new(base: &str, key: &str, secret: &str) -> Source {
        use base64::Engine;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
        Source {
            base: base.trim_end_matches('/').to_string(),
            authorization: format!("Basic {credentials}"),
            agent,
        }
    }

    /// The statement resource: what the cursor is kept under.
    fn resource(&self) -> String {
        format!("{}/statements", self.base)
    }

    /// The authority of a statement whose source gave it none.
    fn authority_of_pull(&self) -> Value {
        serde_json::json!({
            "objectType": "Agent",
            "name": "tally pull",
            "account": { "homePage": self.base, "name": "tally-pull" },
        })
    }

    fn first_page(&self, since: Option<&str>) -> String {
        let mut url = format!("{}?ascending=true&attachments=true&limit={PAGE}", self.resource());
        if let Some(since) = since {
            url.push_str(&format!(
                "&since={}",
                percent_encoding::utf8_percent_encode(since, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
        url
    }

    /// Whether `GET /about` answers as an LRS does (xAPI 1.0.3 Communication §2.8).
    fn check_is_an_lrs(&self) -> Result<()> {
        let url = format!("{}/about", self.base);
        let response = self.agent.get(&url).call().with_context(|| format!("{url} cannot be reached"))?;
        let status = response.status().as_u16();
        let body = response.into_body().read_to_string().unwrap_or_default();
        let about: Option<Value> = serde_json::from_str(&body).ok();
        match about.as_ref().and_then(|a| a.get("version")).and_then(Value::as_array) {
            Some(_) if status == 200 => Ok(()),
            _ => {
                bail!("{} is not an xAPI LRS: GET {url} answered {status} without a version list", self.base)
            }
        }
    }

    /// Reads one page and validates it whole.
    async fn page(&self, url: &str) -> Result<Page> {
        let response = self
            .agent
            .get(url)
            .header("Authorization", &self.authorization)
            .header("X-Experience-API-Version", "1.0.3")
            .call()
            .with_context(|| format!("{url} cannot be reached"))?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let version = response
            .headers()
            .get("x-experience-api-version")
            .and_then(|v| v.to_str().ok())
            .and_then(Version::from_header)
            .unwrap_or(Version::V1_0);
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_vec()
            .with_context(|| format!("the answer of {url} could not be read"))?;
        match status {
            200 => {}
            401 | 403 => bail!("the source refused the key and secret ({status}): {}", short(&body)),
            _ => bail!(
                "the source answered {status} to {url}: {}; nothing of this page is stored, and a re-run \
                 resumes here",
                short(&body)
            ),
        }
        let (statements_json, parts) = if content_type.to_ascii_lowercase().starts_with("multipart/mixed") {
            let boundary = multipart::boundary(&content_type).map_err(|e| anyhow::anyhow!("{e}"))?;
            let limits =
                Limits { statements_bytes: MAX_PAGE_BYTES as usize, attachment_bytes: MAX_PAGE_BYTES };
            let chunks =
                futures_util::stream::iter([Ok::<_, std::io::Error>(actix_web::web::Bytes::from(body))]);
            let received = multipart::read(&boundary, chunks, limits)
                .await
                .map_err(|e| anyhow::anyhow!("the multipart answer of {url} is malformed: {e}"))?;
            (received.statements.to_vec(), received.attachments)
        } else {
            (body, Vec::new())
        };
        let result: Value = serde_json::from_slice(&statements_json)
            .with_context(|| format!("{url} did not answer a StatementResult"))?;
        let Some(items) = result.get("statements").and_then(Value::as_array) else {
            bail!("{url} did not answer a StatementResult (no statements array)");
        };
        let mut statements = Vec::with_capacity(items.len());
        for item in items {
            let id = item.get("id").and_then(Value::as_str).unwrap_or("without an id").to_string();
            let statement = Statement::parse(item.clone(), version).map_err(|e| {
                anyhow::anyhow!(
                    "statement {id} from the source breaks a rule ({e}); nothing of this page is stored"
                )
            })?;
            statements.push(statement);
        }
        let uploads = server::attachments::match_parts(&statements, parts).map_err(|e| {
            anyhow::anyhow!("the attachments of a page from {url} do not match its statements: {e}")
        })?;
        // The next run starts just before the last `stored` read: statements sharing that
        // instant are read again (and stored once), none is skipped.
        let resume_after = items
            .last()
            .and_then(|s| s.get("stored"))
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
            .map(|t| Timestamp::from_micros(t.instant.as_micros() - 1_000).to_rfc3339());
        let more =
            result.get("more").and_then(Value::as_str).filter(|m| !m.is_empty()).map(|m| self.absolute(m));
        Ok(Page { statements, uploads, more, resume_after })
    }

    /// A `more` URL made absolute: a path is on the source's host.
    fn absolute(&self, more: &str) -> String {
        if more.starts_with("http://") || more.starts_with("https://") {
            return more.to_string();
        }
        let origin_end = self.base.find("://").map_or(0, |i| i + 3);
        let host_end = self.base[origin_end..].find('/').map_or(self.base.len(), |i| origin_end + i);
        format!("{}{more}", &self.base[..host_end])
    }
}

/// The start of an answer's body, for a message.
fn short(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}
