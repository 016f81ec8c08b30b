//! The statistics behind the report: ratios of two Poisson rates with their 95% intervals.
//!
//! A rate is events per unit of exposure time (tickets per person-week). The ratio of two
//! rates comes with one of two intervals, and says which:
//!
//! - **exact conditional** when either arm has fewer than [`LOG_NORMAL_MIN_EVENTS`] events:
//!   given the total `n = a + b`, the events of the first arm are binomial with
//!   `p = r·T₁ / (r·T₁ + T₀)` for the rate ratio `r`, so the Clopper–Pearson interval of `p`
//!   maps to an interval of `r = p / (1 − p) · T₀ / T₁`. It never covers less than 95%
//!   for Poisson counts.
//! - **log-normal** otherwise: `ln r ± 1.96·√V`. `V` is the Poisson variance
//!   `1/a + 1/b`, or, when the events come from people who differ in how often they file
//!   (a few admins file most tickets), the larger person-clustered (sandwich) variance of
//!   the two rates' log-linear model, so heterogeneity between people widens the interval
//!   instead of making it too narrow.

use serde::Serialize;
use statrs::function::beta::inv_beta_reg;

/// Both arms need at least this many events for the log-normal interval.
pub const LOG_NORMAL_MIN_EVENTS: u64 = 20;

/// The standard normal quantile of 97.5%.
const Z_975: f64 = 1.959_963_984_540_054;

/// Events over exposure time in one arm.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Arm {
    pub events: u64,
    /// Exposure time in the unit rates are given in (person-weeks).
    pub time: f64,
}

impl Arm {
    pub fn rate(self) -> Option<f64> {
        (self.time > 0.0).then(|| self.events as f64 / self.time)
    }
}

/// One person's part in both arms, for the person-clustered variance.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PersonArms {
    pub first: Arm,
    pub second: Arm,
}

/// Which interval a ratio comes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    ExactConditional,
    LogNormal,
}

/// A rate ratio (first arm's rate over the second's) with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateRatio {
    pub ratio: f64,
    pub ci95: [f64; 2],
    pub method: IntervalMethod,
}

/// The ratio of `first`'s rate to `second`'s with its 95% interval; `None` when either arm
/// has no exposure time or `second` has no events (the ratio is unbounded). `people`, when
/// not empty, are the arms split by person (they must add up to `first` and `second`).
pub fn rate_ratio(first: Arm, second: Arm, people: &[PersonArms]) -> Option<RateRatio> {
    let (r1, r0) = (first.rate()?, second.rate()?);
    if second.events == 0 {
        return None;
    }
    let ratio = r1 / r0;
    let (a, b) = (first.events, second.events);
    if a < LOG_NORMAL_MIN_EVENTS || b < LOG_NORMAL_MIN_EVENTS {
        let ci95 = exact_conditional(a, b, first.time, second.time);
        return Some(RateRatio { ratio, ci95, method: IntervalMethod::ExactConditional });
    }
    let poisson = 1.0 / a as f64 + 1.0 / b as f64;
    let variance = poisson.max(clustered_variance(people, r1, r0, a, b).unwrap_or(0.0));
    let half = Z_975 * variance.sqrt();
    let ci95 = [(ratio.ln() - half).exp(), (ratio.ln() + half).exp()];
    Some(RateRatio { ratio, ci95, method: IntervalMethod::LogNormal })
}

/// The Clopper–Pearson interval of the binomial share `a / (a + b)`, mapped to rate ratios.
fn exact_conditional(a: u64, b: u64, t1: f64, t0: f64) -> [f64; 2] {
    let (af, bf) = (a as f64, b as f64);
    let p_low = if a == 0 { 0.0 } else { inv_beta_reg(af, bf + 1.0, 0.025) };
    let p_high = if b == 0 { 1.0 } else { inv_beta_reg(af + 1.0, bf, 0.975) };
    let to_ratio = |p: f64| p / (1.0 - p) * t0 / t1;
    [to_ratio(p_low), to_ratio(p_high)]
}

/// The sandwich variance of `ln r1 − ln r0` with people as clusters (a person may be in
/// both arms: time before and after their first touch), with the small-sample factor
/// `n / (n − 1)`. `None` with fewer than two people.
fn clustered_variance(people: &[PersonArms], r1: f64, r0: f64, a: u64, b: u64) -> Option<f64> {
    let n = people.len();
    if n < 2 {
        return None;
    }
    let (mut s11, mut s00, mut s10) = (0.0, 0.0, 0.0);
    for p in people {
        let e1 = p.first.events as f64 - r1 * p.first.time;
        let e0 = p.second.events as f64 - r0 * p.second.time;
        s11 += e1 * e1;
        s00 += e0 * e0;
        s10 += e1 * e0;
    }
    let (a, b) = (a as f64, b as f64);
    let variance = s11 / (a * a) + s00 / (b * b) - 2.0 * s10 / (a * b);
    Some(variance * n as f64 / (n as f64 - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(events: u64, time: f64) -> Arm {
        Arm { events, time }
    }

    #[test]
    fn small_counts_get_the_exact_conditional_interval() {
        // 2 events in 100 weeks against 10 in 100: ratio 0.2. The Clopper–Pearson bounds of
        // 2/12 are 0.02086 and 0.48414 (R: binom.test(2, 12)$conf.int).
        let r = rate_ratio(arm(2, 100.0), arm(10, 100.0), &[]).unwrap();
        assert_eq!(r.method, IntervalMethod::ExactConditional);
        assert!((r.ratio - 0.2).abs() < 1e-12);
        let (lo, hi) = (0.020_861_3_f64, 0.484_138_5_f64);
        assert!((r.ci95[0] - lo / (1.0 - lo)).abs() < 1e-5, "{:?}", r.ci95);
        assert!((r.ci95[1] - hi / (1.0 - hi)).abs() < 1e-5, "{:?}", r.ci95);
    }

    #[test]
    fn no_events_in_the_first_arm_still_bounds_the_ratio_above() {
        let r = rate_ratio(arm(0, 50.0), arm(30, 50.0), &[]).unwrap();
        assert_eq!(r.ratio, 0.0);
        assert_eq!(r.ci95[0], 0.0);
        assert!(r.ci95[1] > 0.0 && r.ci95[1] < 0.2, "{:?}", r.ci95);
    }

    #[test]
    fn large_counts_get_the_log_normal_interval() {
        let r = rate_ratio(arm(100, 200.0), arm(400, 400.0), &[]).unwrap();
        assert_eq!(r.method, IntervalMethod::LogNormal);
        let half = Z_975 * (1.0f64 / 100.0 + 1.0 / 400.0).sqrt();
        assert!((r.ci95[0] - (0.5f64.ln() - half).exp()).abs() < 1e-12);
        assert!((r.ci95[1] - (0.5f64.ln() + half).exp()).abs() < 1e-12);
    }

    #[test]
    fn people_who_differ_widen_the_interval_and_equal_people_do_not() {
        // 40 people with the same rate in both arms: the clustered variance is near the
        // Poisson one, and never replaces it when smaller.
        let even: Vec<PersonArms> =
            (0..40).map(|_| PersonArms { first: arm(1, 2.0), second: arm(2, 2.0) }).collect();
        let plain = rate_ratio(arm(40, 80.0), arm(80, 80.0), &[]).unwrap();
        let clustered = rate_ratio(arm(40, 80.0), arm(80, 80.0), &even).unwrap();
        assert_eq!(plain.ci95, clustered.ci95);
        // People who file at the same relative rate in both arms add nothing either: the
        // ratio within each of them is the same.
        let mut proportional = vec![PersonArms { first: arm(0, 2.0), second: arm(0, 2.0) }; 36];
        proportional.extend((0..4).map(|_| PersonArms { first: arm(10, 2.0), second: arm(20, 2.0) }));
        assert_eq!(rate_ratio(arm(40, 80.0), arm(80, 80.0), &proportional).unwrap().ci95, plain.ci95);
        // Two heavy filers make all of one arm's tickets: much wider than Poisson counting.
        let mut uneven = vec![PersonArms { first: arm(20, 2.0), second: Arm::default() }; 2];
        uneven.extend(vec![PersonArms { first: arm(0, 2.0), second: Arm::default() }; 18]);
        uneven.extend(vec![PersonArms { first: Arm::default(), second: arm(4, 2.0) }; 20]);
        let plain = rate_ratio(arm(40, 40.0), arm(80, 40.0), &[]).unwrap();
        let wide = rate_ratio(arm(40, 40.0), arm(80, 40.0), &uneven).unwrap();
        assert!(wide.ci95[0] < plain.ci95[0] && wide.ci95[1] > plain.ci95[1], "{wide:?} {plain:?}");
    }

    #[test]
    fn no_ratio_without_time_or_without_events_to_compare_with() {
        assert!(rate_ratio(arm(3, 0.0), arm(3, 10.0), &[]).is_none());
        assert!(rate_ratio(arm(3, 10.0), arm(0, 10.0), &[]).is_none());
    }
}
