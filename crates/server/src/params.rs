//! The query parameters of `GET /xapi/statements`, parsed once at the edge, and the
//! `more` tokens that carry a query to its next page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use store::{Cursor, StatementFilter, StatementQuery};
use uuid::Uuid;
use xapi::{Format, Timestamp};

use crate::ApiError;

/// What a statement GET asks for.
#[derive(Debug)]
pub enum StatementsGet {
    /// One statement by `statementId` (voided = false) or `voidedStatementId` (voided = true).
    Single {
        id: Uuid,
        voided: bool,
        format: Format,
    },
    /// A filtered query; `params` is the query string without `more`, kept for `more` links.
    Query {
        query: StatementQuery,
        format: Format,
        params: String,
    },
}

const SINGLE_PARAMS: &[&str] = &["statementId", "voidedStatementId", "format", "attachments"];
const QUERY_PARAMS: &[&str] = &[
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
];

/// Parses a statement GET's query string. `max_page` caps `limit` (and is what `limit=0`
/// or no limit means: xAPI 1.0.3 Communication §2.1.3).
pub fn parse_statements_get(
    query_string: &str,
    max_page: usize,
) -> Result<StatementsGet, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query_string.as_bytes())
        .into_owned()
        .collect();
    if let Some((_, token)) = pairs.iter().find(|(k, _)| k == "more") {
        if pairs.len() > 1 {
            return Err(ApiError::bad_request(
                "more",
                "more cannot be combined with other parameters",
            ));
        }
        let (cursor, params) = decode_more(token)?;
        let StatementsGet::Query {
            mut query,
            format,
            params,
        } = parse_statements_get(&params, max_page)?
        else {
            return Err(ApiError::bad_request("more", "is not a valid more token"));
        };
        query.cursor = Some(cursor);
        return Ok(StatementsGet::Query {
            query,
            format,
            params,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for (name, _) in &pairs {
        if !seen.insert(name.as_str()) {
            return Err(ApiError::bad_request(
                name,
                format!("parameter {name} appears more than once"),
            ));
        }
        let known = SINGLE_PARAMS.contains(&name.as_str()) || QUERY_PARAMS.contains(&name.as_str());
        if !known {
            return Err(ApiError::bad_request(
                name,
                format!("unknown parameter {name}"),
            ));
        }
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let format = match get("format") {
        None => Format::Exact,
        Some(text) => Format::parse(text).ok_or_else(|| {
            ApiError::bad_request("format", "must be one of ids, exact, canonical")
        })?,
    };
    // Validated now; statements carry no attachment data until attachments are supported,
    // so both values answer with plain JSON.
    boolean(get("attachments"), "attachments")?;

    let single = [("statementId", false), ("voidedStatementId", true)]
        .into_iter()
        .find_map(|(name, voided)| get(name).map(|v| (name, v, voided)));
    if let Some((name, value, voided)) = single {
        if let Some((other, _)) = pairs.iter().find(|(k, _)| {
            !SINGLE_PARAMS.contains(&k.as_str()) || (k != name && k.ends_with("tatementId"))
        }) {
            return Err(ApiError::bad_request(
                other,
                format!("{name} can only be combined with format and attachments, not {other}"),
            ));
        }
        let id =
            Uuid::parse_str(value).map_err(|_| ApiError::bad_request(name, "must be a UUID"))?;
        return Ok(StatementsGet::Single { id, voided, format });
    }

    let filter = StatementFilter {
        agent: get("agent").map(xapi::parse_agent_param).transpose()?,
        verb: get("verb").map(|v| iri(v, "verb")).transpose()?,
        activity: get("activity").map(|v| iri(v, "activity")).transpose()?,
        registration: get("registration")
            .map(|v| {
                Uuid::parse_str(v)
                    .map_err(|_| ApiError::bad_request("registration", "must be a UUID"))
            })
            .transpose()?,
        related_agents: boolean(get("related_agents"), "related_agents")?,
        related_activities: boolean(get("related_activities"), "related_activities")?,
        since: get("since").map(|v| timestamp(v, "since")).transpose()?,
        until: get("until").map(|v| timestamp(v, "until")).transpose()?,
    };
    let limit = match get("limit") {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request("limit", "must be a non-negative integer"))?,
    };
    let limit = if limit == 0 {
        max_page
    } else {
        limit.min(max_page)
    };
    let query = StatementQuery {
        filter,
        ascending: boolean(get("ascending"), "ascending")?,
        limit,
        cursor: None,
    };
    Ok(StatementsGet::Query {
        query,
        format,
        params: query_string.to_string(),
    })
}

fn boolean(value: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad_request(name, "must be true or false")),
    }
}

fn iri(value: &str, name: &str) -> Result<String, ApiError> {
    if xapi::is_valid_iri(value) {
        Ok(value.to_string())
    } else {
        Err(ApiError::bad_request(name, "must be an IRI"))
    }
}

fn timestamp(value: &str, name: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse(value)
        .map(|t| t.instant)
        .ok_or_else(|| ApiError::bad_request(name, "must be an ISO 8601 timestamp"))
}

/// A `more` token: the snapshot bound, the last position returned, and the original
/// query string. Opaque to clients; it needs no server state and never expires.
pub fn encode_more(cursor: Cursor, params: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}.{}", cursor.bound, cursor.after, params))
}

fn decode_more(token: &str) -> Result<(Cursor, String), ApiError> {
    let invalid = || ApiError::bad_request("more", "is not a valid more token");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '.');
    let bound = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(invalid)?;
    let after = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(invalid)?;
    let params = parts.next().ok_or_else(invalid)?.to_string();
    Ok((Cursor { bound, after }, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<StatementsGet, ApiError> {
        parse_statements_get(q, 100)
    }

    #[test]
    fn a_more_token_round_trips_the_query_and_cursor() {
        let token = encode_more(
            Cursor {
                bound: 90,
                after: 42,
            },
            "verb=http%3A%2F%2Fx.y%2Fz&limit=5",
        );
        let StatementsGet::Query { query, params, .. } = parse(&format!("more={token}")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            query.cursor,
            Some(Cursor {
                bound: 90,
                after: 42
            })
        );
        assert_eq!(query.limit, 5);
        assert_eq!(query.filter.verb.as_deref(), Some("http://x.y/z"));
        assert_eq!(params, "verb=http%3A%2F%2Fx.y%2Fz&limit=5");
    }

    #[test]
    fn limit_zero_and_no_limit_mean_the_server_maximum() {
        for q in ["", "limit=0", "limit=1000"] {
            let StatementsGet::Query { query, .. } = parse(q).unwrap() else {
                panic!()
            };
            assert_eq!(query.limit, 100, "{q}");
        }
    }

    #[test]
    fn statement_id_with_a_filter_is_rejected() {
        let err =
            parse("statementId=8f87ccde-bb56-4c2e-ab83-44982ef22df0&verb=http%3A%2F%2Fx.y%2Fz")
                .unwrap_err();
        assert!(matches!(err, ApiError::BadRequest { path: Some(p), .. } if p == "verb"));
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (q, name) in [
            ("registration=nope", "registration"),
            ("since=yesterday", "since"),
            ("limit=-1", "limit"),
            ("ascending=yes", "ascending"),
            ("format=full", "format"),
            ("agent=%7B%7D", "agent"),
            ("unknown=1", "unknown"),
            ("more=!!", "more"),
        ] {
            let err = parse(q).unwrap_err();
            assert!(
                matches!(&err, ApiError::BadRequest { path: Some(p), .. } if p.starts_with(name)),
                "{q}: {err:?}"
            );
        }
    }
}
