//! Statements in bulk as NDJSON: one statement per line, UTF-8, `\n` (or `\r\n`) between
//! lines. The export streams a filtered statement query a page at a time; the import reads
//! lines as they arrive, validates each as `POST /xapi/statements` would, stores them in
//! atomic batches and reports each line it refused, by number. Both hold one page or one
//! batch at a time, whatever the size of the whole.
//!
//! An import is idempotent by statement id: a line whose statement is already stored, the
//! same by xAPI's rules, is accepted again and stored once. As with any xAPI write, the
//! LRS sets `stored` and `authority` (the importing credential's); `tally copy` is the
//! tool that keeps them.

use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde_json::Value;
use store::{StatementBatch, StatementWriter, StoreError, StoreId};
use xapi::{Statement, Version};

use crate::ApiError;
use crate::attachments;

/// Statements per stored batch (each batch is one transaction).
pub const IMPORT_BATCH: usize = 500;

/// Where imported statements go and whose they are.
#[derive(Clone, Debug)]
pub struct ImportTarget {
    pub store: StoreId,
    /// The `authority` every imported statement gets.
    pub authority: Value,
    /// Whether the statements' activity definitions update the ones the store holds.
    pub define: bool,
    /// The longest line accepted, in bytes (a longer one is refused, not held).
    pub max_line_bytes: usize,
}

/// Refused lines an import reports one by one (the first, by line number); it counts
/// them all.
pub const REPORTED_LINES: usize = 1_000;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Statements stored or found already stored.
    pub accepted: u64,
    /// Lines refused.
    pub rejected: u64,
    /// The first [`REPORTED_LINES`] refused lines, in order.
    pub rejected_lines: Vec<RejectedLine>,
}

impl ImportReport {
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected += 1;
        self.rejected_lines.push(RejectedLine { line, reason });
        // Refusals arrive out of order (the store's come with their batch); the list is
        // trimmed now and then so that it stays bounded whatever the input.
        if self.rejected_lines.len() >= 2 * REPORTED_LINES {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.rejected_lines.sort_by_key(|r| r.line);
        self.rejected_lines.truncate(REPORTED_LINES);
    }
}

/// A refused line: its number (from 1) and the rule it broke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    pub line: u64,
    pub reason: String,
}

/// How an import can fail as a whole (a refused line is not a failure: it is reported).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input could not be read; batches stored before it stay stored.
    #[error("the input could not be read: {0}")]
    Read(String),
    /// The store failed; batches stored before it stay stored, and a re-run (idempotent)
    /// finishes the import.
    #[error(transparent)]
    Store(StoreError),
}

/// Imports the NDJSON that `input` yields, chunk by chunk (chunks need not end at a line).
/// `progress` is told the lines read after each batch.
pub async fn import<S, B, E>(
    store: &S,
    target: &ImportTarget,
    input: impl Stream<Item = Result<B, E>>,
    progress: impl Fn(u64),
) -> Result<ImportReport, ImportError>
where
    S: StatementWriter,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let mut importer =
        Importer { store, target, report: ImportReport::default(), batch: Vec::new(), lines: Vec::new() };
    let mut lines = LineSplitter::new(target.max_line_bytes);
    let mut input = std::pin::pin!(input);
    while let Some(chunk) = input.next().await {
        let chunk = chunk.map_err(|e| ImportError::Read(e.to_string()))?;
        for line in lines.push(chunk.as_ref()) {
            importer.line(line).await?;
            if importer.batch.is_empty() {
                progress(importer.report.lines);
            }
        }
    }
    if let Some(line) = lines.finish() {
        importer.line(line).await?;
    }
    importer.flush().await?;
    progress(importer.report.lines);
    importer.report.trim();
    Ok(importer.report)
}

struct Importer<'a, S> {
    store: &'a S,
    target: &'a ImportTarget,
    report: ImportReport,
    /// Parsed statements waiting for their batch.
    batch: Vec<Statement>,
    /// The batch's lines, by number: read again only when the store refuses the batch.
    lines: Vec<(u64, Vec<u8>)>,
}

impl<S: StatementWriter> Importer<'_, S> {
    async fn line(&mut self, line: Line) -> Result<(), ImportError> {
        self.report.lines += 1;
        let number = self.report.lines;
        let text = match line {
            Line::Text(text) => text,
            Line::TooLong(limit) => {
                self.report.reject(number, format!("the line is longer than {limit} bytes"));
                return Ok(());
            }
        };
        match parse_line(&text) {
            Ok(None) => {}
            Ok(Some(statement)) => {
                self.batch.push(statement);
                self.lines.push((number, text));
                if self.batch.len() >= IMPORT_BATCH {
                    self.flush().await?;
                }
            }
            Err(reason) => self.report.reject(number, reason),
        }
        Ok(())
    }

    /// Stores the waiting batch in one transaction. When the store refuses it (a statement
    /// conflicts with a stored one, or breaks a rule only the store checks), each statement
    /// is stored alone, so the refusal names its line and the others are kept.
    async fn flush(&mut self) -> Result<(), ImportError> {
        let (batch, lines) = (std::mem::take(&mut self.batch), std::mem::take(&mut self.lines));
        if batch.is_empty() {
            return Ok(());
        }
        match self.store.write_statements(self.batch_of(batch)).await {
            Ok(ids) => self.report.accepted += ids.len() as u64,
            Err(e) if refuses_content(&e) => {
                for (number, text) in lines {
                    // The line parsed before, so it parses again.
                    let Ok(Some(statement)) = parse_line(&text) else { continue };
                    match self.store.write_statements(self.batch_of(vec![statement])).await {
                        Ok(_) => self.report.accepted += 1,
                        Err(e) if refuses_content(&e) => self.report.reject(number, e.to_string()),
                        Err(e) => return Err(ImportError::Store(e)),
                    }
                }
            }
            Err(e) => return Err(ImportError::Store(e)),
        }
        Ok(())
    }

    fn batch_of(&self, statements: Vec<Statement>) -> StatementBatch {
        StatementBatch {
            store: self.target.store,
            // The version decides only the default `version` property; each line was
            // validated under its own.
            version: Version::V2_0,
            authority: self.target.authority.clone(),
            define: self.target.define,
            keep_stored: false,
            statements,
            attachments: Vec::new(),
        }
    }
}

/// Whether the store refused what was written, rather than failed.
fn refuses_content(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict(_) | StoreError::Invalid { .. })
}

/// One line as read: its bytes, or that it was longer than allowed.
enum Line {
    Text(Vec<u8>),
    TooLong(usize),
}

/// A statement from one line (`None` for a blank line), or why the line is refused. Each
/// line is validated under the xAPI version its statement names (2.0.0 when it names
/// none), as the statement resource validates a request under its header.
fn parse_line(bytes: &[u8]) -> Result<Option<Statement>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err("a line must hold one statement (a JSON object)".into());
    }
    let version = match value.get("version").and_then(Value::as_str) {
        Some(named) => {
            Version::from_header(named).ok_or_else(|| format!("version: {named:?} is not supported"))?
        }
        None => Version::V2_0,
    };
    let statement = Statement::parse(value, version).map_err(|e| ApiError::from(e).to_string())?;
    // Attachment content cannot travel in a line: a statement that needs it is refused
    // by the same rule as a JSON request without its parts.
    attachments::match_parts(std::slice::from_ref(&statement), Vec::new()).map_err(|e| e.to_string())?;
    Ok(Some(statement))
}

/// Cuts a byte stream into lines, holding at most one line (and never more than the
/// limit of one: the rest of a longer line is skipped as it arrives).
struct LineSplitter {
    limit: usize,
    current: Vec<u8>,
    /// The current line has passed the limit; its bytes are dropped until its end.
    overlong: bool,
}

impl LineSplitter {
    fn new(limit: usize) -> LineSplitter {
        LineSplitter { limit, current: Vec::new(), overlong: false }
    }

    /// The lines that `chunk` completes.
    fn push(&mut self, chunk: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.take(&rest[..end]);
            lines.push(self.complete());
            rest = &rest[end + 1..];
        }
        self.take(rest);
        lines
    }

    /// The last line, when the input does not end with a newline.
    fn finish(&mut self) -> Option<Line> {
        (self.overlong || !self.current.is_empty()).then(|| self.complete())
    }

    fn take(&mut self, bytes: &[u8]) {
        if self.overlong {
            return;
        }
        if self.current.len() + bytes.len() > self.limit {
            self.overlong = true;
            self.current = Vec::new();
        } else {
            self.current.extend_from_slice(bytes);
        }
    }

    fn complete(&mut self) -> Line {
        if std::mem::take(&mut self.overlong) {
            return Line::TooLong(self.limit);
        }
        let mut line = std::mem::take(&mut self.current);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Line::Text(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: Vec<Line>) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| match l {
                Line::Text(t) => String::from_utf8(t).unwrap(),
                Line::TooLong(n) => format!("<longer than {n}>"),
            })
            .collect()
    }

    #[test]
    fn lines_are_cut_wherever_the_chunks_end_and_a_crlf_is_one_break() {
        let mut split = LineSplitter::new(100);
        let mut lines = texts(split.push(b"{\"a\":1}\r\n{\"b\""));
        lines.extend(texts(split.push(b":2}\n\n{\"c\":3}")));
        lines.extend(texts(split.finish().into_iter().collect()));
        assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"]);
    }

    #[test]
    fn a_line_past_the_limit_is_refused_without_being_held_and_the_next_line_is_read() {
        let mut split = LineSplitter::new(8);
        let mut lines = texts(split.push(b"0123456789"));
        assert!(split.current.is_empty(), "the long line is not held");
        lines.extend(texts(split.push(b"abcdef\n{}\n")));
        assert_eq!(lines, ["<longer than 8>", "{}"]);
    }

    #[test]
    fn the_report_counts_every_refused_line_and_lists_the_first_ones_in_order() {
        let mut report = ImportReport::default();
        for line in (1..=5_000).rev() {
            report.reject(line, "bad".into());
            assert!(report.rejected_lines.len() < 2 * REPORTED_LINES, "the list stays bounded");
        }
        report.trim();
        assert_eq!(report.rejected, 5_000);
        let lines: Vec<u64> = report.rejected_lines.iter().map(|r| r.line).collect();
        assert_eq!(lines, (1..=REPORTED_LINES as u64).collect::<Vec<_>>());
    }

    #[test]
    fn a_line_is_refused_with_the_rule_it_breaks() {
        let line = |s: &str| parse_line(s.as_bytes());
        assert!(line("  ").unwrap().is_none(), "a blank line is skipped");
        assert!(line("[{}]").unwrap_err().contains("one statement"));
        assert!(line("{not json").unwrap_err().starts_with("not valid JSON"));
        assert!(line(r#"{"actor":{"mbox":"mailto:a@example.com"}}"#).unwrap_err().contains("verb"));
    }
}
