//! Support tickets imported from helpdesk exports.
//!
//! An export (CSV, a JSON array, or NDJSON) is read as a stream: each row becomes a
//! [`Ticket`] or a [`RowError`] naming the row, the column and the reason, and nothing but
//! the current row is held in memory, so a file of a million rows imports in constant
//! space. Column layouts come from a [`Preset`] (`zendesk`, `servicenow`, `jira`,
//! `generic`), adjustable per field with [`ImportOptions::map`]. Whether good rows are kept
//! when others are refused (`--strict`), and counting inserted and updated tickets, is the
//! caller's business: the readers only parse.
//!
//! Row numbers, as a spreadsheet shows them:
//! - CSV: the header is row 1, the first data record row 2; a record is one row even when a
//!   quoted cell spans several lines (blank lines are not records and are not counted);
//! - JSON array: the element's position, from 1;
//! - NDJSON: the line number, from 1 (blank lines are skipped but counted).

mod csv_reader;
mod dates;
mod json_reader;
mod model;
mod plan;
mod presets;

use std::fmt;
use std::io::Read;
use std::path::Path;

pub use csv_reader::{CsvTickets, read_csv};
pub use json_reader::{JsonArrayTickets, NdjsonTickets, read_json_array, read_ndjson};
pub use model::{Requester, Ticket};
pub use presets::{Field, Preset};

/// How to read an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// The column layout.
    pub preset: Preset,
    /// The tickets' `source`; by default a `generic` file's `source` column, else the
    /// preset's name.
    pub source: Option<String>,
    /// `(field, column)` pairs (`--map field=Column`): read `field` (a [`Field::name`]) from
    /// the column with this header instead of the preset's. Several pairs for one field
    /// are tried in order (tags are gathered from all of them).
    pub map: Vec<(String, String)>,
    /// The IANA time zone (`Europe/Berlin`) of dates written without an offset.
    pub timezone: String,
    /// Requester values that are not email addresses become xAPI accounts on this home page
    /// (`https://sso.example.com`). Without it, such rows are refused: a requester that can
    /// never be linked to a learner is a mistake worth hearing about.
    pub account_home_page: Option<String>,
    /// What the export covers: every ticket its sources created at or before this instant
    /// (microseconds) is in it. Without it, an import covers up to its latest ticket.
    /// Reports end their windows at the earliest coverage of a goal's sources.
    pub through: Option<i64>,
}

impl ImportOptions {
    /// The defaults for `preset`: UTC, no remapping, no account home page.
    pub fn new(preset: Preset) -> ImportOptions {
        ImportOptions {
            preset,
            source: None,
            map: Vec::new(),
            timezone: "UTC".into(),
            account_home_page: None,
            through: None,
        }
    }
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions::new(Preset::Generic)
    }
}

/// Why an import cannot start: bad options, or a CSV header without a required column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("unknown preset {0:?}; expected zendesk, servicenow, jira or generic")]
    UnknownPreset(String),
    #[error(
        "unknown field {0:?} in a column mapping; expected one of source, external_id, created, \
         resolved, status, category, tags, product, requester, priority, channel, subject"
    )]
    UnknownField(String),
    #[error("the column mapping for {0} names no column")]
    EmptyMapping(&'static str),
    #[error("unknown time zone {name:?}: {reason}")]
    UnknownTimeZone { name: String, reason: String },
    #[error("account home page {0:?} is not an absolute IRI such as https://sso.example.com")]
    InvalidHomePage(String),
    #[error("unknown input format {0:?}; expected csv, json or ndjson")]
    UnknownFormat(String),
    #[error("no column for {field} (looked for {}); the header has: {}", quoted(expected), quoted(found))]
    MissingColumn { field: &'static str, expected: Vec<String>, found: Vec<String> },
    #[error("cannot read the header: {0}")]
    Header(String),
    #[error("not a JSON array: {0}")]
    NotAnArray(String),
}

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "nothing".into();
    }
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

/// A row that did not become a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row (see the module documentation for how each format counts).
    pub row: u64,
    /// The column at fault as the file names it, when one is.
    pub column: Option<String>,
    pub reason: String,
    /// The reader cannot go on after this error (an I/O error, broken JSON array syntax);
    /// it is the last item, and the rest of the input was not read.
    pub fatal: bool,
}

impl RowError {
    pub(crate) fn new(row: u64, column: Option<String>, reason: impl Into<String>) -> RowError {
        RowError { row, column, reason: reason.into(), fatal: false }
    }

    pub(crate) fn fatal(row: u64, reason: impl Into<String>) -> RowError {
        RowError { row, column: None, reason: reason.into(), fatal: true }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(column) = &self.column {
            write!(f, ", column {column:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RowError {}

/// The shape of an export file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// RFC 4180 CSV, UTF-8, with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line (also called JSON Lines).
    Ndjson,
}

impl InputFormat {
    /// The format a media type names (`text/csv; charset=utf-8`, `application/json`,
    /// `application/x-ndjson`, `application/jsonl`), if it names one.
    pub fn from_content_type(content_type: &str) -> Option<InputFormat> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" | "application/csv" | "text/comma-separated-values" => Some(InputFormat::Csv),
            "application/json" | "text/json" => Some(InputFormat::Json),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines"
            | "application/json-seq" => Some(InputFormat::Ndjson),
            _ => None,
        }
    }

    /// The format a file name's extension names (`.csv`, `.json`, `.ndjson`, `.jsonl`).
    pub fn from_path(path: impl AsRef<Path>) -> Option<InputFormat> {
        let extension = path.as_ref().extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(InputFormat::Csv),
            "json" => Some(InputFormat::Json),
            "ndjson" | "jsonl" | "ldjson" => Some(InputFormat::Ndjson),
            _ => None,
        }
    }

    /// A guess from the first bytes of the input (for standard input): `[` is a JSON array,
    /// `{` NDJSON, anything else CSV. A byte-order mark and whitespace are skipped.
    pub fn sniff(start: &[u8]) -> InputFormat {
        let start = start.strip_prefix(b"\xef\xbb\xbf").unwrap_or(start);
        match start.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => InputFormat::Json,
            Some(b'{') => InputFormat::Ndjson,
            _ => InputFormat::Csv,
        }
    }
}

impl std::str::FromStr for InputFormat {
    type Err = ImportError;

    /// `csv`, `json`, `ndjson` (or `jsonl`); any case.
    fn from_str(text: &str) -> Result<InputFormat, ImportError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(InputFormat::Csv),
            "json" => Ok(InputFormat::Json),
            "ndjson" | "jsonl" => Ok(InputFormat::Ndjson),
            _ => Err(ImportError::UnknownFormat(text.to_owned())),
        }
    }
}

/// Reads tickets from JSON objects one at a time, as a helpdesk's API answers them, with
/// the layout of a JSON export of the same preset (see `json_reader`).
#[derive(Clone, Debug)]
pub struct ObjectTickets {
    plan: plan::Plan,
}

impl ObjectTickets {
    pub fn new(options: &ImportOptions) -> Result<ObjectTickets, ImportError> {
        Ok(ObjectTickets { plan: plan::Plan::new(options)? })
    }

    /// `object` as a ticket, or why not (`row` is the object's position, from 1).
    pub fn ticket(&self, row: u64, object: &serde_json::Value) -> Result<Ticket, RowError> {
        json_reader::value_ticket(&self.plan, row, object)
    }

    /// The columns of `field` this layout reads, as the preset (or mapping) names them.
    pub fn columns(&self, field: Field) -> impl Iterator<Item = &str> {
        self.plan.wanted(field)
    }
}

/// The tickets of an export in any [`InputFormat`].
#[derive(Debug)]
pub enum Tickets<R: Read> {
    Csv(CsvTickets<R>),
    Json(JsonArrayTickets<R>),
    Ndjson(NdjsonTickets<R>),
}

impl<R: Read> Iterator for Tickets<R> {
    type Item = Result<Ticket, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Tickets::Csv(tickets) => tickets.next(),
            Tickets::Json(tickets) => tickets.next(),
            Tickets::Ndjson(tickets) => tickets.next(),
        }
    }
}

/// Reads an export in `format`, streaming. Fails before the first row only for bad
/// options, an unreadable CSV header or one without a required column, and input that is
/// not a JSON array when `format` says it is.
pub fn read<R: Read>(
    input: R,
    format: InputFormat,
    options: &ImportOptions,
) -> Result<Tickets<R>, ImportError> {
    Ok(match format {
        InputFormat::Csv => Tickets::Csv(read_csv(input, options)?),
        InputFormat::Json => Tickets::Json(read_json_array(input, options)?),
        InputFormat::Ndjson => Tickets::Ndjson(read_ndjson(input, options)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_content_types_paths_and_bytes() {
        assert_eq!(InputFormat::from_content_type("text/csv; charset=utf-8"), Some(InputFormat::Csv));
        assert_eq!(InputFormat::from_content_type("Application/JSON"), Some(InputFormat::Json));
        assert_eq!(InputFormat::from_content_type("application/x-ndjson"), Some(InputFormat::Ndjson));
        assert_eq!(InputFormat::from_content_type("text/plain"), None);
        assert_eq!(InputFormat::from_path("exports/tickets.CSV"), Some(InputFormat::Csv));
        assert_eq!(InputFormat::from_path("t.jsonl"), Some(InputFormat::Ndjson));
        assert_eq!(InputFormat::from_path("t.json"), Some(InputFormat::Json));
        assert_eq!(InputFormat::from_path("t.xlsx"), None);
        assert_eq!(InputFormat::sniff(b"\xef\xbb\xbf  [{}]"), InputFormat::Json);
        assert_eq!(InputFormat::sniff(b"\n{\"a\":1}\n"), InputFormat::Ndjson);
        assert_eq!(InputFormat::sniff(b"Id,Created at"), InputFormat::Csv);
        assert_eq!("JSONL".parse::<InputFormat>().unwrap(), InputFormat::Ndjson);
        assert!("xml".parse::<InputFormat>().is_err());
    }

    #[test]
    fn row_errors_read_well() {
        let error = RowError::new(7, Some("Created at".into()), "\"soon\" is not a date");
        assert_eq!(error.to_string(), "row 7, column \"Created at\": \"soon\" is not a date");
    }
}
