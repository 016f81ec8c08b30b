//! The demo data set: valid, deterministic, and with the right answer each scenario claims,
//! recomputed here from the statements and the imported ticket export alone.

use std::collections::{HashMap, HashSet};

use insights::demo::{self, DemoData, Scenario, extensions, verbs};
use insights::tickets::{ImportOptions, Preset, Ticket, read_csv};
use serde_json::Value;

fn micros(date: &str) -> i64 {
    date.parse::<jiff::civil::Date>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_microsecond()
}

/// What a report would compute, from the outputs only.
#[derive(Debug)]
struct Recomputed {
    baseline: usize,
    last: usize,
    viewers: usize,
    median_progress: f64,
    requesters_after_launch: usize,
    requesters_reached_pct: f64,
}

fn tickets(data: &DemoData) -> Vec<Ticket> {
    read_csv(data.tickets_csv.as_bytes(), &ImportOptions::new(Preset::Zendesk))
        .unwrap()
        .map(|t| t.unwrap_or_else(|e| panic!("the demo export has a bad row: {e}")))
        .collect()
}

fn mbox_key(statement: &Value) -> String {
    format!("mbox:{}", statement["actor"]["mbox"].as_str().unwrap()).to_lowercase()
}

fn recompute(data: &DemoData) -> Recomputed {
    let goal = &data.goal;
    let launch = micros(goal["launch_date"].as_str().unwrap());
    let by = micros(goal["target"]["by"].as_str().unwrap());
    let day = 86_400_000_000;
    let tickets = tickets(data);
    let install: Vec<&Ticket> =
        tickets.iter().filter(|t| t.tags.iter().any(|tag| tag == "install")).collect();
    let baseline = install.iter().filter(|t| t.created >= launch - 28 * day && t.created < launch).count();
    let last = install.iter().filter(|t| t.created >= by - 28 * day && t.created < by).count();

    // A viewer's progress on the main video: the highest reported.
    let mut progress: HashMap<String, f64> = HashMap::new();
    for statement in &data.statements {
        if statement["object"]["id"] != demo::MAIN_VIDEO {
            continue;
        }
        let key = mbox_key(statement);
        let reported = statement["result"]["extensions"][extensions::PROGRESS].as_f64().unwrap_or(0.0);
        let entry = progress.entry(key).or_insert(0.0);
        *entry = entry.max(reported);
    }
    let mut values: Vec<f64> = progress.values().copied().collect();
    values.sort_by(f64::total_cmp);

    let requesters: HashSet<String> = install
        .iter()
        .filter(|t| t.created >= launch)
        .map(|t| t.requester.as_ref().unwrap().actor_keys()[0].to_lowercase())
        .collect();
    let reached = requesters.iter().filter(|r| progress.contains_key(*r)).count();
    Recomputed {
        baseline,
        last,
        viewers: progress.len(),
        median_progress: values.get(values.len() / 2).copied().unwrap_or(0.0),
        requesters_after_launch: requesters.len(),
        requesters_reached_pct: 100.0 * reached as f64 / requesters.len().max(1) as f64,
    }
}

fn check_truth_matches_the_outputs(data: &DemoData) {
    let truth = &data.truth;
    let found = recompute(data);
    assert_eq!(found.baseline as u32, truth.baseline_install_tickets, "{found:?}");
    assert_eq!(found.last as u32, truth.final_install_tickets, "{found:?}");
    assert_eq!(found.viewers as u32, truth.viewers);
    assert!((found.median_progress - truth.median_progress).abs() < 0.01, "{found:?} {truth:?}");
    assert_eq!(found.requesters_after_launch as u32, truth.requesters_after_launch);
    assert!((found.requesters_reached_pct - truth.requesters_reached_pct).abs() < 1e-9);
    let reduction = 100.0 * (1.0 - found.last as f64 / found.baseline as f64);
    assert!((reduction - truth.reduction_pct).abs() < 1e-9, "{reduction} {}", truth.reduction_pct);
}

#[test]
fn every_statement_is_valid_xapi() {
    for scenario in Scenario::presets() {
        let data = scenario.generate();
        assert!(data.statements.len() > 300, "{}: {} statements", scenario.name, data.statements.len());
        let mut ids = HashSet::new();
        for statement in &data.statements {
            xapi::Statement::parse(statement.clone(), xapi::Version::V1_0)
                .unwrap_or_else(|e| panic!("{}: {e}\n{statement:#}", scenario.name));
            assert!(ids.insert(statement["id"].as_str().unwrap().to_owned()), "duplicate id");
        }
        let timestamps: Vec<&str> =
            data.statements.iter().map(|s| s["timestamp"].as_str().unwrap()).collect();
        let parsed: Vec<jiff::Timestamp> = timestamps.iter().map(|t| t.parse().unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] <= w[1]), "statements are in timestamp order");
    }
}

#[test]
fn generation_is_deterministic() {
    let (a, b) = (Scenario::working().generate(), Scenario::working().generate());
    assert_eq!(a.statements, b.statements);
    assert_eq!(a.tickets_csv, b.tickets_csv);
    assert_eq!(a.truth, b.truth);
    let other = Scenario { seed: 1, ..Scenario::working() }.generate();
    assert_ne!(a.tickets_csv, other.tickets_csv);
}

#[test]
fn the_goal_describes_the_launch() {
    let data = Scenario::working().generate();
    assert_eq!(
        data.goal,
        serde_json::json!({
            "name": "Cut Sync Connector install tickets by 30%",
            "tickets": {"tags": ["install"]},
            "content": {"activity_id_prefix": "https://academy.example.com/install/"},
            "launch_date": "2025-03-03",
            "baseline_days": 28,
            "target": {"reduction_pct": 30, "by": "2025-04-28"},
        })
    );
    // Everything but the academy registration (which makes every person known) is content.
    let mut registered = std::collections::HashSet::new();
    for statement in &data.statements {
        let object = statement["object"]["id"].as_str().unwrap();
        if statement["verb"]["id"] == demo::verbs::REGISTERED {
            assert!(!object.starts_with(demo::CONTENT_PREFIX), "{object}");
            registered.insert(statement["actor"]["mbox"].as_str().unwrap().to_owned());
        } else {
            assert!(object.starts_with(demo::CONTENT_PREFIX), "{object}");
        }
    }
    assert_eq!(registered.len(), data.scenario.people as usize, "every person registered once");
}

#[test]
fn tickets_link_to_learners_by_email_whatever_the_case() {
    let data = Scenario::working().generate();
    let tickets = tickets(&data);
    assert!(tickets.len() > 300, "{} tickets", tickets.len());
    let learners: HashSet<String> = data.statements.iter().map(mbox_key).collect();
    let linked =
        tickets.iter().filter(|t| learners.contains(&t.requester.as_ref().unwrap().actor_keys()[0])).count();
    assert!(linked * 10 > tickets.len() * 6, "{linked} of {} tickets link to a learner", tickets.len());
    // Some requesters were written in mixed case in the export.
    assert!(data.tickets_csv.contains("@Customer.Example"));
    assert!(
        data.statements.iter().all(|s| s["actor"]["mbox"].as_str().unwrap().ends_with("@customer.example"))
    );
}

#[test]
fn working_content_cuts_tickets_by_more_than_the_target() {
    let data = Scenario::working().generate();
    check_truth_matches_the_outputs(&data);
    let truth = &data.truth;
    assert!(truth.reduction_pct > 30.0, "{truth:?}");
    assert!(truth.viewer_ticket_rate < 0.6 * truth.non_viewer_ticket_rate, "{truth:?}");
    assert!(truth.requesters_reached_pct > 50.0, "{truth:?}");
    assert!(truth.median_progress >= 0.99, "{truth:?}");
    assert!(truth.survey_mean > 3.8, "{truth:?}");
}

#[test]
fn low_reach_means_requesters_never_saw_the_content() {
    let data = Scenario::low_reach().generate();
    check_truth_matches_the_outputs(&data);
    let truth = &data.truth;
    assert!(truth.requesters_reached_pct < 20.0, "{truth:?}");
    assert!(truth.reduction_pct < 20.0, "{truth:?}");
    // It works for the few who watch.
    assert!(truth.viewer_ticket_rate < 0.6 * truth.non_viewer_ticket_rate, "{truth:?}");
}

#[test]
fn drop_off_shows_in_progress_and_played_segments() {
    let data = Scenario::drop_off_at(0.4).generate();
    check_truth_matches_the_outputs(&data);
    let truth = &data.truth;
    assert!((0.35..=0.45).contains(&truth.median_progress), "{truth:?}");
    assert!(truth.reduction_pct < 20.0, "{truth:?}");
    assert!(truth.survey_mean < 3.5, "{truth:?}");
    let main: Vec<&Value> =
        data.statements.iter().filter(|s| s["object"]["id"] == demo::MAIN_VIDEO).collect();
    let completed = main.iter().filter(|s| s["verb"]["id"] == verbs::COMPLETED).count();
    let paused: Vec<&&Value> = main.iter().filter(|s| s["verb"]["id"] == verbs::PAUSED).collect();
    assert!(paused.len() > 5 * completed, "{} paused, {completed} completed", paused.len());
    // A viewer who stopped at 40% of the 184-second video has played 0 to about 74 s.
    let near_forty = paused
        .iter()
        .filter(|s| {
            let segments = s["result"]["extensions"][extensions::PLAYED_SEGMENTS].as_str().unwrap();
            let end: f64 = segments.rsplit("[.]").next().unwrap().parse().unwrap();
            segments.starts_with("0[.]") && (66.0..=81.0).contains(&end)
        })
        .count();
    assert!(near_forty * 10 > paused.len() * 8, "{near_forty} of {} paused near 40%", paused.len());
}

#[test]
fn no_effect_means_viewers_file_tickets_like_everyone_else() {
    let data = Scenario::no_effect().generate();
    check_truth_matches_the_outputs(&data);
    let truth = &data.truth;
    assert!(truth.median_progress >= 0.99, "{truth:?}");
    assert!(truth.reduction_pct < 20.0, "{truth:?}");
    let ratio = truth.viewer_ticket_rate / truth.non_viewer_ticket_rate;
    assert!((0.7..=1.4).contains(&ratio), "{ratio} {truth:?}");
    assert!(truth.survey_mean > 3.8, "people liked it anyway: {truth:?}");
}

#[test]
fn presets_are_found_by_name() {
    for name in ["working", "low-reach", "drop_off", "No-Effect"] {
        assert!(Scenario::named(name).is_some(), "{name}");
    }
    assert!(Scenario::named("perfect").is_none());
}
