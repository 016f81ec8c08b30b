//! Ticket import from realistic helpdesk exports (the fixtures beside this file).

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;
use std::time::Instant;

use insights::tickets::{
    ImportError, ImportOptions, InputFormat, Preset, Requester, RowError, Ticket, read, read_csv,
    read_json_array, read_ndjson,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn utc(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}

fn email(address: &str) -> Option<Requester> {
    Some(Requester::Email(address.into()))
}

/// Splits a reader's output into the tickets and the rejected rows, checking that no
/// error is fatal.
fn split(items: impl Iterator<Item = Result<Ticket, RowError>>) -> (Vec<Ticket>, Vec<RowError>) {
    let (mut tickets, mut errors) = (Vec::new(), Vec::new());
    for item in items {
        match item {
            Ok(ticket) => tickets.push(ticket),
            Err(error) => {
                assert!(!error.fatal, "unexpected fatal error: {error}");
                errors.push(error);
            }
        }
    }
    (tickets, errors)
}

fn by_id<'a>(tickets: &'a [Ticket], id: &str) -> &'a Ticket {
    tickets.iter().find(|t| t.external_id == id).unwrap_or_else(|| panic!("no ticket {id}"))
}

/// (row, column) of each rejected row, for compact assertions.
fn where_(errors: &[RowError]) -> Vec<(u64, Option<&str>)> {
    errors.iter().map(|e| (e.row, e.column.as_deref())).collect()
}

#[test]
fn zendesk_export_keeps_good_rows_and_explains_bad_ones() {
    let data = fixture("zendesk.csv");
    assert!(data.starts_with(b"\xef\xbb\xbf"), "the fixture has a byte-order mark");
    let (tickets, errors) = split(read_csv(data.as_slice(), &ImportOptions::new(Preset::Zendesk)).unwrap());

    assert_eq!(tickets.len(), 13);
    assert_eq!(
        where_(&errors),
        vec![
            (7, Some("Id")),
            (8, Some("Created at")),
            (9, Some("Solved at")),
            (10, Some("Requester email")),
            (12, None),
        ],
        "{errors:#?}"
    );
    assert!(errors[0].reason.contains("is empty"), "{}", errors[0]);
    assert!(errors[1].reason.contains("\"2024-03-31 25:10:00\" is not a date"), "{}", errors[1]);
    assert!(errors[2].reason.contains("before the ticket was opened"), "{}", errors[2]);
    assert!(errors[3].reason.contains("not a valid email"), "{}", errors[3]);
    assert_eq!(errors[4].reason, "has 5 cells where the header has 11");

    // The byte-order mark does not end up in the first header: `Id` was found.
    let first = by_id(&tickets, "4101");
    assert_eq!(
        first,
        &Ticket {
            source: "zendesk".into(),
            external_id: "4101".into(),
            created: utc("2024-03-04T08:15:02Z"),
            resolved: Some(utc("2024-03-04T11:40:19Z")),
            status: "Solved".into(),
            category: "Incident".into(),
            tags: vec!["install".into(), "connector".into(), "windows".into()],
            product: "Installation Support".into(),
            requester: email("maria.garcia@acme-retail.example"),
            priority: "Normal".into(),
            channel: "Web form".into(),
            subject: "Connector installer stops at 'Verifying dependencies'".into(),
        }
    );
    let second = by_id(&tickets, "4102");
    assert_eq!(second.tags, ["install", "connector", "license_key"]);
    assert_eq!(second.requester, email("tom.baker@northwind-foods.example"));
    assert_eq!(second.subject, "Where do I paste the license key, the wizard has no field for it?");
    // US dates, offsets written after a space, ISO with Z.
    assert_eq!(by_id(&tickets, "4105").created, utc("2024-03-06T14:20:00Z"));
    assert_eq!(by_id(&tickets, "4115").created, utc("2024-03-11T15:30:00Z"));
    assert_eq!(by_id(&tickets, "4116").created, utc("2024-03-12T10:02:00Z"));
    assert_eq!(by_id(&tickets, "4116").resolved, None);
    // Tags are lowercased and deduplicated.
    assert_eq!(by_id(&tickets, "4116").tags, ["install", "connector"]);
    // No requester is no link, not an error.
    assert_eq!(by_id(&tickets, "4110").requester, None);
    assert_eq!(
        by_id(&tickets, "4112").requester.as_ref().unwrap().actor_keys()[0],
        "mbox:mailto:jane.doe@customer.example"
    );
}

#[test]
fn quoted_cells_keep_commas_quotes_and_newlines() {
    let data = fixture("zendesk.csv");
    let (tickets, _) = split(read_csv(data.as_slice(), &ImportOptions::new(Preset::Zendesk)).unwrap());
    assert_eq!(
        by_id(&tickets, "4104").subject,
        "Install fails behind our proxy:\n\"connection reset by peer\" while downloading the agent"
    );
    assert_eq!(
        by_id(&tickets, "4113").subject,
        "Export to CSV cuts descriptions at 255 characters, is that expected?"
    );
}

#[test]
fn a_byte_order_mark_changes_nothing() {
    let with = fixture("zendesk.csv");
    let without = with.strip_prefix(b"\xef\xbb\xbf").unwrap();
    let options = ImportOptions::new(Preset::Zendesk);
    let a: Vec<_> = read_csv(with.as_slice(), &options).unwrap().collect();
    let b: Vec<_> = read_csv(without, &options).unwrap().collect();
    assert_eq!(a, b);
}

#[test]
fn servicenow_export_in_new_york_time() {
    let data = fixture("servicenow.csv");
    let options =
        ImportOptions { timezone: "America/New_York".into(), ..ImportOptions::new(Preset::ServiceNow) };
    let (tickets, errors) = split(read_csv(data.as_slice(), &options).unwrap());
    assert_eq!(
        where_(&errors),
        vec![(5, Some("caller_id")), (6, Some("opened_at")), (7, Some("resolved_at"))]
    );
    assert!(errors[0].reason.contains("\"Fred Luddy\" is not an email address"), "{}", errors[0]);
    assert_eq!(tickets.len(), 7);

    let first = by_id(&tickets, "INC0010231");
    assert_eq!(first.source, "servicenow");
    assert_eq!(first.created, utc("2024-03-04T13:55:12Z"));
    assert_eq!(first.category, "Software");
    assert_eq!(first.tags, ["connector", "rollout-wave-1", "installation"]);
    assert_eq!(first.product, "Sync Connector");
    assert_eq!(first.requester, email("abel.tuter@acme-retail.example"));
    assert_eq!(first.priority, "3 - Moderate");
    assert_eq!(first.channel, "Self-service");
    assert_eq!(first.status, "Resolved");
    assert_eq!(first.subject, "Connector MSI rolls back at 90%");
    // The business service stands in when there is no configuration item.
    assert_eq!(by_id(&tickets, "INC0010233").product, "Integrations");
    assert_eq!(by_id(&tickets, "INC0010232").requester, email("beth.anglin@globex.example"));
    // Before and after the US switch to daylight saving time (2024-03-10 02:00).
    assert_eq!(by_id(&tickets, "INC0010237").created, utc("2024-03-10T06:30:00Z"));
    assert_eq!(by_id(&tickets, "INC0010238").created, utc("2024-03-11T12:00:00Z"));
}

#[test]
fn callers_without_email_become_accounts_on_the_configured_home_page() {
    let data = fixture("servicenow.csv");
    let options = ImportOptions {
        account_home_page: Some("https://acme.service-now.example".into()),
        source: Some("servicenow-prod".into()),
        ..ImportOptions::new(Preset::ServiceNow)
    };
    let (tickets, errors) = split(read_csv(data.as_slice(), &options).unwrap());
    assert_eq!(where_(&errors), vec![(6, Some("opened_at")), (7, Some("resolved_at"))]);
    let fred = by_id(&tickets, "INC0010234");
    assert_eq!(
        fred.requester,
        Some(Requester::Account {
            home_page: "https://acme.service-now.example".into(),
            name: "Fred Luddy".into()
        })
    );
    assert_eq!(
        fred.requester.as_ref().unwrap().actor_keys(),
        ["account:https://acme.service-now.example Fred Luddy"]
    );
    assert!(tickets.iter().all(|t| t.source == "servicenow-prod"));
}

fn jira_options() -> ImportOptions {
    ImportOptions {
        timezone: "Europe/Berlin".into(),
        account_home_page: Some("https://kunde.atlassian.example".into()),
        ..ImportOptions::new(Preset::Jira)
    }
}

#[test]
fn jira_export_with_repeated_labels_and_components() {
    let data = fixture("jira.csv");
    let (tickets, errors) = split(read_csv(data.as_slice(), &jira_options()).unwrap());
    assert_eq!(where_(&errors), vec![(7, Some("Issue key")), (8, Some("Created"))]);
    assert!(errors[1].reason.contains("\"Mar 15 2024\""), "{}", errors[1]);
    assert_eq!(tickets.len(), 6);

    let first = by_id(&tickets, "SUP-1201");
    assert_eq!(first.tags, ["install", "connector", "windows"]);
    assert_eq!(first.product, "Sync Connector");
    assert_eq!(first.category, "Bug");
    assert_eq!(first.status, "Done");
    assert_eq!(first.subject, "Connector install fails with error 1603 on Windows Server 2019");
    assert_eq!(first.requester, email("markus.weber@kunde-gmbh.example"));
    assert_eq!(first.channel, "");
    let second = by_id(&tickets, "SUP-1202");
    assert_eq!(second.subject, "Installer \"Next\" button greyed out, license step");
    assert_eq!(second.tags, ["install", "license"]);
    assert_eq!(
        second.requester,
        Some(Requester::Account {
            home_page: "https://kunde.atlassian.example".into(),
            name: "Sofia Rossi".into()
        })
    );
    // Labels are case-folded; the first non-empty component wins.
    let rhel = by_id(&tickets, "SUP-1204");
    assert_eq!(rhel.tags, ["install", "connector", "linux"]);
    assert_eq!(rhel.product, "Linux Agent");
    assert_eq!(by_id(&tickets, "SUP-1203").resolved, None);
}

#[test]
fn jira_dates_in_berlin_become_the_right_utc_instants() {
    let data = fixture("jira.csv");
    let (tickets, _) = split(read_csv(data.as_slice(), &jira_options()).unwrap());
    // CET (UTC+1) in mid-March.
    assert_eq!(by_id(&tickets, "SUP-1201").created, utc("2024-03-12T08:41:00Z"));
    assert_eq!(by_id(&tickets, "SUP-1201").resolved, Some(utc("2024-03-12T13:05:00Z")));
    // 24-hour form.
    assert_eq!(by_id(&tickets, "SUP-1204").created, utc("2024-03-14T06:05:00Z"));
    // 02:30 on 2024-03-31 does not exist in Berlin (clocks jump 02:00 → 03:00): it is
    // read as 03:30 CEST.
    assert_eq!(by_id(&tickets, "SUP-1205").created, utc("2024-03-31T01:30:00Z"));
    // CEST (UTC+2) in April.
    assert_eq!(by_id(&tickets, "SUP-1208").created, utc("2024-04-02T07:41:00Z"));

    // The same file read as UTC is an hour (or two) later.
    let options = ImportOptions { timezone: "UTC".into(), ..jira_options() };
    let (tickets, _) = split(read_csv(data.as_slice(), &options).unwrap());
    assert_eq!(by_id(&tickets, "SUP-1201").created, utc("2024-03-12T09:41:00Z"));
}

#[test]
fn jira_names_without_a_home_page_are_refused() {
    let data = fixture("jira.csv");
    let options = ImportOptions { account_home_page: None, ..jira_options() };
    let (_, errors) = split(read_csv(data.as_slice(), &options).unwrap());
    assert_eq!(where_(&errors), vec![(3, Some("Reporter")), (7, Some("Issue key")), (8, Some("Created"))]);
    assert!(errors[0].reason.contains("account home page"), "{}", errors[0]);
}

#[test]
fn columns_can_be_remapped() {
    let csv = "Ticket #,Opened,Closed,Kind,Keywords,Customer,Area\n\
               T-1,2024-05-02 10:00,2024-05-02 12:00,Incident,install connector,pat@example.com,Sync Connector\n\
               T-2,2024-05-03 11:30,,Question,billing,lee@example.com,Billing\n";
    let options = ImportOptions {
        map: vec![
            ("external_id".into(), "Ticket #".into()),
            ("created".into(), "opened".into()),
            ("resolved".into(), " Closed ".into()),
            ("category".into(), "Kind".into()),
            ("tags".into(), "Keywords".into()),
            ("requester".into(), "Customer".into()),
            ("product".into(), "Area".into()),
        ],
        source: Some("homegrown".into()),
        timezone: "Europe/Berlin".into(),
        ..ImportOptions::new(Preset::Zendesk)
    };
    let (tickets, errors) = split(read_csv(csv.as_bytes(), &options).unwrap());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets[0].external_id, "T-1");
    assert_eq!(tickets[0].created, utc("2024-05-02T08:00:00Z"));
    assert_eq!(tickets[0].resolved, Some(utc("2024-05-02T10:00:00Z")));
    // Zendesk tags split on spaces, also in a remapped column.
    assert_eq!(tickets[0].tags, ["install", "connector"]);
    assert_eq!(tickets[0].category, "Incident");
    assert_eq!(tickets[0].product, "Sync Connector");
    assert_eq!(tickets[0].requester, email("pat@example.com"));
    assert_eq!(tickets[0].source, "homegrown");

    // A mapping replaces the preset's column: `Id` is no longer looked for.
    let zendesk = "Id,Created at\n1,2024-05-02 10:00\n";
    let options =
        ImportOptions { map: vec![("id".into(), "Ticket #".into())], ..ImportOptions::new(Preset::Zendesk) };
    let error = read_csv(zendesk.as_bytes(), &options).unwrap_err();
    assert_eq!(
        error,
        ImportError::MissingColumn {
            field: "external_id",
            expected: vec!["Ticket #".into()],
            found: vec!["Id".into(), "Created at".into()],
        }
    );
    assert_eq!(
        error.to_string(),
        r#"no column for external_id (looked for "Ticket #"); the header has: "Id", "Created at""#
    );
}

#[test]
fn bad_options_fail_before_reading() {
    let csv = "external_id,created\n1,2024-01-01\n".as_bytes();
    let bad = |options: ImportOptions| read_csv(csv, &options).unwrap_err();
    assert!(matches!(
        bad(ImportOptions { timezone: "Europe/Atlantis".into(), ..Default::default() }),
        ImportError::UnknownTimeZone { .. }
    ));
    assert!(matches!(
        bad(ImportOptions { map: vec![("assignee".into(), "x".into())], ..Default::default() }),
        ImportError::UnknownField(_)
    ));
    assert!(matches!(
        bad(ImportOptions { account_home_page: Some("sso".into()), ..Default::default() }),
        ImportError::InvalidHomePage(_)
    ));
    assert!(matches!(
        read_csv("".as_bytes(), &ImportOptions::default()),
        Err(ImportError::MissingColumn { .. })
    ));
    assert!(matches!(
        read_json_array("{}".as_bytes(), &ImportOptions::default()),
        Err(ImportError::NotAnArray(_))
    ));
}

#[test]
fn generic_csv_uses_tallys_own_names() {
    let csv = "external_id,created,resolved,status,category,tags,product,requester,priority,channel,subject,source\n\
               G-1,2024-06-01T09:00:00Z,2024-06-01T10:00:00Z,closed,incident,install; connector,Sync Connector,a@b.example,p2,web,Help,\n\
               G-2,2024-06-02T09:00:00Z,,open,question,\"billing,invoice\",Billing,,p3,email,Invoice,zammad\n";
    let (tickets, errors) = split(read_csv(csv.as_bytes(), &ImportOptions::default()).unwrap());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(tickets[0].source, "generic");
    assert_eq!(tickets[0].tags, ["install", "connector"]);
    assert_eq!(tickets[1].source, "zammad");
    assert_eq!(tickets[1].tags, ["billing", "invoice"]);
}

fn check_generic_json(tickets: &[Ticket]) {
    assert_eq!(tickets.len(), 4);
    let first = by_id(tickets, "FD-9001");
    assert_eq!(first.source, "freshdesk");
    assert_eq!(first.tags, ["install", "connector"]);
    assert_eq!(first.subject, "Connector installer stops at \"Verifying dependencies\", then closes ]");
    assert_eq!(first.resolved, Some(utc("2024-03-04T11:40:19Z")));
    // Numbers are read as text; a null is an empty cell; a nested object is its own
    // dotted column (`requester.email`), not `requester`.
    let second = by_id(tickets, "9002");
    assert_eq!(second.source, "generic");
    assert_eq!(second.created, utc("2024-03-04T10:30:00Z"));
    assert_eq!(second.resolved, None);
    assert_eq!(second.tags, ["billing", "invoice"]);
    assert_eq!(second.requester, None);
    let fourth = by_id(tickets, "FD-9004");
    assert_eq!(fourth.created, utc("2024-03-05T12:45:10Z"));
    assert_eq!(fourth.tags, ["install", "linux"]);
    assert_eq!(fourth.requester, email("dev.ops@globex.example"));
    assert_eq!(by_id(tickets, "FD-9008").requester, email("ken.ito@initech.example"));
}

#[test]
fn json_array_rejects_bad_elements_and_keeps_the_rest() {
    let data = fixture("generic.json");
    let (tickets, errors) = split(read_json_array(data.as_slice(), &ImportOptions::default()).unwrap());
    check_generic_json(&tickets);
    assert_eq!(where_(&errors), vec![(3, Some("created")), (5, None), (6, None), (7, Some("external_id"))]);
    assert_eq!(errors[1].reason, "is not a JSON object");
    assert!(errors[2].reason.starts_with("is not valid JSON"), "{}", errors[2]);
    assert_eq!(errors[3].reason, "is missing; a ticket needs an id");
}

#[test]
fn ndjson_counts_lines_and_skips_blank_ones() {
    let data = fixture("generic.ndjson");
    let (tickets, errors) = split(read_ndjson(data.as_slice(), &ImportOptions::default()).unwrap());
    check_generic_json(&tickets);
    assert_eq!(where_(&errors), vec![(3, Some("created")), (6, None), (7, None), (8, Some("external_id"))]);
}

#[test]
fn read_dispatches_on_the_format() {
    let options = ImportOptions::default();
    let json = fixture("generic.json");
    let ndjson = fixture("generic.ndjson");
    let from_json: Vec<Ticket> =
        read(json.as_slice(), InputFormat::Json, &options).unwrap().flatten().collect();
    let from_ndjson: Vec<Ticket> =
        read(ndjson.as_slice(), InputFormat::Ndjson, &options).unwrap().flatten().collect();
    assert_eq!(from_json, from_ndjson);
    let zendesk = fixture("zendesk.csv");
    let format = InputFormat::from_path("export.csv").unwrap();
    let options = ImportOptions::new(Preset::Zendesk);
    assert_eq!(read(zendesk.as_slice(), format, &options).unwrap().filter(Result::is_ok).count(), 13);
}

#[test]
fn json_array_edge_cases() {
    let options = ImportOptions::default();
    let tickets = |text: &str| read_json_array(text.as_bytes(), &options).unwrap().collect::<Vec<_>>();
    assert!(tickets("\u{feff} [ ] \n").is_empty());
    let one = r#"[{"external_id": "1", "created": "2024-01-01T00:00:00Z"},]"#;
    assert_eq!(tickets(one).len(), 1, "a trailing comma is tolerated");

    // A truncated file: the elements before the cut import, then one fatal error.
    let truncated = r#"[{"external_id": "1", "created": "2024-01-01T00:00:00Z"}, {"external_id": "2", "crea"#;
    let items = tickets(truncated);
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let error = items[1].as_ref().unwrap_err();
    assert!(error.fatal && error.row == 2, "{error:?}");

    let garbage = r#"[{"external_id": "1", "created": "2024-01-01T00:00:00Z"} {"external_id": "2"}]"#;
    let items = tickets(garbage);
    assert!(items[1].as_ref().unwrap_err().reason.contains("expected ',' or ']'"));

    let trailing = r#"[{"external_id": "1", "created": "2024-01-01T00:00:00Z"}] extra"#;
    let items = tickets(trailing);
    assert!(items[1].as_ref().unwrap_err().reason.contains("after the array"));
}

/// Produces a CSV (or JSON array) export of `rows` tickets on demand, counting how many
/// rows it has produced, so a test can see how far ahead of the consumer the reader is.
struct Generator {
    rows: u64,
    produced: Rc<Cell<u64>>,
    json: bool,
    pending: Vec<u8>,
    at: usize,
    finished: bool,
}

impl Generator {
    fn new(rows: u64, json: bool) -> (Generator, Rc<Cell<u64>>) {
        let produced = Rc::new(Cell::new(0));
        let header = if json { b"[".to_vec() } else { b"Id,Created at,Tags,Requester email\n".to_vec() };
        (
            Generator { rows, produced: produced.clone(), json, pending: header, at: 0, finished: false },
            produced,
        )
    }

    fn refill(&mut self) {
        self.pending.clear();
        self.at = 0;
        let n = self.produced.get();
        if n == self.rows {
            if self.json && !self.finished {
                self.pending.extend_from_slice(b"]");
            }
            self.finished = true;
            return;
        }
        let (day, second) = (n % 28 + 1, n % 86_400);
        let row = if self.json {
            format!(
                "{}{{\"external_id\": \"{n}\", \"created\": \"2024-02-{day:02}T{:02}:{:02}:{:02}Z\", \"tags\": [\"install\"], \"requester\": \"user{}@customer.example\"}}",
                if n == 0 { "" } else { ",\n" },
                second / 3600,
                second / 60 % 60,
                second % 60,
                n % 5000
            )
        } else {
            format!(
                "{n},2024-02-{day:02} {:02}:{:02}:{:02},install,user{}@customer.example\n",
                second / 3600,
                second / 60 % 60,
                second % 60,
                n % 5000
            )
        };
        self.pending.extend_from_slice(row.as_bytes());
        self.produced.set(n + 1);
    }
}

impl Read for Generator {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.pending.len() {
            if self.finished {
                return Ok(0);
            }
            self.refill();
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Asserts that the reader yields tickets while the generator is still near the start,
/// then reads the rest.
fn check_streaming(
    tickets: impl Iterator<Item = Result<Ticket, RowError>>,
    produced: &Rc<Cell<u64>>,
    rows: u64,
) {
    let started = Instant::now();
    let mut count = 0u64;
    for item in tickets {
        let ticket = item.unwrap();
        if count == 1_000 {
            // A reader buffers at most tens of kilobytes: a few hundred rows ahead.
            assert!(produced.get() < 2_000, "{} rows produced for 1,000 read", produced.get());
            assert_eq!(ticket.external_id, "1000");
        }
        count += 1;
    }
    assert_eq!(count, rows);
    assert_eq!(produced.get(), rows);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
}

#[test]
fn a_large_csv_is_streamed() {
    let rows = 200_000;
    let (generator, produced) = Generator::new(rows, false);
    let tickets = read_csv(generator, &ImportOptions::new(Preset::Zendesk)).unwrap();
    check_streaming(tickets, &produced, rows);
}

#[test]
fn a_large_json_array_is_streamed() {
    let rows = 20_000;
    let (generator, produced) = Generator::new(rows, true);
    let tickets = read_json_array(generator, &ImportOptions::default()).unwrap();
    check_streaming(tickets, &produced, rows);
}
