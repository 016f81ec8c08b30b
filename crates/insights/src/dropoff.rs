//! Where viewers leave a video, to 1% of its length: from each viewer's played segments
//! (placed on the video by its length), the share of viewers still watching at every
//! percent, and the stretch where the most of them leave.

use serde::Serialize;

use crate::rollup::parse_segments;

/// Players report positions rounded (0.399 for 40%): a point this close to a watched
/// segment counts as watched.
const TOLERANCE: f64 = 0.005;

/// The largest drop is looked for over stretches of this many percent (a tenth of the
/// video, as `max_video_drop` is defined), then narrowed.
const STRETCH: usize = 10;

/// A percent step at either end of the stretch losing fewer viewers than this is not part
/// of the drop.
const NEGLIGIBLE_STEP: f64 = 0.01;

/// One viewer's watching of one video, as the rollups keep it.
pub struct Viewing<'a> {
    /// Played segments in seconds, `start[.]end[,]…`.
    pub segments: &'a str,
    /// The video's length in seconds, when known.
    pub length: Option<f64>,
    /// The furthest share of the video reached (used when segments cannot be placed).
    pub best_progress: f64,
}

impl Viewing<'_> {
    /// The watched stretches as shares of the video: the played segments when the length
    /// is known, else everything up to the furthest point reached.
    fn watched(&self) -> Vec<(f64, f64)> {
        match self.length.filter(|l| *l > 0.0) {
            Some(length) => {
                let segments = parse_segments(self.segments);
                if segments.is_empty() {
                    return vec![(0.0, self.best_progress)];
                }
                segments.into_iter().map(|(a, b)| (a / length, b / length)).collect()
            }
            None => vec![(0.0, self.best_progress)],
        }
    }
}

/// The share of viewers who watched each percent of the video (index 0 to 100).
pub fn still_watching(viewings: &[Viewing<'_>]) -> Vec<f64> {
    let mut watching = vec![0u64; 101];
    for viewing in viewings {
        let watched = viewing.watched();
        for (k, count) in watching.iter_mut().enumerate() {
            let at = k as f64 / 100.0;
            if watched.iter().any(|(a, b)| at >= a - TOLERANCE && at <= b + TOLERANCE) {
                *count += 1;
            }
        }
    }
    let viewers = viewings.len().max(1) as f64;
    watching.into_iter().map(|n| n as f64 / viewers).collect()
}

/// Where the most viewers leave a video.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LargestDrop {
    pub activity_id: String,
    /// Where the drop starts and ends, as shares of the video (to 1%).
    pub from: f64,
    pub to: f64,
    /// The same in seconds, when the video's length is known.
    pub from_s: Option<f64>,
    pub to_s: Option<f64>,
    /// The share of viewers still watching at `from` who are gone by `to`… as a share of
    /// all viewers.
    pub lost: f64,
    pub viewers: u64,
}

impl LargestDrop {
    /// Where it is in words: "2:31–2:46 (41–45%)", or "41–45%" without the video's length.
    pub fn place(&self) -> String {
        let shares = format!("{:.0}–{:.0}%", self.from * 100.0, self.to * 100.0);
        match (self.from_s, self.to_s) {
            (Some(from), Some(to)) => format!("{}–{} ({shares})", minutes_seconds(from), minutes_seconds(to)),
            _ => shares,
        }
    }
}

/// The stretch of at most a tenth of the video over which the most viewers leave,
/// narrowed at both ends to the percents that lose viewers: `(from, to)` in percent
/// indices, or `None` when nobody leaves.
pub fn largest_drop(curve: &[f64]) -> Option<(usize, usize)> {
    let last = curve.len().checked_sub(1)?;
    let stretch = STRETCH.min(last);
    let (mut best, mut best_loss) = (0, 0.0);
    for start in 0..=last - stretch {
        let loss = curve[start] - curve[start + stretch];
        if loss > best_loss + 1e-12 {
            (best, best_loss) = (start, loss);
        }
    }
    if best_loss <= 0.0 {
        return None;
    }
    let (mut from, mut to) = (best, best + stretch);
    while from < to && curve[from] - curve[from + 1] < NEGLIGIBLE_STEP {
        from += 1;
    }
    while to > from && curve[to - 1] - curve[to] < NEGLIGIBLE_STEP {
        to -= 1;
    }
    if from == to {
        // Every step is small: keep the whole stretch.
        (from, to) = (best, best + stretch);
    }
    Some((from, to))
}

/// The largest drop of one video's viewings.
pub fn of_video(activity_id: &str, viewings: &[Viewing<'_>]) -> Option<LargestDrop> {
    let curve = still_watching(viewings);
    let (from, to) = largest_drop(&curve)?;
    let length = viewings.iter().filter_map(|v| v.length).reduce(f64::max);
    let share = |k: usize| k as f64 / 100.0;
    Some(LargestDrop {
        activity_id: activity_id.to_string(),
        from: share(from),
        to: share(to),
        from_s: length.map(|l| (share(from) * l * 10.0).round() / 10.0),
        to_s: length.map(|l| (share(to) * l * 10.0).round() / 10.0),
        lost: curve[from] - curve[to],
        viewers: viewings.len() as u64,
    })
}

/// Seconds as `m:ss`.
pub fn minutes_seconds(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    format!("{}:{:02}", total / 60, total % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewing(segments: &str) -> Viewing<'_> {
        Viewing { segments, length: Some(200.0), best_progress: 0.0 }
    }

    #[test]
    fn the_drop_is_found_to_the_percent_from_played_segments() {
        // 10 viewers: 6 stop at 41% (82 s), 4 watch to the end, one of them skipping
        // ahead over 20–30% (which is not watching it).
        let mut viewings: Vec<Viewing<'_>> = (0..6).map(|_| viewing("0[.]82")).collect();
        viewings.extend((0..3).map(|_| viewing("0[.]200")));
        viewings.push(viewing("0[.]40[,]60[.]200"));
        let curve = still_watching(&viewings);
        assert_eq!(curve[0], 1.0);
        assert!((curve[25] - 0.9).abs() < 1e-9, "the skipper did not watch 25%");
        assert!((curve[41] - 1.0).abs() < 1e-9 && (curve[42] - 0.4).abs() < 1e-9, "{curve:?}");
        let drop = of_video("v", &viewings).unwrap();
        assert_eq!((drop.from, drop.to), (0.41, 0.42));
        assert_eq!((drop.from_s, drop.to_s), (Some(82.0), Some(84.0)));
        assert!((drop.lost - 0.6).abs() < 1e-9);
        assert_eq!(drop.place(), "1:22–1:24 (41–42%)");
    }

    #[test]
    fn viewers_leaving_over_a_few_percent_make_one_drop_across_them() {
        // Stops spread over 38–42%: the drop covers that stretch.
        let stops = ["0[.]76", "0[.]78", "0[.]80", "0[.]82", "0[.]84", "0[.]200"];
        let viewings: Vec<Viewing<'_>> = stops.iter().map(|s| viewing(s)).collect();
        let drop = of_video("v", &viewings).unwrap();
        assert_eq!((drop.from, drop.to), (0.38, 0.43), "{drop:?}");
        assert!((drop.lost - 5.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn without_a_length_the_furthest_point_places_the_viewer() {
        let viewings: Vec<Viewing<'_>> = [0.5, 0.5, 1.0]
            .iter()
            .map(|p| Viewing { segments: "", length: None, best_progress: *p })
            .collect();
        let drop = of_video("v", &viewings).unwrap();
        assert_eq!((drop.from, drop.to, drop.from_s), (0.5, 0.51, None));
    }

    #[test]
    fn nobody_leaving_is_no_drop() {
        let viewings: Vec<Viewing<'_>> = (0..3).map(|_| viewing("0[.]200")).collect();
        assert_eq!(of_video("v", &viewings), None);
    }
}
