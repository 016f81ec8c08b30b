//! The data commands: `tally tickets import`, `tally import statements`, `tally export`,
//! `tally demo`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use insights::export;
use insights::import::{ImportFailure, import_file, parse_through};
use insights::tickets::{ImportOptions, InputFormat};
use server::audit::{self, CONSOLE};
use server::bulk::{self, ImportError, ImportTarget};
use store::{
    AuditWriter, ReadStore, StatementFilter, StatementQuery, StatementWriter, TenantReader, TicketWriter,
};

use crate::config::{DemoArgs, ExportCommand, ImportArgs, ImportCommand, StatementFormat};
use crate::progress::Progress;

/// `tally tickets import FILE …`: a progress bar with rows/s and an ETA on a terminal,
/// plain progress lines otherwise, then the summary (rejected rows with their reasons).
pub async fn import_tickets<S: TicketWriter + AuditWriter>(store: &S, args: ImportArgs) -> Result<()> {
    let mut options = ImportOptions::new(args.preset.parse().map_err(|e| anyhow::anyhow!("{e}"))?);
    options.source = args.source;
    options.timezone = args.timezone;
    options.account_home_page = args.account_home_page;
    if let Some(through) = &args.through {
        options.through = Some(parse_through(through).map_err(|e| anyhow::anyhow!("--through: {e}"))?);
    }
    for mapping in &args.map {
        let (field, column) = mapping.split_once('=').context("--map takes field=Column")?;
        options.map.push((field.to_string(), column.to_string()));
    }
    let format = match &args.format {
        Some(f) => f.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        None => InputFormat::from_path(&args.file).unwrap_or(InputFormat::Csv),
    };
    let size =
        std::fs::metadata(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?.len();
    let progress = Progress::new(format!("file {} MB", size / 1_000_000), "rows");
    let report = progress.clone();
    let subject = audit::tickets_import_subject(&options);
    let summary = import_file(store, args.store, &args.file, format, options, args.strict, move |rows| {
        report.rows(rows)
    })
    .await
    .map_err(|e| match e {
        ImportFailure::Store(e) => anyhow::anyhow!("storing tickets failed: {e}"),
        other => anyhow::anyhow!("{other}"),
    })?;
    progress.finish();
    let details = audit::tickets_import_details(&summary);
    audit::record_by(store, CONSOLE, "tickets.import", args.store, subject, details).await;
    println!("inserted: {}", summary.inserted);
    println!("updated:  {}", summary.updated);
    println!("rejected: {}", summary.rejected);
    for (source, through) in &summary.known_through {
        println!("{source} tickets known through {through}");
    }
    for row in &summary.rejected_rows {
        let column = row.column.as_deref().map(|c| format!(", column {c:?}")).unwrap_or_default();
        println!("  row {}{column}: {}", row.row, row.reason);
    }
    if !summary.stored {
        bail!("--strict: {} rows were refused, so nothing was stored", summary.rejected);
    }
    if !summary.complete {
        bail!(
            "the file could not be read to its end (see the last rejected row): the rows before it were imported"
        );
    }
    Ok(())
}

/// `tally import statements FILE`: the file's statements into a store, with the same
/// progress as a ticket import, then what was stored and each line refused.
pub async fn import_statements<S: TenantReader + StatementWriter + AuditWriter>(
    store: &S,
    command: ImportCommand,
) -> Result<()> {
    let ImportCommand::Statements { file, store: id } = command;
    match store.store_info(id).await? {
        Some(info) if !info.revoked => {}
        Some(_) => bail!("store {id} is revoked: it takes no statements"),
        None => bail!("there is no store {id}"),
    }
    let mut input = std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let size = input.metadata()?.len();
    let config = server::AppConfig::default();
    // Statements a command imports are the operator's: they carry Tally's own authority.
    let authority = serde_json::json!({
        "objectType": "Agent",
        "name": "tally import",
        "account": { "homePage": config.authority_home_page, "name": "tally-import" },
    });
    let target = ImportTarget { store: id, authority, define: true, max_line_bytes: config.max_body_bytes };
    let chunks = futures_util::stream::iter(std::iter::from_fn(move || {
        let mut chunk = vec![0; 256 * 1024];
        match std::io::Read::read(&mut input, &mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some(Ok(chunk))
            }
            Err(e) => Some(Err(e)),
        }
    }));
    let progress = Progress::new(format!("file {} MB", size / 1_000_000), "lines");
    let report =
        bulk::import(store, &target, chunks, |lines| progress.rows(lines)).await.map_err(|e| match e {
            ImportError::Store(e) => {
                anyhow::anyhow!("storing statements failed (a re-run finishes the import): {e}")
            }
            other => anyhow::anyhow!("{other}"),
        })?;
    progress.finish();
    let details = audit::statements_import_details(&report);
    audit::record_by(store, CONSOLE, "statements.import", id, id.to_string(), details).await;
    println!("lines:    {}", report.lines);
    println!("accepted: {}", report.accepted);
    println!("rejected: {}", report.rejected);
    for line in &report.rejected_lines {
        println!("  line {}: {}", line.line, line.reason);
    }
    if report.rejected > report.rejected_lines.len() as u64 {
        println!("  (the first {} refused lines are listed)", report.rejected_lines.len());
    }
    Ok(())
}

/// `tally export …`: the same CSV as `/exports/…`, to a file or standard output.
pub async fn export<S: ReadStore>(store: &S, command: ExportCommand) -> Result<()> {
    let (out, id) = match &command {
        ExportCommand::Statements { out, store, .. }
        | ExportCommand::Tickets { out, store }
        | ExportCommand::ActivityDaily { out, store }
        | ExportCommand::Goal { out, store, .. } => (out.clone(), *store),
    };
    let mut writer = output(out.as_deref())?;
    match command {
        ExportCommand::Statements { verb, activity, since, until, format, .. } => {
            let filter = StatementFilter {
                verb,
                activity,
                since: since.as_deref().map(parse_time).transpose()?,
                until: until.as_deref().map(parse_time).transpose()?,
                ..StatementFilter::default()
            };
            let query =
                StatementQuery { filter, ascending: true, limit: export::STATEMENT_PAGE, cursor: None };
            let page = |cursor| export::statement_page(store, id, query.clone(), cursor);
            match format {
                StatementFormat::Csv => {
                    export::write_paged(&mut writer, export::STATEMENT_COLUMNS, page, export::statement_row)
                        .await?
                }
                StatementFormat::Ndjson => {
                    export::write_lines(&mut writer, "statement", b"", page, export::ndjson_line).await?
                }
            };
        }
        ExportCommand::Tickets { .. } => {
            let page = |cursor| export::ticket_page(store, id, cursor);
            export::write_paged(&mut writer, export::TICKET_COLUMNS, page, export::ticket_row).await?;
        }
        ExportCommand::ActivityDaily { .. } => {
            let page = |cursor| export::daily_page(store, id, cursor);
            export::write_paged(&mut writer, export::DAILY_COLUMNS, page, export::daily_row).await?;
        }
        ExportCommand::Goal { goal, as_of, .. } => {
            let as_of = as_of
                .as_deref()
                .map(|d| insights::goal::date::parse(d).context("--as-of takes a date"))
                .transpose()?;
            let (_, report) =
                insights::service::goal_report(store, id, &goal, as_of, insights::report::Interval::Week)
                    .await?;
            writer.write_all(&export::goal_csv(&report))?;
        }
    }
    writer.flush()?;
    Ok(())
}

fn output(path: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

fn parse_time(text: &str) -> Result<xapi::Timestamp> {
    xapi::Timestamp::parse(text).map(|t| t.instant).context("a time like 2026-03-02T00:00:00Z")
}

/// `tally demo`: loads the demo data set (install videos, chatbot, survey, a Zendesk-style
/// ticket export and a goal) into a running Tally through its HTTP API.
pub fn demo(args: DemoArgs) -> Result<()> {
    let scenario = insights::demo::Scenario::named(&args.scenario).with_context(|| {
        format!("no scenario {:?}: working, low-reach, drop-off or no-effect", args.scenario)
    })?;
    let data = scenario.generate();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", args.key, args.secret))
    );
    let root = args.url.trim_end_matches('/').trim_end_matches("/xapi").to_string();
    let send = |method: &str, path: &str, content_type: &str, body: Vec<u8>| -> Result<String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{root}{path}"))
            .header("Authorization", &auth)
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", content_type)
            .body(body)?;
        let mut response = agent.run(request)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if status >= 300 {
            bail!("{method} {path} answered {status}: {text}");
        }
        Ok(text)
    };
    for chunk in data.statements.chunks(500) {
        send("POST", "/xapi/statements", "application/json", serde_json::to_vec(chunk)?)?;
    }
    let imported = send(
        "POST",
        "/insights/tickets?preset=zendesk&source=zendesk-demo",
        "text/csv",
        data.tickets_csv.into_bytes(),
    )?;
    send("PUT", "/insights/goals/install-tickets", "application/json", serde_json::to_vec(&data.goal)?)?;
    println!("loaded {} statements, tickets {imported}", data.statements.len());
    println!(
        "the report: {root}/insights/goals/install-tickets/report (the rollups catch up in a few seconds)"
    );
    Ok(())
}
