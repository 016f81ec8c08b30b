//! SVG charts, drawn on the server. Each is an `<svg role="img">` with a title and a
//! description in words; the page puts the same numbers in a table beside it, so nothing
//! is only in the picture. Labels are text nodes, escaped like everything else.

use maud::{Markup, html};

use crate::format;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 64.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 48.0;

/// A round maximum for an axis at or above `value` (1, 2, 2.5 or 5 times a power of ten).
pub fn nice_max(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|m| *m >= value).unwrap_or(value)
}

/// Five evenly spaced ticks from 0 to `max`.
fn ticks(max: f64) -> impl Iterator<Item = f64> {
    (0..=4).map(move |i| max * i as f64 / 4.0)
}

/// An axis label: whole numbers without decimals, others with one.
fn tick_label(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 { format!("{value:.0}") } else { format!("{value:.1}") }
}

fn n(value: f64) -> String {
    format!("{value:.1}")
}

/// One interval of the tickets-and-learners chart.
#[derive(Clone, Debug)]
pub struct Interval {
    /// The interval's first day (`YYYY-MM-DD`).
    pub start: String,
    pub tickets: u64,
    /// People who had touched the content by the interval's end.
    pub learners: u64,
}

/// Tickets per interval (bars, left axis) against people reached (line, right axis), with
/// the launch date (a dashed vertical line) and the target rate (a dashed horizontal line
/// from the launch on).
pub fn tickets_and_learners(
    id: &str,
    intervals: &[Interval],
    launch: &str,
    target_per_interval: f64,
    interval_name: &str,
) -> Markup {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let count = intervals.len().max(1) as f64;
    let band = plot_w / count;
    let ticket_max = nice_max(intervals.iter().map(|i| i.tickets as f64).fold(target_per_interval, f64::max));
    let learner_max = nice_max(intervals.iter().map(|i| i.learners as f64).fold(0.0, f64::max));
    let y = |value: f64, max: f64| TOP + plot_h - value / max * plot_h;
    let launch_index = intervals.iter().position(|i| i.start.as_str() >= launch);
    let launch_x = launch_index.map(|i| LEFT + i as f64 * band);
    let line: Vec<String> = intervals
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!("{},{}", n(LEFT + (i as f64 + 0.5) * band), n(y(p.learners as f64, learner_max)))
        })
        .collect();
    let label_every = (intervals.len() / 8).max(1);
    let description = format!(
        "{} {interval_name}s from {} to {}. Tickets per {interval_name} range from {} to {}; people reached grow to {}. \
         The content launched on {launch}; the target is {} tickets per {interval_name}.",
        intervals.len(),
        intervals.first().map_or("", |i| i.start.as_str()),
        intervals.last().map_or("", |i| i.start.as_str()),
        intervals.iter().map(|i| i.tickets).min().unwrap_or(0),
        intervals.iter().map(|i| i.tickets).max().unwrap_or(0),
        intervals.last().map_or(0, |i| i.learners),
        format::rate(target_per_interval),
    );
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (HEIGHT)} width=(WIDTH) height=(HEIGHT) role="img"
            aria-labelledby={(id) "-title " (id) "-desc"} {
            title id={(id) "-title"} { "Tickets per " (interval_name) " and people reached" }
            desc id={(id) "-desc"} { (description) }
            @for tick in ticks(ticket_max) {
                line.grid x1=(n(LEFT)) x2=(n(LEFT + plot_w)) y1=(n(y(tick, ticket_max))) y2=(n(y(tick, ticket_max))) {}
                text x=(n(LEFT - 6.0)) y=(n(y(tick, ticket_max) + 4.0)) text-anchor="end" { (tick_label(tick)) }
            }
            @for tick in ticks(learner_max) {
                text x=(n(LEFT + plot_w + 6.0)) y=(n(y(tick, learner_max) + 4.0)) { (tick_label(tick)) }
            }
            @for (i, point) in intervals.iter().enumerate() {
                rect.bar x=(n(LEFT + i as f64 * band + band * 0.15)) y=(n(y(point.tickets as f64, ticket_max)))
                    width=(n(band * 0.7)) height=(n(point.tickets as f64 / ticket_max * plot_h)) {}
                @if i % label_every == 0 {
                    text x=(n(LEFT + (i as f64 + 0.5) * band)) y=(n(TOP + plot_h + 16.0)) text-anchor="middle" {
                        (point.start.get(5..).unwrap_or(&point.start))
                    }
                }
            }
            polyline.line points=(line.join(" ")) {}
            @if let Some(x) = launch_x {
                line.launch x1=(n(x)) x2=(n(x)) y1=(n(TOP - 8.0)) y2=(n(TOP + plot_h)) {}
                text x=(n(x + 4.0)) y=(n(TOP - 12.0)) { "launch " (launch) }
                line.target x1=(n(x)) x2=(n(LEFT + plot_w)) y1=(n(y(target_per_interval, ticket_max)))
                    y2=(n(y(target_per_interval, ticket_max))) {}
                text x=(n(LEFT + plot_w - 4.0)) y=(n(y(target_per_interval, ticket_max) - 6.0)) text-anchor="end" {
                    "target " (format::rate(target_per_interval))
                }
            }
            line.axis x1=(n(LEFT)) x2=(n(LEFT + plot_w)) y1=(n(TOP + plot_h)) y2=(n(TOP + plot_h)) {}
            text x=(n(LEFT - 44.0)) y=(n(TOP - 12.0)) { "tickets" }
            text x=(n(LEFT + plot_w + 6.0)) y=(n(TOP - 12.0)) { "people" }
            g.legend transform={"translate(" (n(LEFT)) "," (n(HEIGHT - 14.0)) ")"} {
                rect.bar x="0" y="-10" width="12" height="12" {}
                text x="16" y="0" { "tickets per " (interval_name) }
                line.line x1="150" x2="170" y1="-4" y2="-4" {}
                text x="176" y="0" { "people reached (total)" }
                line.target x1="340" x2="360" y1="-4" y2="-4" {}
                text x="366" y="0" { "target" }
                line.launch x1="420" x2="420" y1="-12" y2="2" {}
                text x="426" y="0" { "launch" }
            }
        }
    }
}

/// Where the largest drop of a video is, for [`drop_off`]: shares of the video, the share
/// of viewers lost, and how the page names the place (`2:31–2:46`).
#[derive(Clone, Debug)]
pub struct DropMark {
    pub from: f64,
    pub to: f64,
    pub lost: f64,
    pub place: String,
}

/// The share of viewers still watching at each tenth of a video (11 points, 0% to 100%),
/// with the largest drop marked where it is (to 1% of the video).
pub fn drop_off(id: &str, still_watching: &[f64], mark: Option<&DropMark>) -> Markup {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let steps = still_watching.len().saturating_sub(1).max(1) as f64;
    let x = |i: f64| LEFT + i / steps * plot_w;
    let at_share = |share: f64| LEFT + share.clamp(0.0, 1.0) * plot_w;
    let y = |share: f64| TOP + plot_h - share.clamp(0.0, 1.0) * plot_h;
    let points: Vec<String> =
        still_watching.iter().enumerate().map(|(i, s)| format!("{},{}", n(x(i as f64)), n(y(*s)))).collect();
    let area = format!("{},{} {} {},{}", n(x(0.0)), n(y(0.0)), points.join(" "), n(x(steps)), n(y(0.0)));
    let description = match mark {
        Some(mark) => format!(
            "Viewers still watching fall from {} at the start to {} at the end. The largest drop, {} of viewers, \
             is at {} ({} to {} of the video).",
            format::pct(still_watching.first().copied().unwrap_or(0.0)),
            format::pct(still_watching.last().copied().unwrap_or(0.0)),
            format::pct(mark.lost),
            mark.place,
            format::pct(mark.from),
            format::pct(mark.to),
        ),
        None => "No viewer left the video early.".to_string(),
    };
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (HEIGHT)} width=(WIDTH) height=(HEIGHT) role="img"
            aria-labelledby={(id) "-title " (id) "-desc"} {
            title id={(id) "-title"} { "Viewers still watching, by position in the video" }
            desc id={(id) "-desc"} { (description) }
            @for tick in ticks(1.0) {
                line.grid x1=(n(LEFT)) x2=(n(LEFT + plot_w)) y1=(n(y(tick))) y2=(n(y(tick))) {}
                text x=(n(LEFT - 6.0)) y=(n(y(tick) + 4.0)) text-anchor="end" { (format::pct(tick)) }
            }
            @if let Some(mark) = mark {
                // At least 2 px wide, so a drop within one percent stays visible.
                rect.drop x=(n(at_share(mark.from))) y=(n(TOP)) width=(n((at_share(mark.to) - at_share(mark.from)).max(2.0))) height=(n(plot_h)) {}
                text x=(n((at_share(mark.from) + at_share(mark.to)) / 2.0)) y=(n(TOP - 10.0)) text-anchor="middle" {
                    "largest drop: " (format::pct(mark.lost)) " at " (mark.place)
                }
            }
            polygon.area points=(area) {}
            polyline.curve points=(points.join(" ")) {}
            @for (i, _) in still_watching.iter().enumerate() {
                text x=(n(x(i as f64))) y=(n(TOP + plot_h + 16.0)) text-anchor="middle" { (format::pct(i as f64 / steps)) }
            }
            line.axis x1=(n(LEFT)) x2=(n(LEFT + plot_w)) y1=(n(TOP + plot_h)) y2=(n(TOP + plot_h)) {}
            text x=(n(LEFT + plot_w / 2.0)) y=(n(HEIGHT - 8.0)) text-anchor="middle" { "position in the video" }
        }
    }
}

/// One bar of a comparison.
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    /// The value as the page writes it.
    pub text: String,
    /// The CSS class of the bar (`bar` or `bar-alt`).
    pub class: &'static str,
}

/// Horizontal bars side by side (missing values are drawn as "no data").
pub fn bars(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let row = 44.0;
    let height = TOP + row * bars.len() as f64 + 12.0;
    let label_w = 230.0;
    let plot_w = WIDTH - label_w - RIGHT - 40.0;
    let max = nice_max(bars.iter().filter_map(|b| b.value).fold(0.0, f64::max));
    let description: Vec<String> = bars.iter().map(|b| format!("{}: {}", b.label, b.text)).collect();
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (n(height))} width=(WIDTH) height=(n(height)) role="img"
            aria-labelledby={(id) "-title " (id) "-desc"} {
            title id={(id) "-title"} { (title) }
            desc id={(id) "-desc"} { (description.join("; ")) "." }
            @for (i, bar) in bars.iter().enumerate() {
                @let top = TOP + i as f64 * row;
                text x=(n(label_w - 8.0)) y=(n(top + 18.0)) text-anchor="end" { (bar.label) }
                @if let Some(value) = bar.value {
                    rect class=(bar.class) x=(n(label_w)) y=(n(top + 4.0)) width=(n((value / max * plot_w).max(1.0))) height="22" {}
                    text x=(n(label_w + (value / max * plot_w).max(1.0) + 6.0)) y=(n(top + 20.0)) { (bar.text) }
                } @else {
                    text x=(n(label_w)) y=(n(top + 20.0)) { "no data" }
                }
            }
            line.axis x1=(n(label_w)) x2=(n(label_w)) y1=(n(TOP - 4.0)) y2=(n(TOP + row * bars.len() as f64)) {}
        }
    }
}

/// A mean on a scale from `min` to `max` (a survey's scaled score, -1 to 1).
pub fn scale(id: &str, title: &str, mean: Option<f64>, min: f64, max: f64, responses: u64) -> Markup {
    let height = 90.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |v: f64| LEFT + (v.clamp(min, max) - min) / (max - min) * plot_w;
    let axis_y = 50.0;
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (height)} width=(WIDTH) height=(height) role="img"
            aria-labelledby={(id) "-title " (id) "-desc"} {
            title id={(id) "-title"} { (title) }
            desc id={(id) "-desc"} {
                (responses) " responses; mean " (format::score(mean)) " on a scale from " (min) " to " (max) "."
            }
            line.axis x1=(n(LEFT)) x2=(n(LEFT + plot_w)) y1=(n(axis_y)) y2=(n(axis_y)) {}
            @for i in 0..=4 {
                @let v = min + (max - min) * i as f64 / 4.0;
                line.axis x1=(n(x(v))) x2=(n(x(v))) y1=(n(axis_y - 5.0)) y2=(n(axis_y + 5.0)) {}
                text x=(n(x(v))) y=(n(axis_y + 22.0)) text-anchor="middle" { (format!("{v:+.1}")) }
            }
            @if let Some(mean) = mean {
                circle.dot cx=(n(x(mean))) cy=(n(axis_y)) r="8" {}
                text x=(n(x(mean))) y=(n(axis_y - 16.0)) text-anchor="middle" { "mean " (format::score(Some(mean))) }
            }
        }
    }
}

/// A small line of a series, for a table row: values are scaled to the row's own maximum.
pub fn sparkline(label: &str, values: &[f64]) -> Markup {
    let (w, h) = (120.0, 28.0);
    let max = values.iter().copied().fold(0.0, f64::max).max(1e-9);
    let step = if values.len() > 1 { w / (values.len() - 1) as f64 } else { 0.0 };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{},{}", n(i as f64 * step), n(h - 2.0 - v / max * (h - 4.0))))
        .collect();
    let words: Vec<String> = values.iter().map(|v| tick_label(*v)).collect();
    html! {
        svg.sparkline viewBox={"0 0 " (w) " " (h)} width=(w) height=(h) role="img"
            aria-label={(label) ": " (words.join(", "))} {
            @if values.len() == 1 {
                circle.dot cx="2" cy=(n(h / 2.0)) r="2" {}
            } @else {
                polyline.spark points=(points.join(" ")) {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(23.0), 25.0);
        assert_eq!(nice_max(0.37), 0.5);
        assert_eq!(nice_max(180.0), 200.0);
    }

    #[test]
    fn the_largest_drop_is_marked_where_it_is() {
        let curve = [1.0, 0.95, 0.9, 0.85, 0.3, 0.28, 0.26, 0.24, 0.22, 0.2, 0.1];
        let mark = DropMark { from: 0.37, to: 0.41, lost: 0.55, place: "1:08–1:15".into() };
        let svg = drop_off("v", &curve, Some(&mark)).into_string();
        assert!(svg.contains("largest drop: 55% at 1:08–1:15"), "{svg}");
        assert!(svg.contains("(37% to 41% of the video)"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 1, "{svg}");
        let none = drop_off("v", &curve, None).into_string();
        assert!(none.contains("No viewer left the video early."), "{none}");
    }

    #[test]
    fn labels_in_charts_are_escaped() {
        let bars = [Bar {
            label: "<script>alert(1)</script>".into(),
            value: Some(1.0),
            text: "1".into(),
            class: "bar",
        }];
        let svg = super::bars("b", "t", &bars).into_string();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        let spark = sparkline("\"><script>", &[1.0, 2.0]).into_string();
        assert!(!spark.contains("<script>"), "{spark}");
    }

    #[test]
    fn the_launch_and_target_lines_appear_when_the_launch_is_in_the_series() {
        let intervals: Vec<Interval> = ["2025-02-03", "2025-02-10", "2025-03-03", "2025-03-10"]
            .iter()
            .enumerate()
            .map(|(i, s)| Interval { start: s.to_string(), tickets: 10 - i as u64, learners: i as u64 * 5 })
            .collect();
        let svg = tickets_and_learners("t", &intervals, "2025-03-03", 6.0, "week").into_string();
        assert!(svg.contains("launch 2025-03-03"), "{svg}");
        assert!(svg.contains("target 6.0"), "{svg}");
        assert_eq!(
            svg.matches("<rect class=\"bar\"").count(),
            4 + 1,
            "a bar per week and the legend's: {svg}"
        );
    }
}
