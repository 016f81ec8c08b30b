//! The xAPI model: what a valid statement is, how statements compare, and how they are
//! presented in each query format. Pure: no I/O, no async, so every rule here can be
//! tested in isolation and reused by the server, the store and the load generator.
//!
//! - [`Statement::parse`] / [`parse_statements`]: validation for xAPI 1.0.3 and 2.0.0. The
//!   structure is a JSON Schema (`schema/statement.schema.json`, module `validate`); the
//!   cross-field rules are Rust (module `rules`); string formats (IRIs, UUIDs, language
//!   tags, timestamps, durations) are the predicates exported here.
//! - [`IndexFacts`] and [`AgentKey`]: what the store indexes about a statement.
//! - [`equivalent`]: the statement comparison behind idempotent PUT/POST.
//! - [`format_statement`]: the `ids`, `exact` and `canonical` formats; [`format_for_version`]:
//!   a statement as a reader of another xAPI version sees it.
//! - [`verify_signature`]: signed statements (a JWS attachment of the statement itself).
//! - [`voided_target`] and [`verb_outcome`]: what verbs mean (voiding; completed, passed,
//!   failed).

mod agent;
mod definitions;
mod equivalence;
mod error;
mod format;
mod lang;
mod rules;
mod signature;
mod statement;
mod syntax;
mod timestamp;
mod validate;
mod verbs;
mod version;

pub use agent::{AgentKey, authority_agents, parse_agent_param};
pub use definitions::{activity_definitions, activity_ids, merge_definition, use_held_definitions};
pub use equivalence::equivalent;
pub use error::ValidationError;
pub use format::{Format, format_for_version, format_statement};
pub use lang::{LanguagePreferences, is_valid_language_tag};
pub use signature::{SIGNATURE_USAGE_TYPE, SignatureAttachment, signature_attachments, verify_signature};
pub use statement::{Draft, IndexFacts, Statement, parse_statements};
pub use syntax::{is_valid_iri, is_valid_mailto_iri, is_valid_uuid};
pub use timestamp::{Timestamp, is_valid_duration};
pub use verbs::{VerbOutcome, verb_outcome, voided_target};
pub use version::Version;

/// The verb whose statements void another statement (xAPI 1.0.3 Data §2.3.2 "Voiding").
pub const VOIDED_VERB: &str = "http://adlnet.gov/expapi/verbs/voided";
