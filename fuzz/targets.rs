//! The fuzz targets' bodies: every parser of untrusted input, fed raw bytes. A panic, or
//! a refusal that is not a client error (4xx), is a bug.
//!
//! Shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the stable-toolchain
//! robustness tests (`crates/cli/tests/robustness.rs`), which include this file by path.

#![allow(dead_code)]

use xapi::{Format, LanguagePreferences, Version};

/// Statement bodies: the limit scan, parsing and validation under both versions, and
/// every query format of what was accepted.
pub fn statements(data: &[u8]) {
    if let Err(refusal) = server::fuzzing::statements_body_limits(data) {
        assert_client_error(refusal.status, &refusal.message);
    }
    for version in [Version::V1_0, Version::V2_0] {
        let Ok(statements) = xapi::parse_statements(data, version) else { continue };
        for statement in statements {
            for format in [Format::Ids, Format::Exact, Format::Canonical] {
                let mut json = statement.json().clone();
                xapi::format_for_version(&mut json, version);
                xapi::format_statement(&mut json, format, &LanguagePreferences::default());
            }
            let _ = xapi::equivalent(statement.json(), statement.json());
        }
    }
}

/// `multipart/mixed` statement requests. The first byte picks the chunk size (delimiters
/// straddle chunk edges), the first line is the Content-Type, the rest the body.
pub fn multipart(data: &[u8]) {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let (content_type, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&b"multipart/mixed; boundary=abc123"[..], rest),
    };
    let Ok(content_type) = std::str::from_utf8(content_type) else { return };
    if let Err(refusal) = server::fuzzing::multipart(content_type, body, usize::from(chunk) + 1) {
        assert_client_error(refusal.status, &refusal.message);
    }
}

/// Query strings: a statement GET's parameters (filters, `limit`, `more` tokens), the
/// document resources' parameters, and the `agent` parameter alone.
pub fn query_params(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(refusal) = server::fuzzing::statements_get(&text) {
        assert_client_error(refusal.status, &refusal.message);
    }
    if let Err(refusal) = server::fuzzing::document_params(&text) {
        assert_client_error(refusal.status, &refusal.message);
    }
    let _ = xapi::parse_agent_param(&text);
}

/// Ticket exports: CSV (and, from the same bytes, JSON and NDJSON) under every preset,
/// read to the last row.
pub fn tickets_csv(data: &[u8]) {
    use insights::tickets::{ImportOptions, InputFormat, Preset};
    for preset in [Preset::Generic, Preset::Zendesk, Preset::ServiceNow, Preset::Jira] {
        let mut options = ImportOptions::new(preset);
        options.account_home_page = Some("https://sso.example.com".into());
        for format in [InputFormat::Csv, InputFormat::Json, InputFormat::Ndjson] {
            if let Ok(tickets) = insights::tickets::read(data, format, &options) {
                for ticket in tickets.take(10_000) {
                    let _ = ticket;
                }
            }
        }
    }
}

fn assert_client_error(status: u16, message: &str) {
    assert!((400..500).contains(&status), "refused with {status}, not a 4xx: {message}");
}
