//! How numbers and links are written on the pages. Shares are whole percentages and rates
//! one decimal, as the report's own diagnosis words them, so a page and the JSON it
//! came from can be compared by rounding the JSON the same way.

/// A share (0..=1) as a whole percentage: `0.183` → `18%`.
pub fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// An optional share, or a dash.
pub fn pct_or_dash(share: Option<f64>) -> String {
    share.map_or_else(dash, pct)
}

/// A change in percent with its sign: `-34.2` → `-34%`.
pub fn signed_pct(change_pct: Option<f64>) -> String {
    change_pct.map_or_else(dash, |c| format!("{c:+.0}%"))
}

/// A rate (tickets per week, per person-week) with one decimal.
pub fn rate(value: f64) -> String {
    format!("{value:.1}")
}

/// An optional rate with two decimals (per person-week rates are small), or a dash.
pub fn small_rate(value: Option<f64>) -> String {
    value.map_or_else(dash, |v| format!("{v:.2}"))
}

/// A scaled score (-1..=1) with two decimals, or a dash.
pub fn score(value: Option<f64>) -> String {
    value.map_or_else(dash, |v| format!("{v:+.2}"))
}

fn dash() -> String {
    "—".into()
}

/// A value for a URL query string, percent-encoded.
pub fn query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A value for one segment of a URL path: everything but unreserved characters
/// (RFC 3986 §2.3) percent-encoded.
pub fn path_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string from the pairs whose value is not empty (`a=1&b=x%20y`).
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(name, value);
    }
    out.finish()
}

/// A path with its query string, or the path alone when the query is empty.
pub fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() { path.to_string() } else { format!("{path}?{query}") }
}

/// An instant in microseconds as `2025-03-03 09:15 UTC`.
pub fn micros(at: i64) -> String {
    jiff::Timestamp::from_microsecond(at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_rates_and_changes_round_as_the_diagnosis_does() {
        assert_eq!(pct(0.183), "18%");
        assert_eq!(pct(1.0), "100%");
        assert_eq!(signed_pct(Some(-34.2)), "-34%");
        assert_eq!(signed_pct(Some(5.0)), "+5%");
        assert_eq!(signed_pct(None), "—");
        assert_eq!(rate(12.25), "12.2");
        assert_eq!(score(Some(0.5)), "+0.50");
    }

    #[test]
    fn queries_leave_out_empty_values_and_encode_the_rest() {
        assert_eq!(
            query(&[("verb", "http://x.y/z?a&b"), ("agent", "")]),
            "verb=http%3A%2F%2Fx.y%2Fz%3Fa%26b"
        );
        assert_eq!(with_query("/ui/content", ""), "/ui/content");
        assert_eq!(path_segment("install/1 a"), "install%2F1%20a");
        assert_eq!(micros(0), "1970-01-01 00:00 UTC");
    }
}
