//! Query parameters, parsed once: unknown or repeated names are refused, and each value
//! is checked with an error that names its parameter.

use uuid::Uuid;
use xapi::{AgentKey, Timestamp};

use crate::ApiError;

/// The parameters of one request, checked against the names its resource accepts.
#[derive(Debug)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses a query string. Parameter names are case-sensitive (xAPI 1.0.3
    /// Communication §3.2): anything not in `allowed`, or given twice, is a 400.
    pub fn parse(query: &str, allowed: &[&str]) -> Result<QueryParams, ApiError> {
        QueryParams::parse_repeating(query, allowed, &[])
    }

    /// As [`QueryParams::parse`], except that the names in `repeatable` (also allowed) may
    /// appear any number of times; read them with [`QueryParams::all`].
    pub fn parse_repeating(
        query: &str,
        allowed: &[&str],
        repeatable: &[&str],
    ) -> Result<QueryParams, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) && !repeatable.contains(&name.as_str()) {
                return Err(ApiError::bad_request(name, format!("unknown parameter {name}")));
            }
            if !repeatable.contains(&name.as_str()) && pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::bad_request(name, format!("parameter {name} appears more than once")));
            }
        }
        Ok(QueryParams { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::bad_request(name, format!("the {name} parameter is required")))
    }

    /// An optional `true`/`false` parameter (absent is false), in any letter case: the
    /// Python `tincan` library sends its booleans as `True` and `False`.
    pub fn boolean(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(_) => Err(ApiError::bad_request(name, "must be true or false")),
        }
    }

    pub fn iri(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name).map(|v| iri(v, name)).transpose()
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.get(name).map(|v| uuid(v, name)).transpose()
    }

    pub fn require_uuid(&self, name: &str) -> Result<Uuid, ApiError> {
        uuid(self.require(name)?, name)
    }

    pub fn agent(&self, name: &str) -> Result<Option<AgentKey>, ApiError> {
        self.get(name)
            .map(|v| {
                xapi::parse_agent_param(v)
                    .map_err(|e| ApiError::bad_request(name, format!("{name}: {}", e.message)))
            })
            .transpose()
    }

    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(name).map(|v| timestamp(v, name)).transpose()
    }
}

fn uuid(value: &str, name: &str) -> Result<Uuid, ApiError> {
    // Only the canonical 8-4-4-4-12 form, as in statements.
    let invalid = || ApiError::bad_request(name, "must be a UUID (8-4-4-4-12 hex digits)");
    if !xapi::is_valid_uuid(value) {
        return Err(invalid());
    }
    Uuid::parse_str(value).map_err(|_| invalid())
}

fn iri(value: &str, name: &str) -> Result<String, ApiError> {
    if xapi::is_valid_iri(value) {
        Ok(value.to_string())
    } else {
        Err(ApiError::bad_request(name, "must be an IRI"))
    }
}

fn timestamp(value: &str, name: &str) -> Result<Timestamp, ApiError> {
    // A '+' in an unencoded offset arrives as a space; read it back as the '+' it was.
    Timestamp::parse(value)
        .or_else(|| Timestamp::parse(&value.replace(' ', "+")))
        .map(|t| t.instant)
        .ok_or_else(|| ApiError::bad_request(name, "must be an ISO 8601 timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused_by_name() {
        let err = QueryParams::parse("a=1&Limit=2", &["a", "limit"]).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest { path: Some(p), .. } if p == "Limit"));
        let err = QueryParams::parse("a=1&a=2", &["a"]).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest { path: Some(p), .. } if p == "a"));
    }

    #[test]
    fn boolean_parameters_are_true_or_false_in_any_letter_case() {
        let params =
            QueryParams::parse("a=True&b=FALSE&c=true&d=yes&e=1", &["a", "b", "c", "d", "e"]).unwrap();
        assert!(params.boolean("a").unwrap());
        assert!(!params.boolean("b").unwrap());
        assert!(params.boolean("c").unwrap());
        assert!(!params.boolean("absent").unwrap());
        for refused in ["d", "e"] {
            let err = params.boolean(refused).unwrap_err();
            assert!(matches!(err, ApiError::BadRequest { path: Some(p), .. } if p == refused));
        }
    }

    #[test]
    fn an_unencoded_plus_in_a_timestamp_is_understood() {
        let params = QueryParams::parse("since=2024-03-12T10:41:00+01:00", &["since"]).unwrap();
        let expected = Timestamp::parse("2024-03-12T09:41:00Z").unwrap().instant;
        assert_eq!(params.timestamp("since").unwrap(), Some(expected));
    }
}
