//! `GET /ui/tickets`: tickets summarised by category (or product, or tag) per interval, as
//! `GET /insights/tickets/summary` counts them, and the import of a helpdesk export in three
//! steps: upload (`POST /ui/tickets/preview`: the first rows as the file has them, the
//! columns each field is read from, and the rows as Tally reads them), confirm (`POST
//! /ui/tickets/import`), and the import report with its rejected rows. The import is
//! `insights::import::import_file`, the same as `POST /insights/tickets`.
//!
//! The uploaded file waits in a temporary file held by the session until it is imported,
//! replaced by another upload, or the session ends.

use std::fs::File;
use std::io::{BufReader, Cursor, Write};
use std::path::Path;

use actix_multipart::Multipart;
use actix_web::web::{self, Data, Form};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use insights::goal::date;
use insights::import::{ImportFailure, ImportSummary, import_file};
use insights::service::{self, Bucket, GroupBy};
use insights::tickets::{
    self, Field, ImportError, ImportOptions, InputFormat, Preset, Requester, RowError, Ticket,
};
use maud::{Markup, html};
use serde::Deserialize;
use server::{ApiError, AppConfig, audit};
use store::{AuditWriter, TicketReader, TicketWriter};

use super::{notice, store};
use crate::layout::{self, Section};
use crate::session::{self, INSIGHTS_READ, INSIGHTS_WRITE, SignedIn, Viewer};
use crate::{PageError, chart, format};

/// Rows shown in a preview.
const PREVIEW_ROWS: usize = 5;
/// The most bytes of a form field other than the file.
const FIELD_BYTES: usize = 4096;

/// An uploaded export waiting for its import to be confirmed.
pub(crate) struct PendingImport {
    /// Names this upload in the confirmation form.
    pub token: String,
    file: tempfile::NamedTempFile,
    file_name: String,
    format: InputFormat,
    options: ImportOptions,
}

#[derive(Debug, Default, Deserialize)]
pub struct SummaryQuery {
    #[serde(default)]
    group_by: String,
    #[serde(default)]
    interval: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

fn format_name(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Csv => "CSV",
        InputFormat::Json => "JSON",
        InputFormat::Ndjson => "NDJSON",
    }
}

/// The upload form.
fn import_form(viewer: &Viewer) -> Markup {
    html! {
        form method="post" action="/ui/tickets/preview" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="file" { "Export file " span.hint { "(CSV, JSON array or NDJSON)" } }
            input #file type="file" name="file" accept=".csv,.json,.ndjson,.jsonl,text/csv,application/json" required;
            label for="preset" { "Helpdesk" }
            select #preset name="preset" {
                @for preset in Preset::ALL {
                    option value=(preset.name()) { (preset.name()) }
                }
            }
            label for="source" { "Source " span.hint { "(optional; default: the helpdesk's name)" } }
            input #source type="text" name="source";
            label for="timezone" { "Time zone of dates without one " span.hint { "(IANA name)" } }
            input #timezone type="text" name="timezone" value="UTC";
            p { button type="submit" { "Preview" } }
        }
    }
}

pub async fn show<S: TicketReader + SignedIn + 'static>(
    req: HttpRequest,
    query: web::Query<SummaryQuery>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(INSIGHTS_READ)?;
    let store = store::<S>(&req)?.get_ref();
    let group_by = GroupBy::parse(if query.group_by.is_empty() { "category" } else { &query.group_by });
    let bucket = Bucket::parse(if query.interval.is_empty() { "week" } else { &query.interval });
    let dates = (query.from.trim(), query.to.trim());
    let parse_date =
        |text: &str| if text.is_empty() { Ok(None) } else { date::parse(text).map(Some).ok_or(()) };
    let summary = match (group_by, bucket, parse_date(dates.0), parse_date(dates.1)) {
        (Some(group_by), Some(bucket), Ok(from), Ok(to)) => {
            Ok(service::ticket_summary(store, viewer.store, group_by, bucket, from, to).await?)
        }
        _ => Err("Choose a grouping and an interval, and write dates as YYYY-MM-DD."),
    };
    let group_name = match group_by {
        Some(GroupBy::Product) => "product",
        Some(GroupBy::Tag) => "tag",
        _ => "category",
    };
    let interval_name = if query.interval.is_empty() { "week" } else { query.interval.as_str() };
    let body = html! {
        section aria-labelledby="summary-heading" {
            h2 #summary-heading { "Tickets by " (group_name) }
            form.filters method="get" action="/ui/tickets" {
                div {
                    label for="group_by" { "Group by" }
                    select #group_by name="group_by" {
                        @for name in ["category", "product", "tag"] { option value=(name) selected[name == group_name] { (name) } }
                    }
                }
                div {
                    label for="interval" { "Interval" }
                    select #interval name="interval" {
                        @for name in ["week", "day", "month"] { option value=(name) selected[name == interval_name] { (name) } }
                    }
                }
                div { label for="from" { "From" } input #from type="date" name="from" value=(dates.0); }
                div { label for="to" { "To" } input #to type="date" name="to" value=(dates.1); }
                div { button type="submit" { "Show" } }
            }
            @match &summary {
                Err(message) => { (notice("error", message)) }
                Ok(groups) if groups.is_empty() => { p { "No tickets yet: import an export below." } }
                Ok(groups) => {
                    table #ticket-summary {
                        caption { "Tickets per " (group_name) ", with their count per " (interval_name) }
                        thead { tr {
                            th scope="col" { (group_name) } th.num scope="col" { "Tickets" }
                            th scope="col" { "Per " (interval_name) } th scope="col" { "First and last " (interval_name) }
                        } }
                        tbody {
                            @for group in groups {
                                tr data-group=(group.group) {
                                    th scope="row" { @if group.group.is_empty() { "(none)" } @else { (group.group) } }
                                    td.num.total { (group.total) }
                                    td {
                                        @let values: Vec<f64> = group.series.iter().map(|(_, n)| *n as f64).collect();
                                        (chart::sparkline(&format!("tickets per {interval_name}"), &values))
                                    }
                                    td { (group.series.first().map_or("", |s| s.0.as_str())) " – " (group.series.last().map_or("", |s| s.0.as_str())) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if viewer.can(INSIGHTS_WRITE) {
            section aria-labelledby="import-heading" {
                h2 #import-heading { "Import a helpdesk export" }
                p { "Upload an export; you will see its first rows and how its columns are read before anything is stored." }
                (import_form(&viewer))
            }
        }
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Tickets, "Tickets", body)))
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    csrf: String,
    preset: String,
    source: String,
    timezone: String,
    file: Option<(tempfile::NamedTempFile, String, Option<String>, Vec<u8>)>,
}

fn internal(e: impl std::fmt::Display) -> PageError {
    PageError::Api(ApiError::Internal(e.to_string()))
}

/// Reads the multipart form: the file into a temporary file (at most `max_bytes`), the
/// other fields into memory.
async fn read_upload(mut form: Multipart, max_bytes: u64) -> Result<Upload, PageError> {
    let mut upload = Upload::default();
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| PageError::BadRequest(format!("the form could not be read: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name =
                field.content_disposition().and_then(|d| d.get_filename()).unwrap_or_default().to_string();
            let content_type = field.content_type().map(|m| m.essence_str().to_string());
            let mut spool = tempfile::NamedTempFile::new().map_err(internal)?;
            let (mut written, mut first) = (0u64, Vec::new());
            while let Some(chunk) = field.next().await {
                let chunk =
                    chunk.map_err(|e| PageError::BadRequest(format!("the file could not be read: {e}")))?;
                written += chunk.len() as u64;
                if written > max_bytes {
                    return Err(PageError::BadRequest(format!(
                        "the file is larger than {max_bytes} bytes (the max_attachment_bytes limit)"
                    )));
                }
                if first.len() < 512 {
                    first.extend_from_slice(&chunk[..chunk.len().min(512 - first.len())]);
                }
                spool.write_all(&chunk).map_err(internal)?;
            }
            spool.flush().map_err(internal)?;
            if written > 0 {
                upload.file = Some((spool, file_name, content_type, first));
            }
            continue;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| PageError::BadRequest(format!("the form could not be read: {e}")))?;
            if value.len() + chunk.len() > FIELD_BYTES {
                return Err(PageError::BadRequest(format!("the field {name} is too long")));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8_lossy(&value).trim().to_string();
        match name.as_str() {
            "csrf" => upload.csrf = value,
            "preset" => upload.preset = value,
            "source" => upload.source = value,
            "timezone" => upload.timezone = value,
            _ => {}
        }
    }
    Ok(upload)
}

/// `POST /ui/tickets/preview` (multipart: csrf, file, preset, source, timezone).
pub async fn preview<S: SignedIn + 'static>(
    req: HttpRequest,
    payload: web::Payload,
    config: Data<AppConfig>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(INSIGHTS_WRITE)?;
    let form = Multipart::new(req.headers(), payload);
    let upload = read_upload(form, config.max_attachment_bytes).await?;
    viewer.check_csrf(&upload.csrf)?;
    let page =
        |body: Markup| layout::ok(layout::page(Some(&viewer), Section::Tickets, "Import tickets", body));
    let again = |message: &str| html! { (notice("error", message)) (import_form(&viewer)) };
    let Some((file, file_name, content_type, first)) = upload.file else {
        return Ok(page(again("Choose a file to import.")));
    };
    let preset = match upload.preset.parse::<Preset>() {
        Ok(preset) => preset,
        Err(e) => return Ok(page(again(&e.to_string()))),
    };
    let mut options = ImportOptions::new(preset);
    options.source = (!upload.source.is_empty()).then_some(upload.source);
    if !upload.timezone.is_empty() {
        options.timezone = upload.timezone;
    }
    let format = InputFormat::from_path(&file_name)
        .or_else(|| content_type.as_deref().and_then(InputFormat::from_content_type))
        .unwrap_or_else(|| InputFormat::sniff(&first));
    let preview = {
        let (path, options) = (file.path().to_path_buf(), options.clone());
        web::block(move || Preview::of(&path, format, &options)).await.map_err(internal)?.map_err(internal)?
    };
    let token = session::random_token()?;
    let can_import = preview.parsed.is_ok();
    let body = html! {
        p { "File " strong { (file_name) } " (" (format_name(format)) "), read as a " strong { (preset.name()) } " export"
            @if let Some(source) = &options.source { ", source " strong { (source) } } "." }
        (preview.render())
        @if can_import {
            form method="post" action="/ui/tickets/import" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="upload" value=(token);
                fieldset {
                    legend { "How to import" }
                    label for="strict" { input #strict type="checkbox" name="strict" value="true"; "Import nothing if any row is refused" }
                }
                p { button type="submit" { "Import" } " " a href="/ui/tickets" { "Cancel" } }
            }
        } @else {
            p { a href="/ui/tickets" { "Back to tickets" } }
        }
    };
    if can_import {
        let pending = PendingImport { token, file, file_name, format, options };
        session::sessions(&req)?.stash_import(&viewer, pending);
    }
    Ok(page(body))
}

#[derive(Debug, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    upload: String,
    #[serde(default)]
    strict: Option<String>,
}

/// `POST /ui/tickets/import` (csrf, upload, strict): imports the previewed file.
pub async fn import<S: TicketWriter + SignedIn + AuditWriter + 'static>(
    req: HttpRequest,
    form: Form<ImportForm>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(INSIGHTS_WRITE)?;
    viewer.check_csrf(&form.csrf)?;
    let page =
        |body: Markup| layout::ok(layout::page(Some(&viewer), Section::Tickets, "Import report", body));
    let Some(pending) = session::sessions(&req)?.take_import(&viewer, &form.upload) else {
        return Ok(page(html! {
            (notice("error", "There is no uploaded file waiting for this import (it was imported already, or another upload replaced it). Upload it again."))
            (import_form(&viewer))
        }));
    };
    let store = store::<S>(&req)?.get_ref();
    let strict = form.strict.as_deref() == Some("true");
    let subject = audit::tickets_import_subject(&pending.options);
    let outcome = import_file(
        store,
        viewer.store,
        pending.file.path(),
        pending.format,
        pending.options,
        strict,
        |_| {},
    )
    .await;
    let summary = match outcome {
        Ok(summary) => summary,
        Err(ImportFailure::Store(e)) => return Err(e.into()),
        Err(other) => {
            return Ok(page(html! { (notice("error", &other.to_string())) (import_form(&viewer)) }));
        }
    };
    let details = audit::tickets_import_details(&summary);
    audit::record_by(store, &viewer.key, "tickets.import", viewer.store, subject, details).await;
    Ok(page(import_report(&pending.file_name, &summary)))
}

fn import_report(file_name: &str, summary: &ImportSummary) -> Markup {
    html! {
        p { "Imported " strong { (file_name) } "." }
        dl.figures {
            div { dt { "Inserted" } dd #inserted { (summary.inserted) } }
            div { dt { "Updated" } dd #updated { (summary.updated) } }
            div { dt { "Rejected" } dd #rejected { (summary.rejected) } }
        }
        @if !summary.stored {
            (notice("error", "Nothing was stored: some rows were refused and you asked to import nothing in that case."))
        }
        @if !summary.complete {
            (notice("error", "The file could not be read to its end; rows after the last one listed were not imported."))
        }
        @if !summary.rejected_rows.is_empty() {
            table #rejected-rows {
                caption { "Rejected rows (row numbers as a spreadsheet shows them: the header is row 1)" }
                thead { tr { th.num scope="col" { "Row" } th scope="col" { "Column" } th scope="col" { "Reason" } } }
                tbody {
                    @for row in &summary.rejected_rows {
                        tr { th.num scope="row" { (row.row) } td { (row.column.as_deref().unwrap_or("—")) } td { (row.reason) } }
                    }
                }
            }
            @if summary.rejected > summary.rejected_rows.len() as u64 {
                p { "Only the first " (summary.rejected_rows.len()) " rejected rows are listed." }
            }
        }
        p { a href="/ui/tickets" { "Back to tickets" } }
    }
}

/// The start of a CSV export, as the file has it.
struct Sample {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// What the preview shows.
struct Preview {
    sample: Option<Sample>,
    /// The first rows as the import reads them, or why it cannot start.
    parsed: Result<Vec<Result<Ticket, RowError>>, ImportError>,
    /// For each field, the file's columns it is read from.
    mapping: Vec<(Field, Vec<String>)>,
}

impl Preview {
    fn of(path: &Path, format: InputFormat, options: &ImportOptions) -> Result<Preview, std::io::Error> {
        let parsed = tickets::read(BufReader::new(File::open(path)?), format, options)
            .map(|rows| rows.take(PREVIEW_ROWS).collect());
        let sample = match format {
            InputFormat::Csv => Some(Sample::read(path)?),
            InputFormat::Json | InputFormat::Ndjson => None,
        };
        let mapping = sample.as_ref().map(|s| s.mapping(options)).unwrap_or_default();
        Ok(Preview { sample, parsed, mapping })
    }

    fn render(&self) -> Markup {
        html! {
            @if let Err(e) = &self.parsed {
                (notice("error", &format!("This file cannot be imported this way: {e}")))
            }
            @if let Some(sample) = &self.sample {
                h2 { "Columns" }
                table #mapping {
                    caption { "Where each ticket field is read from" }
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Column in the file" } } }
                    tbody {
                        @for (field, columns) in &self.mapping {
                            tr data-field=(field.name()) {
                                th scope="row" { (field.name()) }
                                td {
                                    @if columns.is_empty() {
                                        @if *field == Field::Source { span.hint { "(the source given above, or the helpdesk's name)" } }
                                        @else { span.hint { "(not in this file)" } }
                                    } @else { (columns.join(", ")) }
                                }
                            }
                        }
                    }
                }
                @let unused: Vec<&String> = sample.headers.iter().filter(|h| !self.mapping.iter().any(|(_, c)| c.contains(h))).collect();
                @if !unused.is_empty() {
                    p { "Columns not read: " (unused.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", ")) "." }
                }
                h2 { "The first rows of the file" }
                div.scroll {
                    table #sample {
                        caption { "The first " (sample.rows.len()) " rows, as the file has them" }
                        thead { tr { @for header in &sample.headers { th scope="col" { (header) } } } }
                        tbody { @for row in &sample.rows { tr { @for cell in row { td { (cell) } } } } }
                    }
                }
            }
            @if let Ok(rows) = &self.parsed {
                h2 { "As Tally reads them" }
                table #parsed {
                    caption { "The first " (rows.len()) " rows as tickets" }
                    thead { tr {
                        th scope="col" { "Id" } th scope="col" { "Created" } th scope="col" { "Status" }
                        th scope="col" { "Category" } th scope="col" { "Tags" } th scope="col" { "Product" }
                        th scope="col" { "Requester" } th scope="col" { "Subject" }
                    } }
                    tbody {
                        @for row in rows {
                            @match row {
                                Ok(ticket) => tr {
                                    th scope="row" { (ticket.external_id) } td { (format::micros(ticket.created)) }
                                    td { (ticket.status) } td { (ticket.category) } td { (ticket.tags.join(", ")) }
                                    td { (ticket.product) } td { (requester(ticket.requester.as_ref())) } td { (ticket.subject) }
                                },
                                Err(e) => tr { td colspan="8" { "Refused: " (e) } },
                            }
                        }
                    }
                }
            }
        }
    }
}

fn requester(requester: Option<&Requester>) -> String {
    match requester {
        Some(Requester::Email(email)) => email.clone(),
        Some(Requester::Account { home_page, name }) => format!("{name} ({home_page})"),
        None => String::new(),
    }
}

/// A field's value in a ticket, to tell whether two readings differ.
fn field_value(ticket: &Ticket, field: Field) -> String {
    match field {
        Field::Source => ticket.source.clone(),
        Field::ExternalId => ticket.external_id.clone(),
        Field::Created => ticket.created.to_string(),
        Field::Resolved => format!("{:?}", ticket.resolved),
        Field::Status => ticket.status.clone(),
        Field::Category => ticket.category.clone(),
        Field::Tags => ticket.tags.join("\n"),
        Field::Product => ticket.product.clone(),
        Field::Requester => requester(ticket.requester.as_ref()),
        Field::Priority => ticket.priority.clone(),
        Field::Channel => ticket.channel.clone(),
        Field::Subject => ticket.subject.clone(),
    }
}

impl Sample {
    fn read(path: &Path) -> Result<Sample, std::io::Error> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(path)?;
        let mut records = reader.records().take(PREVIEW_ROWS + 1).filter_map(Result::ok);
        let headers: Vec<String> = records
            .next()
            .map(|r| r.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect())
            .unwrap_or_default();
        let rows = records.map(|r| r.iter().map(str::to_string).collect()).collect();
        Ok(Sample { headers, rows })
    }

    /// The sample as CSV with other headers.
    fn with_headers(&self, headers: &[String]) -> Vec<u8> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let _ = writer.write_record(headers);
        for row in &self.rows {
            let _ = writer.write_record(row);
        }
        writer.into_inner().unwrap_or_default()
    }

    fn parse(
        &self,
        headers: &[String],
        options: &ImportOptions,
    ) -> Result<Vec<Result<Ticket, RowError>>, ImportError> {
        Ok(tickets::read(Cursor::new(self.with_headers(headers)), InputFormat::Csv, options)?.collect())
    }

    /// Which columns each field is read from, found by asking the import itself: a column
    /// feeds a field when hiding its header changes that field in the sample rows (or makes
    /// a required field's column missing). Whatever the preset and the mapping say, this is
    /// what the import will do with this file.
    fn mapping(&self, options: &ImportOptions) -> Vec<(Field, Vec<String>)> {
        let mut mapping: Vec<(Field, Vec<String>)> = Field::ALL.iter().map(|f| (*f, Vec::new())).collect();
        let Ok(base) = self.parse(&self.headers, options) else { return mapping };
        for (i, header) in self.headers.iter().enumerate() {
            let mut hidden = self.headers.clone();
            hidden[i] = format!("\u{1}hidden column {i}");
            let fields: Vec<Field> = match self.parse(&hidden, options) {
                Err(ImportError::MissingColumn { field, .. }) => {
                    Field::from_name(field).into_iter().collect()
                }
                Err(_) => Vec::new(),
                Ok(rows) => Field::ALL
                    .into_iter()
                    .filter(|field| {
                        base.iter().zip(&rows).any(|pair| match pair {
                            (Ok(a), Ok(b)) => field_value(a, *field) != field_value(b, *field),
                            (Ok(_), Err(e)) => e.column.as_deref() == Some(header.as_str()),
                            _ => false,
                        })
                    })
                    .collect(),
            };
            for field in fields {
                mapping[field as usize].1.push(header.clone());
            }
        }
        mapping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(csv: &str) -> Sample {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), csv).unwrap();
        Sample::read(file.path()).unwrap()
    }

    fn columns(mapping: &[(Field, Vec<String>)], field: Field) -> Vec<&str> {
        mapping
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, c)| c.iter().map(String::as_str).collect())
            .unwrap()
    }

    #[test]
    fn the_mapping_names_the_columns_the_preset_reads() {
        let csv = "Id,Created at,Status,Tags,Requester email,Ticket type,Subject,Notes\n\
                   1,2025-02-10 09:00:00,Open,install windows,ann@example.com,Problem,Cannot install,x\n\
                   2,2025-02-11 09:00:00,Solved,billing,bob@example.com,Question,Invoice,y\n";
        let mapping = sample(csv).mapping(&ImportOptions::new(Preset::Zendesk));
        assert_eq!(columns(&mapping, Field::ExternalId), ["Id"]);
        assert_eq!(columns(&mapping, Field::Created), ["Created at"]);
        assert_eq!(columns(&mapping, Field::Tags), ["Tags"]);
        assert_eq!(columns(&mapping, Field::Requester), ["Requester email"]);
        assert_eq!(columns(&mapping, Field::Category), ["Ticket type"]);
        assert!(columns(&mapping, Field::Product).is_empty());
        assert!(mapping.iter().all(|(_, c)| !c.contains(&"Notes".to_string())), "{mapping:?}");
    }

    #[test]
    fn a_mapping_given_by_the_user_is_what_the_preview_shows() {
        let csv = "Key,Opened,Labels\nA-1,2025-02-10T09:00:00Z,install\n";
        let mut options = ImportOptions::new(Preset::Generic);
        options.map = vec![("external_id".into(), "Key".into()), ("created".into(), "Opened".into())];
        let mapping = sample(csv).mapping(&options);
        assert_eq!(columns(&mapping, Field::ExternalId), ["Key"]);
        assert_eq!(columns(&mapping, Field::Created), ["Opened"]);
    }
}
