//! Ticket import into a store: parse an export (see `tickets`), keep the good rows (or, with
//! `strict`, nothing when any row is refused), and say what happened to every row.
//!
//! The export is read from a file (the HTTP layer spools a request body to one first), so
//! a strict import can check every row before storing any without holding the file in
//! memory: it reads it twice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Serialize;
use store::insights::{TicketCoverage, TicketRow};
use store::{StoreError, StoreId, TicketWriter};
use tokio::sync::mpsc;

use crate::report::instant_text;
use crate::tickets::{self, ImportError, ImportOptions, InputFormat, Requester, RowError, Ticket};

/// Tickets stored per transaction.
const BATCH: usize = 1_000;

/// Rejected rows listed in a summary at most (all are counted).
const LISTED_REJECTIONS: usize = 1_000;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub inserted: u64,
    pub updated: u64,
    pub rejected: u64,
    /// The rejected rows (the first thousand): row number, column and reason.
    pub rejected_rows: Vec<Rejected>,
    /// False when a strict import refused everything because some rows were bad.
    pub stored: bool,
    /// False when the export could not be read to its end (a fatal row error, such as
    /// broken JSON syntax or a read error): rows after it were not imported.
    pub complete: bool,
    /// What the import recorded as covered, per source (RFC 3339): the `through` it was
    /// given, else its latest ticket. Nothing is recorded for an import that did not store
    /// its whole file (strict and refused, or not complete).
    pub known_through: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub row: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl From<&RowError> for Rejected {
    fn from(e: &RowError) -> Self {
        Rejected { row: e.row, column: e.column.clone(), reason: e.reason.clone() }
    }
}

/// Why an import failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    #[error("{0}")]
    Import(#[from] ImportError),
    #[error("cannot read the export: {0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The store's form of a ticket: requester keys lowercased, as the report matches them.
pub fn ticket_row(ticket: Ticket) -> TicketRow {
    let (requester, requester_keys) = match &ticket.requester {
        Some(r @ Requester::Email(email)) => (email.clone(), r.actor_keys()),
        Some(r @ Requester::Account { name, .. }) => (name.clone(), r.actor_keys()),
        None => (String::new(), Vec::new()),
    };
    TicketRow {
        source: ticket.source,
        external_id: ticket.external_id,
        created: ticket.created,
        resolved: ticket.resolved,
        status: ticket.status,
        category: ticket.category,
        tags: ticket.tags,
        product: ticket.product,
        requester,
        requester_keys: requester_keys.into_iter().map(|k| k.to_lowercase()).collect(),
        priority: ticket.priority,
        channel: ticket.channel,
        subject: ticket.subject,
    }
}

/// Reads an import's `through`: a date (`2026-03-01`) covers that whole day (UTC); an RFC
/// 3339 timestamp covers up to that instant. The error says what was expected.
pub fn parse_through(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        let next = date.tomorrow().map_err(|e| e.to_string())?;
        return Ok(crate::days::day_start(next) - 1);
    }
    xapi::Timestamp::parse(text)
        .map(|t| t.instant.as_micros())
        .ok_or_else(|| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"))
}

/// Parsed rows, a batch at a time, from a blocking reader thread.
enum Parsed {
    Batch(Vec<Ticket>, Vec<RowError>),
    Failed(ImportFailure),
}

/// Reads `path` on a blocking thread and sends batches; `rows` reports progress.
fn parse_in_background(
    path: PathBuf,
    format: InputFormat,
    options: ImportOptions,
    progress: impl Fn(u64) + Send + 'static,
) -> mpsc::Receiver<Parsed> {
    let (sender, receiver) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let file = match File::open(&path) {
            Ok(file) => BufReader::new(file),
            Err(e) => {
                let _ = sender.blocking_send(Parsed::Failed(ImportFailure::Io(e.to_string())));
                return;
            }
        };
        let rows = match tickets::read(file, format, &options) {
            Ok(rows) => rows,
            Err(e) => {
                let _ = sender.blocking_send(Parsed::Failed(e.into()));
                return;
            }
        };
        let (mut good, mut bad, mut seen) = (Vec::with_capacity(BATCH), Vec::new(), 0u64);
        for row in rows {
            seen += 1;
            match row {
                Ok(ticket) => good.push(ticket),
                Err(error) => bad.push(error),
            }
            if good.len() + bad.len() >= BATCH {
                progress(seen);
                let batch = Parsed::Batch(std::mem::take(&mut good), std::mem::take(&mut bad));
                if sender.blocking_send(batch).is_err() {
                    return;
                }
            }
        }
        progress(seen);
        let _ = sender.blocking_send(Parsed::Batch(good, bad));
    });
    receiver
}

/// Imports an export file into a store, in a `ticket_import` span with its counts.
#[tracing::instrument(
    name = "ticket_import",
    skip_all,
    fields(store = id.get(), format = ?format, strict, inserted, updated, rejected)
)]
pub async fn import_file<S: TicketWriter>(
    store: &S,
    id: StoreId,
    path: &Path,
    format: InputFormat,
    options: ImportOptions,
    strict: bool,
    progress: impl Fn(u64) + Send + Clone + 'static,
) -> Result<ImportSummary, ImportFailure> {
    let mut summary = ImportSummary { stored: true, complete: true, ..ImportSummary::default() };
    if strict {
        // First pass: only look for bad rows.
        let mut batches = parse_in_background(path.to_path_buf(), format, options.clone(), |_| {});
        while let Some(parsed) = batches.recv().await {
            match parsed {
                Parsed::Failed(e) => return Err(e),
                Parsed::Batch(_, bad) => note(&mut summary, &bad),
            }
        }
        if summary.rejected > 0 {
            summary.stored = false;
            tracing::Span::current().record("rejected", summary.rejected);
            return Ok(summary);
        }
    }
    let through = options.through;
    let mut latest: BTreeMap<String, i64> = BTreeMap::new();
    if let (Some(source), Some(_)) = (options.source.as_deref().map(str::trim), through)
        && !source.is_empty()
    {
        latest.insert(source.to_string(), i64::MIN);
    }
    let mut batches = parse_in_background(path.to_path_buf(), format, options, progress);
    while let Some(parsed) = batches.recv().await {
        match parsed {
            Parsed::Failed(e) => return Err(e),
            Parsed::Batch(good, bad) => {
                if !strict {
                    note(&mut summary, &bad);
                }
                for ticket in &good {
                    let seen = latest.entry(ticket.source.clone()).or_insert(ticket.created);
                    *seen = (*seen).max(ticket.created);
                }
                if !good.is_empty() {
                    let (inserted, updated) =
                        store.upsert_tickets(id, good.into_iter().map(ticket_row).collect()).await?;
                    summary.inserted += inserted;
                    summary.updated += updated;
                }
            }
        }
    }
    if summary.complete {
        let coverage: Vec<TicketCoverage> = latest
            .into_iter()
            .map(|(source, latest)| TicketCoverage { source, through: through.unwrap_or(latest) })
            .filter(|c| c.through != i64::MIN)
            .collect();
        summary.known_through =
            coverage.iter().map(|c| (c.source.clone(), instant_text(c.through))).collect();
        store.record_coverage(id, coverage).await?;
    }
    tracing::Span::current()
        .record("inserted", summary.inserted)
        .record("updated", summary.updated)
        .record("rejected", summary.rejected);
    Ok(summary)
}

fn note(summary: &mut ImportSummary, bad: &[RowError]) {
    summary.complete &= !bad.iter().any(|e| e.fatal);
    summary.rejected += bad.len() as u64;
    let room = LISTED_REJECTIONS.saturating_sub(summary.rejected_rows.len());
    summary.rejected_rows.extend(bad.iter().take(room).map(Rejected::from));
}
