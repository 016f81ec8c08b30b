//! The query parameters of `GET /xapi/statements`, parsed once at the edge, and the
//! `more` tokens that carry a query to its next page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use store::{Cursor, StatementFilter, StatementQuery};
use uuid::Uuid;
use xapi::Format;

use crate::ApiError;
use crate::query::QueryParams;

/// What a statement GET asks for.
#[derive(Debug)]
pub enum StatementsGet {
    /// One statement by `statementId` (voided = false) or `voidedStatementId` (voided = true).
    /// `attachments` asks for the attachments' content too.
    Single { id: Uuid, voided: bool, format: Format, attachments: bool },
    /// A filtered query; `params` is the query string without `more`, kept for `more` links.
    Query { query: StatementQuery, format: Format, attachments: bool, params: String },
}

/// Every parameter a statement GET accepts (xAPI 1.0.3 Communication §2.1.3).
const ALL_PARAMS: [&str; 15] = [
    "statementId",
    "voidedStatementId",
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
    "more",
];

/// Parses a statement GET's query string. `max_page` caps `limit` (and is what `limit=0`
/// or no limit means: xAPI 1.0.3 Communication §2.1.3).
pub fn parse_statements_get(query_string: &str, max_page: usize) -> Result<StatementsGet, ApiError> {
    let params = QueryParams::parse(query_string, &ALL_PARAMS)?;
    if let Some(token) = params.get("more") {
        if params.names().count() > 1 {
            return Err(ApiError::bad_request("more", "more cannot be combined with other parameters"));
        }
        let (cursor, original) = decode_more(token)?;
        let StatementsGet::Query { mut query, format, attachments, params } =
            parse_statements_get(&original, max_page)?
        else {
            return Err(ApiError::bad_request("more", "is not a valid more token"));
        };
        query.cursor = Some(cursor);
        return Ok(StatementsGet::Query { query, format, attachments, params });
    }
    let format = match params.get("format") {
        None => Format::Exact,
        Some(text) => Format::parse(text)
            .ok_or_else(|| ApiError::bad_request("format", "must be one of ids, exact, canonical"))?,
    };
    let attachments = params.boolean("attachments")?;

    let single = [("statementId", false), ("voidedStatementId", true)]
        .into_iter()
        .find_map(|(name, voided)| params.get(name).map(|v| (name, v, voided)));
    if let Some((name, value, voided)) = single {
        // xAPI 1.0.3 Communication §2.1.3: only format and attachments may come along.
        if let Some(other) = params.names().find(|k| *k != name && !matches!(*k, "format" | "attachments")) {
            return Err(ApiError::bad_request(
                other,
                format!("{name} can only be combined with format and attachments, not {other}"),
            ));
        }
        let id = Uuid::parse_str(value).map_err(|_| ApiError::bad_request(name, "must be a UUID"))?;
        return Ok(StatementsGet::Single { id, voided, format, attachments });
    }

    let filter = StatementFilter {
        agent: params.agent("agent")?,
        verb: params.iri("verb")?,
        activity: params.iri("activity")?,
        registration: params.uuid("registration")?,
        related_agents: params.boolean("related_agents")?,
        related_activities: params.boolean("related_activities")?,
        authority: None,
        since: params.timestamp("since")?,
        until: params.timestamp("until")?,
    };
    let limit = match params.get("limit") {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request("limit", "must be a non-negative integer"))?,
    };
    let limit = if limit == 0 { max_page } else { limit.min(max_page) };
    let query = StatementQuery { filter, ascending: params.boolean("ascending")?, limit, cursor: None };
    Ok(StatementsGet::Query { query, format, attachments, params: query_string.to_string() })
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
    let bound = parts.next().and_then(|p| p.parse().ok()).ok_or_else(invalid)?;
    let after = parts.next().and_then(|p| p.parse().ok()).ok_or_else(invalid)?;
    let params = parts.next().ok_or_else(invalid)?.to_string();
    Ok((Cursor { bound, after }, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Seq;

    fn parse(q: &str) -> Result<StatementsGet, ApiError> {
        parse_statements_get(q, 100)
    }

    #[test]
    fn a_more_token_round_trips_the_query_and_cursor() {
        let token = encode_more(
            Cursor { bound: Seq::new(90), after: Seq::new(42) },
            "verb=http%3A%2F%2Fx.y%2Fz&limit=5",
        );
        let StatementsGet::Query { query, params, .. } = parse(&format!("more={token}")).unwrap() else {
            panic!()
        };
        assert_eq!(query.cursor, Some(Cursor { bound: Seq::new(90), after: Seq::new(42) }));
        assert_eq!(query.limit, 5);
        assert_eq!(query.filter.verb.as_deref(), Some("http://x.y/z"));
        assert_eq!(params, "verb=http%3A%2F%2Fx.y%2Fz&limit=5");
    }

    #[test]
    fn limit_zero_and_no_limit_mean_the_server_maximum() {
        for q in ["", "limit=0", "limit=1000"] {
            let StatementsGet::Query { query, .. } = parse(q).unwrap() else { panic!() };
            assert_eq!(query.limit, 100, "{q}");
        }
    }

    #[test]
    fn statement_id_with_a_filter_is_rejected() {
        let err =
            parse("statementId=8f87ccde-bb56-4c2e-ab83-44982ef22df0&verb=http%3A%2F%2Fx.y%2Fz").unwrap_err();
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
