//! Language tags (RFC 5646) and `Accept-Language` preferences for `format=canonical`.

use serde_json::{Map, Value};

/// Whether `tag` is a well-formed RFC 5646 language tag (xAPI 1.0.3 Data §2.2: the LRS MUST
/// at least validate the sequence of token lengths of language map keys).
///
/// Checks the RFC 5646 §2.1 grammar (language, extlangs, script, region, variants,
/// extensions, private use, and the grandfathered tags), case-insensitively, plus the two
/// §2.2.5/§2.2.6 rules a parser can check without the registry: no variant and no extension
/// singleton may appear twice (the ADL suite rejects `zh-z-aaa-z-bbb-c-ccc`). Subtags are
/// not looked up in the IANA registry. Allocation-free.
pub fn is_valid_language_tag(tag: &str) -> bool {
    if tag.is_empty() || !tag.is_ascii() {
        return false;
    }
    if GRANDFATHERED.iter().any(|g| g.eq_ignore_ascii_case(tag)) {
        return true;
    }
    let mut subtags = tag.split('-').peekable();
    let Some(language) = subtags.next() else {
        return false;
    };
    if language.eq_ignore_ascii_case("x") {
        return private_use(subtags);
    }
    if !(2..=8).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    // Where we are in `language [-extlang] [-script] [-region] *(-variant) *(-extension)`.
    #[derive(PartialEq, PartialOrd)]
    enum Stage {
        Language,
        Script,
        Region,
        Variants,
        Extensions,
    }
    let mut stage = Stage::Language;
    let mut extlangs = 0;
    let mut singletons = 0u64;
    while let Some(subtag) = subtags.next() {
        let len = subtag.len();
        if !(1..=8).contains(&len) || !subtag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        let alpha = subtag.bytes().all(|b| b.is_ascii_alphabetic());
        let digits = subtag.bytes().all(|b| b.is_ascii_digit());
        if stage == Stage::Language && len == 3 && alpha && language.len() <= 3 && extlangs < 3 {
            extlangs += 1;
        } else if stage < Stage::Script && len == 4 && alpha {
            stage = Stage::Script;
        } else if stage < Stage::Region && ((len == 2 && alpha) || (len == 3 && digits)) {
            stage = Stage::Region;
        } else if stage <= Stage::Variants
            && (len >= 5 || (len == 4 && subtag.as_bytes()[0].is_ascii_digit()))
        {
            let repeated = tag
                .split('-')
                .take_while(|t| !std::ptr::eq(*t, subtag))
                .any(|t| t.eq_ignore_ascii_case(subtag));
            if repeated {
                return false;
            }
            stage = Stage::Variants;
        } else if len == 1 {
            let singleton = subtag.as_bytes()[0].to_ascii_lowercase();
            if singleton == b'x' {
                return private_use(subtags);
            }
            let bit =
                1u64 << if singleton.is_ascii_digit() { singleton - b'0' } else { singleton - b'a' + 10 };
            if singletons & bit != 0 {
                return false;
            }
            singletons |= bit;
            // An extension has at least one subtag of 2 to 8 characters.
            let mut parts = 0;
            while subtags.peek().is_some_and(|t| t.len() >= 2) {
                let part = subtags.next().unwrap_or_default();
                if part.len() > 8 || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return false;
                }
                parts += 1;
            }
            if parts == 0 {
                return false;
            }
            stage = Stage::Extensions;
        } else {
            return false;
        }
    }
    true
}

/// The rest of a private-use sequence after `x`: one or more subtags of 1 to 8 characters.
fn private_use<'a>(subtags: impl Iterator<Item = &'a str>) -> bool {
    let mut count = 0;
    for subtag in subtags {
        if !(1..=8).contains(&subtag.len()) || !subtag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        count += 1;
    }
    count > 0
}

/// RFC 5646 §2.1 grandfathered tags (irregular and regular).
const GRANDFATHERED: [&str; 26] = [
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// A reader's language preferences, from `Accept-Language`, best first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LanguagePreferences {
    ranges: Vec<String>,
}

/// Entries tried, in this order, when none of the reader's ranges matches a language map
/// (or the reader sent no `Accept-Language`): English is the most widely read fallback, and
/// after that the first entry as the statement's author wrote it.
const FALLBACK_TAGS: [&str; 2] = ["en-us", "en"];

impl LanguagePreferences {
    /// Parses an `Accept-Language` header (`da, en-gb;q=0.8, en;q=0.7`). Ranges with `q=0`
    /// ("not acceptable") are dropped; equal weights keep the header's order.
    pub fn from_header(header: &str) -> Self {
        let mut weighted: Vec<(f32, usize, String)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut pieces = part.split(';');
                let range = pieces.next()?.trim();
                if range.is_empty() {
                    return None;
                }
                let q = pieces
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then(|| (q, i, range.to_ascii_lowercase()))
            })
            .collect();
        weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        LanguagePreferences { ranges: weighted.into_iter().map(|(_, _, r)| r).collect() }
    }

    /// The language ranges, best first, lowercased.
    pub fn ranges(&self) -> &[String] {
        &self.ranges
    }

    /// The key of the language map entry this reader should see, `None` only for an empty
    /// map.
    ///
    /// Each range is tried in preference order (xAPI 1.0.3 Communication §2.1.3 applies
    /// `Accept-Language` to each map on its own): an exact match, then a tag the range is a
    /// prefix of (`en` matches `en-GB`, RFC 2616 §14.4), then the range shortened subtag by
    /// subtag (`en-GB-oed` → `en-GB` → `en`, RFC 4647 §3.4 lookup); `*` takes the first
    /// entry. When nothing matches, `en-US`, `en`, any `en-*`, then the first entry.
    pub fn best_key<'m>(&self, map: &'m Map<String, Value>) -> Option<&'m str> {
        let first = map.keys().next()?;
        let find = |pred: &dyn Fn(&str) -> bool| map.keys().find(|k| pred(k)).map(String::as_str);
        for range in &self.ranges {
            if range == "*" {
                return Some(first);
            }
            if let Some(key) = find(&|k| k.eq_ignore_ascii_case(range)) {
                return Some(key);
            }
            if let Some(key) = find(&|k| has_prefix_subtags(k, range)) {
                return Some(key);
            }
            let mut shorter = range.as_str();
            while let Some(cut) = shorter.rfind('-') {
                shorter = &shorter[..cut];
                // A single-letter subtag (an extension singleton) is never left at the end.
                if shorter.len() >= 2 && shorter.as_bytes()[shorter.len() - 2] == b'-' {
                    continue;
                }
                if let Some(key) = find(&|k| k.eq_ignore_ascii_case(shorter)) {
                    return Some(key);
                }
            }
        }
        FALLBACK_TAGS
            .iter()
            .find_map(|tag| find(&|k| k.eq_ignore_ascii_case(tag)))
            .or_else(|| find(&|k| has_prefix_subtags(k, "en")))
            .or(Some(first))
    }

    /// Reduces a language map to the single entry [`best_key`](Self::best_key) picks.
    pub fn reduce(&self, map: &mut Map<String, Value>) {
        if map.len() <= 1 {
            return;
        }
        if let Some(keep) = self.best_key(map).map(str::to_owned) {
            map.retain(|k, _| *k == keep);
        }
    }
}

/// Whether `tag` starts with all the subtags of `range` and has more (`en-GB` for `en`).
fn has_prefix_subtags(tag: &str, range: &str) -> bool {
    tag.len() > range.len()
        && tag.as_bytes()[range.len()] == b'-'
        && tag.get(..range.len()).is_some_and(|head| head.eq_ignore_ascii_case(range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn well_formed_language_tags_are_accepted() {
        for good in [
            "en",
            "en-US",
            "de-DE",
            "zh-Hant",
            "zh-Hans-CN",
            "sr-Latn-RS",
            "cmn",
            "ase",
            "tlh",
            "es-419",
            "de-CH-1901",
            "en-US-x-twain",
            "x-private",
            "i-klingon",
            "en-GB-oed",
            "EN-us",
            "zh-yue-HK",
            "es-005",
            "en-a-bbb-x-a-ccc",
            "en-q-aa-r-bb-z-cc-0-dd",
            "zh-min-nan",
            "sl-rozaj-biske",
            "de-DE-u-co-phonebk",
            "qaa-Qaaa-QM-x-southern",
        ] {
            assert!(is_valid_language_tag(good), "{good}");
        }
    }

    #[test]
    fn malformed_language_tags_are_rejected() {
        for bad in [
            "",
            "something",
            "a12345678",
            "en_US",
            "e",
            "en-",
            "-en",
            "zh-z-aaa-z-bbb-c-ccc",
            "en US",
            "zh-something-ccc",
            "de-1901-1901",
            "en-a",
            "en-a-b",
            "x",
            "x-",
            "en-x",
            "en-x-toolongsubtag",
            "en-US-GB",
            "ab-cde-fgh-ijk-lmn",
            "en-Latn-Latn",
            "ünicode",
        ] {
            assert!(!is_valid_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn accept_language_is_ordered_by_quality_then_position() {
        let prefs = LanguagePreferences::from_header("da, en-GB;q=0.8, en;q=0.7, fr;q=0, de;q=0.8");
        assert_eq!(prefs.ranges(), ["da", "en-gb", "de", "en"]);
        assert!(LanguagePreferences::from_header("").ranges().is_empty());
    }

    #[test]
    fn an_exact_tag_match_wins_case_insensitively() {
        let m = map(json!({"en-US": "a", "en-GB": "b", "fr": "c"}));
        assert_eq!(LanguagePreferences::from_header("en-gb").best_key(&m), Some("en-GB"));
        assert_eq!(LanguagePreferences::from_header("FR, en-GB").best_key(&m), Some("fr"));
    }

    #[test]
    fn a_range_matches_a_longer_tag_it_prefixes() {
        let m = map(json!({"de-DE": "a", "en-GB": "b"}));
        assert_eq!(LanguagePreferences::from_header("en").best_key(&m), Some("en-GB"));
        // "e" is not a prefix of "en-GB" on a subtag boundary.
        let m = map(json!({"de-DE": "a", "es": "b"}));
        assert_eq!(LanguagePreferences::from_header("e").best_key(&m), Some("de-DE"));
    }

    #[test]
    fn a_longer_range_falls_back_to_its_shorter_forms() {
        let m = map(json!({"fr": "a", "en": "b"}));
        assert_eq!(LanguagePreferences::from_header("en-GB-oed").best_key(&m), Some("en"));
        let m = map(json!({"fr": "a", "zh": "b"}));
        assert_eq!(LanguagePreferences::from_header("zh-Hant-x-abc").best_key(&m), Some("zh"));
    }

    #[test]
    fn later_ranges_are_tried_when_earlier_ones_match_nothing() {
        let m = map(json!({"de": "a", "fr-CA": "b"}));
        assert_eq!(LanguagePreferences::from_header("ja, fr;q=0.5").best_key(&m), Some("fr-CA"));
    }

    #[test]
    fn the_wildcard_takes_the_first_entry() {
        let m = map(json!({"de": "a", "en-US": "b"}));
        assert_eq!(LanguagePreferences::from_header("ja, *;q=0.1").best_key(&m), Some("de"));
    }

    #[test]
    fn without_a_match_english_then_the_first_entry_is_used() {
        let m = map(json!({"de": "a", "en-US": "b", "en": "c"}));
        assert_eq!(LanguagePreferences::from_header("ja").best_key(&m), Some("en-US"));
        assert_eq!(LanguagePreferences::default().best_key(&m), Some("en-US"));
        let m = map(json!({"de": "a", "en-AU": "b"}));
        assert_eq!(LanguagePreferences::default().best_key(&m), Some("en-AU"));
        let m = map(json!({"de": "a", "fr": "b"}));
        assert_eq!(LanguagePreferences::from_header("ja").best_key(&m), Some("de"));
        assert_eq!(LanguagePreferences::default().best_key(&Map::new()), None);
    }

    #[test]
    fn reducing_a_map_keeps_only_the_chosen_entry() {
        let mut m = map(json!({"en-US": "color", "en-GB": "colour", "fr": "couleur"}));
        LanguagePreferences::from_header("en-GB").reduce(&mut m);
        assert_eq!(Value::Object(m), json!({"en-GB": "colour"}));
    }
}
