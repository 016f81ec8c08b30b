//! The pages in headless Chromium, on both backends, with the demo data set loaded: sign
//! in, import the demo's Zendesk export through the form, open every page, and check the
//! numbers shown against the JSON API. Screenshots go to `target/ui-screenshots/`.
//!
//! Chromium must be installed (`apt-get install -y chromium`): without it these tests fail
//! and say so.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use insights::demo::MAIN_VIDEO;
use serde_json::{Value, json};
use support::Site;
use test_support::chromium::Chromium;
use test_support::{Backend, backend_tests};

/// `target/ui-screenshots/<backend>/`.
fn screenshots(backend: Backend) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("ui-screenshots").join(format!("{backend:?}").to_lowercase())
}

fn pct(share: &Value) -> String {
    format!("{:.0}%", share.as_f64().expect("a share") * 100.0)
}

fn rate(value: &Value) -> String {
    format!("{:.1}", value.as_f64().expect("a rate"))
}

fn signed_pct(value: &Value) -> String {
    value.as_f64().map_or("—".into(), |v| format!("{v:+.0}%"))
}

/// Signs in through the form, starting from a page that needs a session.
fn sign_in(browser: &mut Chromium, site: &Site, shots: &Path) {
    browser.goto(&format!("{}/ui/goals", site.root));
    assert!(browser.url().contains("/ui/sign-in?next=%2Fui%2Fgoals"), "{}", browser.url());
    assert_eq!(browser.text("h1").as_deref(), Some("Sign in"));
    // Every control has a label.
    let unlabelled = browser.eval(
        "Array.from(document.querySelectorAll('input:not([type=hidden]), select'))\
         .filter(e => !(e.labels && e.labels.length)).length",
    );
    assert_eq!(unlabelled, json!(0));
    browser.fill("#key", &site.key);
    browser.fill("#secret", &site.secret);
    browser.screenshot(shots, "01-sign-in");
    browser.click_and_wait("form[action='/ui/sign-in'] button[type=submit]");
    assert!(
        browser.url().ends_with("/ui/goals"),
        "signing in leads back to the page asked for: {}",
        browser.url()
    );
}

/// Imports the demo's Zendesk export through the form: upload, preview, confirm, report.
fn import_tickets(browser: &mut Chromium, site: &Site, csv: &str, shots: &Path) {
    let file = tempfile::Builder::new().prefix("zendesk-export-").suffix(".csv").tempfile().unwrap();
    std::fs::write(file.path(), csv).unwrap();
    browser.goto(&format!("{}/ui/tickets", site.root));
    browser.choose_file("#file", file.path());
    browser.fill("#preset", "zendesk");
    browser.click_and_wait("form[action='/ui/tickets/preview'] button[type=submit]");
    assert_eq!(browser.text("h1").as_deref(), Some("Import tickets"), "{:?}", browser.text("main"));
    assert_eq!(browser.text("#mapping tr[data-field=external_id] td").as_deref(), Some("Id"));
    assert_eq!(browser.text("#mapping tr[data-field=created] td").as_deref(), Some("Created at"));
    assert_eq!(browser.text("#mapping tr[data-field=requester] td").as_deref(), Some("Requester email"));
    assert_eq!(browser.texts("#sample tbody tr").len(), 5, "the first rows as the file has them");
    let first_id = csv.lines().nth(1).and_then(|l| l.split(',').next()).unwrap().to_string();
    assert_eq!(browser.text("#parsed tbody tr th").as_deref(), Some(first_id.as_str()));
    browser.screenshot(shots, "04-tickets-preview");
    browser.click_and_wait("form[action='/ui/tickets/import'] button[type=submit]");
    assert_eq!(browser.text("h1").as_deref(), Some("Import report"));
    let summary = site.api_json("/insights/tickets/summary?group_by=category&interval=month");
    let stored: u64 = summary.as_array().unwrap().iter().map(|g| g["total"].as_u64().unwrap()).sum();
    assert_eq!(
        browser.text("#inserted"),
        Some(stored.to_string()),
        "every row of the export is a new ticket"
    );
    assert_eq!(browser.text("#rejected").as_deref(), Some("0"));
    browser.screenshot(shots, "05-tickets-imported");
}

/// The goals list and the goal report against `GET /insights/goals/install/report`.
fn check_goal_pages(browser: &mut Chromium, site: &Site, shots: &Path) {
    let report = site.api_json("/insights/goals/install/report");
    browser.goto(&format!("{}/ui/goals", site.root));
    let status = browser.eval("document.querySelector('tr[data-goal=install] [data-status]').dataset.status");
    assert_eq!(status, report["status"]);
    assert_eq!(
        browser.text("tr[data-goal=install] td.diagnosis").as_deref(),
        report["diagnosis"]["message"].as_str()
    );
    assert_eq!(
        browser.text("tr[data-goal=install] td.action").as_deref(),
        report["diagnosis"]["action"].as_str()
    );
    browser.screenshot(shots, "02-goals");

    browser.click_and_wait("tr[data-goal=install] a");
    assert!(browser.url().ends_with("/ui/goals/install"), "{}", browser.url());
    assert_eq!(browser.text("#diagnosis-message").as_deref(), report["diagnosis"]["message"].as_str());
    assert_eq!(browser.text("#diagnosis-action").as_deref(), report["diagnosis"]["action"].as_str());
    assert_eq!(browser.text("#as-of").as_deref(), report["as_of"].as_str());
    let tickets = &report["tickets"];
    assert_eq!(browser.text("#baseline-weekly"), Some(rate(&tickets["baseline_weekly"])));
    assert_eq!(browser.text("#current-weekly"), Some(rate(&tickets["current_weekly"])));
    assert_eq!(browser.text("#target-weekly"), Some(rate(&tickets["target_weekly"])));
    assert_eq!(browser.text("#change-pct"), Some(signed_pct(&tickets["change_pct"])));
    assert_eq!(browser.text("#population-share"), Some(pct(&report["reach"]["population_share"])));
    assert_eq!(
        browser.text("#seen-before-share"),
        Some(pct(&report["reach"]["requesters_seen_before_share"]))
    );
    assert_eq!(browser.text("#at-risk-share"), Some(pct(&report["reach"]["at_risk_share"])));
    assert_eq!(browser.text("#completion-rate"), Some(pct(&report["consumption"]["completion_rate"])));
    // The coverage of the tickets and where the window ends.
    assert_eq!(browser.text("#known-through-at").as_deref(), tickets["known_through"].as_str());
    if report["window"]["end_reason"] != "tickets_known_through" {
        assert_eq!(browser.text("#window-end").as_deref(), report["window"]["end"].as_str());
    } else {
        assert_eq!(browser.text("#window-end"), None, "the window ends where tickets are known: said once");
    }
    // The series table behind the tickets chart, row by row.
    let series = tickets["series"].as_array().unwrap();
    let shown: Vec<String> = browser.texts("#series tbody tr td:nth-of-type(1)");
    let expected: Vec<String> = series.iter().map(|p| p["tickets"].to_string()).collect();
    assert_eq!(shown, expected, "tickets per week");
    let shown = browser.texts("#series tbody tr td:nth-of-type(3)");
    let expected: Vec<String> = series.iter().map(|p| p["learners"].to_string()).collect();
    assert_eq!(shown, expected, "people reached");
    // The drop-off curve and its largest drop.
    let video = &report["consumption"]["video"];
    let shown = browser.texts("#still-watching tbody td");
    let expected: Vec<String> = video["still_watching"].as_array().unwrap().iter().map(pct).collect();
    assert_eq!(shown, expected, "still watching per tenth");
    // The largest drop, placed to the percent (and the second) on its video.
    let drop = &video["largest_drop"];
    let shares =
        format!("{:.0}–{:.0}%", drop["from"].as_f64().unwrap() * 100.0, drop["to"].as_f64().unwrap() * 100.0);
    assert!(browser.text("#largest-drop-at").unwrap().ends_with(&format!("({shares})")), "{drop}");
    assert_eq!(browser.text("#largest-drop"), Some(pct(&drop["lost"])));
    // Reached against not reached, the survey, the periods.
    let effect = &report["effect"];
    let small = |v: &Value| v.as_f64().map_or("—".into(), |v| format!("{v:.2}"));
    assert_eq!(browser.text("#seen-rate"), Some(small(&effect["exposed"]["rate"])));
    assert_eq!(browser.text("#unseen-rate"), Some(small(&effect["unexposed"]["rate"])));
    assert_eq!(browser.text("#exposed-tickets"), Some(effect["exposed"]["tickets"].to_string()));
    let [low, high] = [&effect["ci95"][0], &effect["ci95"][1]].map(|v| v.as_f64().unwrap());
    assert_eq!(browser.text("#rate-ratio-ci"), Some(format!("{low:.2}–{high:.2}")));
    assert!(browser.text("#effect-words").unwrap().contains("95% CI"));
    assert_eq!(browser.text("#survey-responses"), Some(report["feedback"]["responses"].to_string()));
    let periods: Vec<String> = browser.texts("#periods tbody th");
    let expected: Vec<String> = report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(periods, expected);
    // A period the window's end cuts short is marked partial, as the report says.
    let partial = browser.eval("Array.from(document.querySelectorAll('#periods tbody tr')).map(r => r.classList.contains('partial'))");
    let expected: Vec<Value> =
        report["periods"].as_array().unwrap().iter().map(|p| p["partial"].clone()).collect();
    assert_eq!(partial, Value::Array(expected));
    // Every chart is an image with a name, and has a table.
    let charts = browser.eval(
        "Array.from(document.querySelectorAll('svg.chart')).map(s => s.getAttribute('role') === 'img' \
         && document.getElementById(s.getAttribute('aria-labelledby').split(' ')[0]).textContent.length > 0)",
    );
    assert_eq!(charts, json!([true, true, true, true]), "tickets, drop-off, reached vs not, survey");
    assert_eq!(
        browser.eval(
            "document.querySelectorAll('svg.chart .launch, svg.chart .target, svg.chart .drop').length"
        ),
        json!(5),
        "the launch and target lines (and the legend's), and the largest drop"
    );
    let csv_link = browser.eval("document.querySelector('a[href^=\"/exports/goals/install.csv\"]') !== null");
    assert_eq!(csv_link, json!(true));
    browser.screenshot(shots, "03-goal-report");

    // The page's own CSV is the export's.
    let session = site.sign_in(&site.key, &site.secret);
    let csv = site.page("/ui/goals/install/report.csv", Some(&session));
    let export = site.api("GET", "/exports/goals/install.csv", "text/csv", b"");
    assert_eq!((csv.status, csv.body.as_str()), (200, export.body.as_str()));
}

/// The content page against `GET /insights/activities` and `GET /insights/videos`.
fn check_content_page(browser: &mut Chromium, site: &Site, shots: &Path) {
    let range = "from=2025-01-27&to=2025-04-28&interval=week";
    let prefix = support::encode("https://academy.example.com/install/");
    let counts = site.api_json(&format!("/insights/activities?activity_id_prefix={prefix}&{range}"));
    browser.goto(&format!("{}/ui/content?prefix={prefix}&{range}", site.root));
    let rows = browser.eval(
        "Array.from(document.querySelectorAll('#activities tbody tr')).map(r => [r.dataset.activity, \
         r.querySelector('.people').textContent, r.querySelector('.statements').textContent, \
         r.querySelector('.completions').textContent])",
    );
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), counts.as_array().unwrap().len(), "{rows:?}");
    for activity in counts.as_array().unwrap() {
        let row = rows.iter().find(|r| r[0] == activity["activity_id"]).expect("every activity has a row");
        assert_eq!(row[1], json!(activity["actors"].to_string()));
        assert_eq!(row[2], json!(activity["statements"].to_string()));
        assert_eq!(row[3], json!(activity["completions"].to_string()));
    }
    // Ranked by reach: most people first.
    let people: Vec<u64> = rows.iter().map(|r| r[1].as_str().unwrap().parse().unwrap()).collect();
    assert!(people.windows(2).all(|w| w[0] >= w[1]), "{people:?}");
    let video = site.api_json(&format!("/insights/videos?activityId={}", support::encode(MAIN_VIDEO)));
    let drop = browser.text(&format!("#activities tr[data-activity='{MAIN_VIDEO}'] .drop"));
    assert_eq!(drop, Some(format!("{} at {}", pct(&video["largest_drop"]), pct(&video["largest_drop_at"]))));
    assert_eq!(
        browser.eval("document.querySelectorAll('#activities svg.sparkline').length"),
        json!(rows.len())
    );
    browser.screenshot(shots, "06-content");
    browser.fill("#rank", "drop-off");
    browser.click_and_wait("form.filters button[type=submit]");
    assert_eq!(
        browser.eval("document.querySelector('#activities tbody tr').dataset.activity"),
        json!(MAIN_VIDEO),
        "the video whose viewers leave most comes first"
    );
}

/// The ticket summary against `GET /insights/tickets/summary`.
fn check_ticket_summary(browser: &mut Chromium, site: &Site, shots: &Path) {
    let summary = site.api_json("/insights/tickets/summary?group_by=category&interval=week");
    browser.goto(&format!("{}/ui/tickets?group_by=category&interval=week", site.root));
    for group in summary.as_array().unwrap() {
        let name = group["group"].as_str().unwrap();
        let total = browser.text(&format!("#ticket-summary tr[data-group='{name}'] .total"));
        assert_eq!(total, Some(group["total"].to_string()), "{name}");
    }
    browser.screenshot(shots, "07-tickets");
}

/// The statement browser: filters, paging, a statement's JSON, and a hostile name as text.
fn check_statements_page(browser: &mut Chromium, site: &Site, shots: &Path, hostile_name: &str) {
    browser.goto(&format!("{}/ui/statements", site.root));
    assert_eq!(browser.texts("#statements tbody tr").len(), 25);
    let first_page =
        browser.eval("Array.from(document.querySelectorAll('#statements tbody tr')).map(r => r.dataset.id)");
    browser.click_and_wait("a#more");
    let second_page =
        browser.eval("Array.from(document.querySelectorAll('#statements tbody tr')).map(r => r.dataset.id)");
    assert_eq!(second_page.as_array().unwrap().len(), 25);
    assert!(second_page.as_array().unwrap().iter().all(|id| !first_page.as_array().unwrap().contains(id)));

    let verb = "http://adlnet.gov/expapi/verbs/completed";
    browser.goto(&format!("{}/ui/statements", site.root));
    browser.fill("#verb", verb);
    browser.click_and_wait("form.filters button[type=submit]");
    let api = site.api_json(&format!("/xapi/statements?verb={}&limit=25", support::encode(verb)));
    let expected: Vec<Value> =
        api["statements"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    let shown =
        browser.eval("Array.from(document.querySelectorAll('#statements tbody tr')).map(r => r.dataset.id)");
    assert_eq!(shown, Value::Array(expected.clone()), "the same statements as GET /xapi/statements");
    // A statement's JSON, on click.
    browser.eval("document.querySelector('#statements tbody tr details summary').click()");
    let json_text = browser.text("#statements tbody tr details pre").unwrap_or_default();
    let shown: Value = serde_json::from_str(&json_text).expect("the statement's JSON");
    assert_eq!(shown["id"], expected[0]);
    assert_eq!(browser.eval("document.querySelector('#statements tbody tr details').open"), json!(true));
    browser.screenshot(shots, "08-statements");

    // A name with markup is text on the page: no element was made of it.
    browser.goto(&format!("{}/ui/statements?agent=mallory%40example.com", site.root));
    assert_eq!(browser.text("#statements td.actor").as_deref(), Some(hostile_name));
    assert_eq!(browser.eval("document.querySelectorAll('main script, main img').length"), json!(0));
    assert_eq!(browser.eval("window.__hostile === undefined"), json!(true));
}

/// Credentials: create one (its secret shown once, and working), then revoke it.
fn check_credentials_page(browser: &mut Chromium, site: &Site, shots: &Path) {
    browser.goto(&format!("{}/ui/credentials", site.root));
    browser.fill("#name", "analytics team");
    browser.check("input[name=scope][value=insights]");
    browser.click_and_wait("form[action='/ui/credentials'] button[type=submit]");
    let key = browser.text("#new-key").expect("the new key is shown");
    let secret = browser.text("#new-secret").expect("the secret is shown once");
    browser.screenshot(shots, "09-credential-created");
    let auth = Site::basic(&key, &secret);
    assert_eq!(site.request("GET", "/insights/goals", &[("Authorization", &auth)], b"").status, 200);
    browser.goto(&format!("{}/ui/credentials", site.root));
    assert_eq!(browser.text("#new-secret"), None, "the secret is not shown again");
    browser.click_and_wait(&format!("tr[data-key='{key}'] button[type=submit]"));
    assert_eq!(browser.text(&format!("tr[data-key='{key}'] .state")).as_deref(), Some("revoked"));
    assert_eq!(site.request("GET", "/insights/goals", &[("Authorization", &auth)], b"").status, 401);
    browser.screenshot(shots, "10-credentials");
}

backend_tests! {
    fn every_page_shows_the_demo_as_the_json_api_counts_it(backend) {
        let started = Instant::now();
        // First, so that a machine without Chromium fails at once, saying how to install it.
        let mut browser = Chromium::launch();
        let shots = screenshots(backend);
        let site = Site::start(backend);
        let hostile_name = r#"<img src=x onerror="window.__hostile=1"><script>window.__hostile=2</script>"#;
        site.store_statements(&[json!({
            "actor": { "name": hostile_name, "mbox": "mailto:mallory@example.com" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" },
            "object": { "id": "https://example.com/elsewhere" },
        })]);
        let data = site.load_demo(false);
        sign_in(&mut browser, &site, &shots);
        import_tickets(&mut browser, &site, &data.tickets_csv, &shots);
        site.caught_up();
        check_goal_pages(&mut browser, &site, &shots);
        check_content_page(&mut browser, &site, &shots);
        check_ticket_summary(&mut browser, &site, &shots);
        check_statements_page(&mut browser, &site, &shots, hostile_name);
        check_credentials_page(&mut browser, &site, &shots);
        browser.click_and_wait("form.sign-out button[type=submit]");
        assert!(browser.url().ends_with("/ui/sign-in?error=signed-out"), "{}", browser.url());
        browser.goto(&format!("{}/ui/goals", site.root));
        assert!(browser.url().contains("/ui/sign-in"), "signed out: {}", browser.url());
        eprintln!("browser test on {backend:?}: {:.1} s; screenshots in {}", started.elapsed().as_secs_f64(), shots.display());
    }
}
