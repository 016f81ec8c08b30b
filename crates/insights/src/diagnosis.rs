//! What a report concludes: the diagnosis (what to change) and the goal's status, from the
//! evidence the report computed. The decision table (README, "The diagnosis"), in order:
//!
//! 1. `insufficient_data`: too few baseline tickets, days since launch or learners.
//! 2. `low_reach`: too few of the population, or of the people at risk, touched the
//!    content, whatever its effect; the message says whether it helps those it reaches.
//! 3. `drop_off`: viewers leave a video at one point, or few complete the content.
//! 4. by the effect's interval against `1 − min_effect`: `working` when it lies below,
//!    `no_effect` when it lies at or above, `not_yet_measurable` when it straddles it or
//!    there are too few tickets to compute it.

use std::collections::BTreeMap;

use jiff::civil::Date;

use crate::days::day_start;
use crate::estimate::RateRatio;
use crate::goal::Goal;
use crate::report::{Consumption, Diagnosis, Effect, Reach, Verdict};

/// What the diagnosis is decided from.
pub struct Evidence<'a> {
    pub goal: &'a Goal,
    pub reach: &'a Reach,
    pub consumption: &'a Consumption,
    pub effect: &'a Effect,
    pub change_pct: Option<f64>,
    pub baseline_tickets: u64,
    pub days_since_launch: i64,
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The effect in words with its interval: "people who had seen it filed 84% fewer tickets
/// (95% CI 78–89%)".
pub fn describe_effect(effect: &Effect) -> String {
    let (Some(ratio), Some([low, high])) = (effect.rate_ratio, effect.ci95) else {
        return format!(
            "there are too few tickets to compare yet ({} from people who had seen it, {} from people who had not)",
            effect.exposed.tickets, effect.unexposed.tickets
        );
    };
    let amount = |r: f64| format!("{:.0}%", (1.0 - r).abs() * 100.0);
    let direction = if ratio <= 1.0 { "fewer" } else { "more" };
    let interval = if high <= 1.0 {
        format!("95% CI {}–{}", amount(high).trim_end_matches('%'), amount(low))
    } else if low >= 1.0 {
        format!("95% CI {}–{} more", amount(low).trim_end_matches('%'), amount(high))
    } else {
        format!("95% CI from {} fewer to {} more", amount(low), amount(high))
    };
    format!("people who had seen it filed {} {direction} tickets ({interval})", amount(ratio))
}

fn capitalised(text: String) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// Decides what to change (see the module documentation for the table).
pub fn diagnose(e: &Evidence<'_>) -> Diagnosis {
    let t = &e.goal.thresholds;
    let (reach, effect, consumption) = (e.reach, e.effect, e.consumption);
    let mut evidence = BTreeMap::new();
    evidence.insert("population_share", reach.population_share);
    evidence.insert("at_risk_share", reach.at_risk_share);
    evidence.insert("requesters_seen_before_share", reach.requesters_seen_before_share);
    evidence.insert("completion_rate", consumption.completion_rate);
    if let Some(change) = e.change_pct {
        evidence.insert("ticket_change_pct", change);
    }
    if let (Some(ratio), Some([low, high])) = (effect.rate_ratio, effect.ci95) {
        evidence.insert("rate_ratio", ratio);
        evidence.insert("rate_ratio_ci95_low", low);
        evidence.insert("rate_ratio_ci95_high", high);
    }
    let found = |code: &'static str, message: String, action: &str, evidence| Diagnosis {
        code,
        message,
        action: action.to_string(),
        evidence,
    };
    if e.baseline_tickets < t.min_baseline_tickets
        || e.days_since_launch < t.min_days
        || reach.learners < t.min_learners
    {
        let message = format!(
            "Not enough to judge yet: {} baseline tickets, {} days since launch, {} learners.",
            e.baseline_tickets, e.days_since_launch, reach.learners
        );
        return found("insufficient_data", message, "Wait for more data.", evidence);
    }
    if reach.population_share < t.min_population_share
        || (reach.at_risk > 0 && reach.at_risk_share < t.min_at_risk_share)
    {
        let helps = match effect.verdict {
            Verdict::Effective => format!("It works for the people it reaches: {}.", describe_effect(effect)),
            Verdict::NoEffect => {
                format!("It does not help the people it reaches either: {}.", describe_effect(effect))
            }
            Verdict::Unclear | Verdict::NotMeasurable => {
                format!(
                    "Whether it helps the people it reaches cannot be told yet: {}.",
                    describe_effect(effect)
                )
            }
        };
        let message = format!(
            "Only {} of people ({} of {}) and {} of those who filed matching tickets before launch have touched the content. {helps}",
            pct(reach.population_share),
            reach.learners,
            reach.population,
            pct(reach.at_risk_share)
        );
        let action = if effect.verdict == Verdict::Effective {
            "Update promotion or placement: the content works, so put it where people meet the problem."
        } else {
            "Update promotion or placement: put the content where people meet the problem."
        };
        return found("low_reach", message, action, evidence);
    }
    if let Some(drop) = consumption.video.as_ref().and_then(|v| v.largest_drop.as_ref())
        && (drop.lost >= t.max_video_drop || consumption.completion_rate < t.min_completion_rate)
    {
        evidence.insert("largest_drop_from", drop.from);
        evidence.insert("largest_drop_to", drop.to);
        evidence.insert("largest_drop", drop.lost);
        let place = format!("at {}", drop.place());
        let message = format!(
            "{} of viewers stop watching {place} of {}; {} complete the content.",
            pct(drop.lost),
            drop.activity_id,
            pct(consumption.completion_rate)
        );
        let action = format!("Update the content {place} of the video, where viewers leave.");
        return found("drop_off", message, &action, evidence);
    }
    if consumption.completion_rate < t.min_completion_rate {
        let message =
            format!("Only {} of people who start the content complete it.", pct(consumption.completion_rate));
        return found(
            "drop_off",
            message,
            "Update the content: people start it but do not finish.",
            evidence,
        );
    }
    match effect.verdict {
        Verdict::Effective => {
            let message = format!(
                "{}; tickets changed {}.",
                capitalised(describe_effect(effect)),
                e.change_pct.map_or("—".into(), |c| format!("{c:+.0}%"))
            );
            found("working", message, "Keep going.", evidence)
        }
        Verdict::NoEffect => {
            let message = format!(
                "People saw and completed the content ({} completion), but {}: less than the {} the goal asks of it.",
                pct(consumption.completion_rate),
                describe_effect(effect),
                pct(t.min_effect)
            );
            let action = "Update the content itself: it does not address what people file tickets about.";
            found("no_effect", message, action, evidence)
        }
        Verdict::Unclear | Verdict::NotMeasurable => {
            let message = format!(
                "People saw the content, but its effect cannot be told yet: {}, which does not settle whether they file at least {} fewer.",
                describe_effect(effect),
                pct(t.min_effect)
            );
            let action = "Wait for more tickets: the interval narrows as they come in.";
            found("not_yet_measurable", message, action, evidence)
        }
    }
}

/// The goal's status: `met` when the current weekly rate is at or below the target and the
/// drop is beyond chance (the change's interval lies below no change), `missed` when the
/// target date has passed without that, `on_track` when the content works and the drop so
/// far keeps 75% of the pace of a straight line to the target, else `at_risk`.
pub fn status(
    goal: &Goal,
    as_of: Date,
    window_end: i64,
    diagnosis: &Diagnosis,
    current_weekly: f64,
    target_weekly: f64,
    change: Option<&RateRatio>,
) -> &'static str {
    if diagnosis.code == "insufficient_data" {
        return "insufficient_data";
    }
    if current_weekly <= target_weekly && change.is_some_and(|c| c.ci95[1] < 1.0) {
        return "met";
    }
    if as_of >= goal.target.by {
        return "missed";
    }
    // The pace a straight line to the target would have reached by the window's end.
    let launch = day_start(goal.launch_date);
    let total = (day_start(goal.target.by) - launch) as f64;
    let elapsed = (window_end - launch) as f64;
    let expected = goal.target.reduction_pct * (elapsed / total).clamp(0.0, 1.0);
    let achieved = change.map_or(0.0, |c| (1.0 - c.ratio) * 100.0);
    if achieved >= 0.75 * expected && diagnosis.code == "working" { "on_track" } else { "at_risk" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dropoff::LargestDrop;
    use crate::estimate::IntervalMethod;
    use crate::report::{ArmSummary, VideoConsumption};

    fn goal() -> Goal {
        Goal::parse(
            br#"{"name": "g", "content": {"activity_id_prefix": "https://a.example/"},
                 "launch_date": "2026-03-02", "target": {"reduction_pct": 30, "by": "2026-04-27"}}"#,
        )
        .unwrap()
    }

    fn reach(population_share: f64, at_risk_share: f64) -> Reach {
        Reach {
            population: 1000,
            learners: (population_share * 1000.0) as u64,
            population_share,
            at_risk: 100,
            at_risk_reached: (at_risk_share * 100.0) as u64,
            at_risk_share,
            requesters_after_launch: 50,
            requesters_seen_before: 5,
            // Low on purpose: it is a description and must never decide reach.
            requesters_seen_before_share: 0.1,
        }
    }

    fn consumption(completion_rate: f64, largest_drop: f64) -> Consumption {
        Consumption {
            starts: 500,
            completions: (completion_rate * 500.0) as u64,
            completion_rate,
            video: Some(VideoConsumption {
                viewers: 500,
                still_watching: vec![1.0; 11],
                largest_drop_at: Some(0.4),
                largest_drop: Some(LargestDrop {
                    activity_id: "https://a.example/video".into(),
                    from: 0.41,
                    to: 0.45,
                    from_s: Some(151.0),
                    to_s: Some(166.0),
                    lost: largest_drop,
                    viewers: 500,
                }),
            }),
            chatbot: None,
        }
    }

    fn effect(ratio: f64, ci95: [f64; 2], verdict: Verdict) -> Effect {
        let arm = |tickets| ArmSummary { tickets, person_weeks: 1000.0, rate: Some(tickets as f64 / 1000.0) };
        Effect {
            population: crate::report::POPULATION,
            people: 1000,
            exposed: arm(16),
            unexposed: arm(100),
            unattributed_tickets: 0,
            rate_ratio: Some(ratio),
            ci95: Some(ci95),
            interval_method: Some(IntervalMethod::ExactConditional),
            verdict,
        }
    }

    fn works() -> Effect {
        effect(0.16, [0.11, 0.22], Verdict::Effective)
    }

    fn diagnosed(
        reach: &Reach,
        consumption: &Consumption,
        effect: &Effect,
        baseline_tickets: u64,
    ) -> Diagnosis {
        diagnose(&Evidence {
            goal: &goal(),
            reach,
            consumption,
            effect,
            change_pct: Some(-60.0),
            baseline_tickets,
            days_since_launch: 28,
        })
    }

    #[test]
    fn too_few_baseline_tickets_is_insufficient_data() {
        let d = diagnosed(&reach(0.7, 0.7), &consumption(0.8, 0.05), &works(), 3);
        assert_eq!(d.code, "insufficient_data");
    }

    #[test]
    fn content_that_works_for_the_few_it_reaches_is_low_reach_and_says_it_works() {
        let d = diagnosed(&reach(0.1, 0.1), &consumption(0.8, 0.05), &works(), 50);
        assert_eq!(d.code, "low_reach");
        assert!(d.message.contains("It works for the people it reaches"), "{}", d.message);
        assert!(d.message.contains("84% fewer tickets (95% CI 78–89%)"), "{}", d.message);
        assert!(d.action.contains("promotion or placement") && d.action.contains("works"), "{}", d.action);
    }

    #[test]
    fn few_of_the_people_at_risk_reached_is_low_reach_even_when_many_others_are() {
        let unclear = effect(0.8, [0.5, 1.3], Verdict::Unclear);
        let d = diagnosed(&reach(0.6, 0.1), &consumption(0.8, 0.05), &unclear, 50);
        assert_eq!(d.code, "low_reach");
        assert!(d.message.contains("cannot be told yet"), "{}", d.message);
    }

    #[test]
    fn a_low_seen_before_share_alone_is_not_low_reach() {
        // Everyone reached, content works: the few who still file mostly had not seen it.
        let d = diagnosed(&reach(0.7, 0.7), &consumption(0.8, 0.05), &works(), 50);
        assert_eq!(d.code, "working", "{}", d.message);
        assert_eq!(
            d.message,
            "People who had seen it filed 84% fewer tickets (95% CI 78–89%); tickets changed -60%."
        );
    }

    #[test]
    fn viewers_leaving_at_one_point_is_drop_off_there() {
        let d = diagnosed(&reach(0.7, 0.7), &consumption(0.8, 0.45), &works(), 50);
        assert_eq!(d.code, "drop_off");
        assert_eq!(d.action, "Update the content at 2:31–2:46 (41–45%) of the video, where viewers leave.");
    }

    #[test]
    fn few_completions_without_a_video_is_drop_off() {
        let mut few = consumption(0.3, 0.0);
        few.video = None;
        let d = diagnosed(&reach(0.7, 0.7), &few, &works(), 50);
        assert_eq!(d.code, "drop_off");
    }

    #[test]
    fn an_interval_at_or_above_the_minimum_effect_is_no_effect() {
        let none = effect(0.97, [0.85, 1.1], Verdict::NoEffect);
        let d = diagnosed(&reach(0.7, 0.7), &consumption(0.8, 0.05), &none, 50);
        assert_eq!(d.code, "no_effect");
        assert!(d.message.contains("3% fewer tickets (95% CI from 15% fewer to 10% more)"), "{}", d.message);
    }

    #[test]
    fn an_interval_straddling_the_minimum_effect_is_not_yet_measurable() {
        let unclear = effect(0.7, [0.45, 1.05], Verdict::Unclear);
        let d = diagnosed(&reach(0.7, 0.7), &consumption(0.8, 0.05), &unclear, 50);
        assert_eq!(d.code, "not_yet_measurable");
        assert!(d.action.contains("Wait"), "{}", d.action);
    }

    #[test]
    fn too_few_tickets_to_compute_the_effect_is_not_yet_measurable() {
        let mut none = effect(0.0, [0.0, 0.0], Verdict::NotMeasurable);
        (none.rate_ratio, none.ci95) = (None, None);
        let d = diagnosed(&reach(0.7, 0.7), &consumption(0.8, 0.05), &none, 50);
        assert_eq!(d.code, "not_yet_measurable");
        assert!(d.message.contains("too few tickets"), "{}", d.message);
    }

    #[test]
    fn a_goal_is_met_only_when_the_drop_is_beyond_chance() {
        let g = goal();
        let working = diagnosed(&reach(0.7, 0.7), &consumption(0.8, 0.05), &works(), 50);
        let as_of: Date = "2026-04-01".parse().unwrap();
        let end = day_start(as_of);
        let drop = |ci95| RateRatio { ratio: 0.5, ci95, method: IntervalMethod::ExactConditional };
        assert_eq!(status(&g, as_of, end, &working, 5.0, 7.0, Some(&drop([0.3, 0.8]))), "met");
        // Below the target, but a handful of tickets: the drop may be chance.
        assert_eq!(status(&g, as_of, end, &working, 5.0, 7.0, Some(&drop([0.2, 1.3]))), "on_track");
        let by = g.target.by;
        assert_eq!(status(&g, by, day_start(by), &working, 5.0, 7.0, Some(&drop([0.2, 1.3]))), "missed");
    }
}
