//! The string formats xAPI requires (IRIs, mailto IRIs, UUIDs, hashes, media types,
//! versions): pure predicates, used as JSON Schema formats by `validate` and directly by the
//! server for query parameters. None of them allocates.

use crate::Version;

/// Whether `text` is an absolute IRI (RFC 3987): a scheme, a colon and a non-empty rest made
/// only of characters an IRI may contain.
///
/// xAPI 1.0.3 Data §2.2: the LRS MUST reject IRI and IRL values without a scheme, and MAY use
/// best-effort validation beyond that. The check is therefore syntactic and forgiving (any
/// scheme, relative path segments such as `..` allowed), except that `http` and `https`
/// IRIs must name a host, as their schemes require.
pub fn is_valid_iri(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return false;
    };
    let (scheme, rest) = (&bytes[..colon], &text[colon + 1..]);
    if !is_scheme(scheme) || rest.is_empty() || !has_iri_characters(rest) {
        return false;
    }
    if scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https") {
        let Some(after_slashes) = rest.as_bytes().strip_prefix(b"//") else {
            return false;
        };
        let authority_end = after_slashes.iter().position(|b| matches!(b, b'/' | b'?' | b'#'));
        let authority = &after_slashes[..authority_end.unwrap_or(after_slashes.len())];
        // The host is what follows any userinfo; a port alone is not a host.
        let host = authority.iter().rposition(|&b| b == b'@').map_or(authority, |at| &authority[at + 1..]);
        if host.first().is_none_or(|&b| b == b':') {
            return false;
        }
    }
    true
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(scheme: &[u8]) -> bool {
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// How each byte may appear in an IRI: 0 never (ASCII controls, space, `"<>\^`{|}`), 1 freely,
/// 2 with a rule (`%` starts a percent-encoding, `#` the only fragment), 3 part of a non-ASCII
/// character, which is decoded and checked on its own.
const IRI_BYTES: [u8; 256] = {
    let mut table = [1u8; 256];
    let mut b = 0;
    while b < 256 {
        if b < 0x20 || b == 0x7f {
            table[b] = 0;
        } else if b >= 0x80 {
            table[b] = 3;
        }
        b += 1;
    }
    let forbidden = b" \"<>\\^`{|}";
    let mut i = 0;
    while i < forbidden.len() {
        table[forbidden[i] as usize] = 0;
        i += 1;
    }
    table[b'%' as usize] = 2;
    table[b'#' as usize] = 2;
    table
};

/// Every character may appear in an IRI (RFC 3987 §2.2): no spaces or controls, none of
/// `"<>\^`{|}`, no bidirectional formatting characters, `%` only as a percent-encoding, and at
/// most one `#`.
fn has_iri_characters(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut fragment = false;
    let mut i = 0;
    // Skip runs of plain bytes quickly; stop only at bytes that need a closer look.
    while let Some(skip) = bytes[i..].iter().position(|&b| IRI_BYTES[b as usize] != 1) {
        i += skip;
        let b = bytes[i];
        match IRI_BYTES[b as usize] {
            0 => return false,
            3 => {
                // `i` is on a char boundary: only whole ASCII bytes or whole characters are skipped.
                let Some(c) = text[i..].chars().next() else {
                    return false;
                };
                if c.is_control()
                    || matches!(
                        c,
                        '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{FFFE}' | '\u{FFFF}'
                    )
                {
                    return false;
                }
                i += c.len_utf8();
            }
            _ if b == b'%' => {
                let hex = |k: usize| bytes.get(k).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            }
            _ => {
                if fragment {
                    return false;
                }
                fragment = true;
                i += 1;
            }
        }
    }
    true
}

/// Whether `text` is a `mailto:` IRI naming one e-mail address (the `mbox` IFI:
/// xAPI 1.0.3 Data §2.4.2.3, "mailto:email address").
pub fn is_valid_mailto_iri(text: &str) -> bool {
    let Some(address) = text.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")).map(|_| &text[7..])
    else {
        return false;
    };
    // One address, no header fields (`?subject=`) and no address list.
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !address.contains(['?', ',', '#', '/'])
        && !domain.contains(['@', '%'])
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && has_iri_characters(address)
}

/// Whether `text` is a UUID in standard string form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`,
/// either case): xAPI 1.0.3 Data §4.4. Unlike `Uuid::parse_str`, the simple, braced and URN
/// forms are refused.
pub fn is_valid_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Whether `text` is a hex-encoded SHA-1 digest (the `mbox_sha1sum` IFI).
pub(crate) fn is_sha1_hex(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `text` is a hex-encoded SHA-2 digest (an attachment's `sha2`): SHA-224, SHA-256,
/// SHA-384 or SHA-512.
pub(crate) fn is_sha2_hex(text: &str) -> bool {
    matches!(text.len(), 56 | 64 | 96 | 128) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `text` is an Internet media type (`type/subtype`, optional `; parameters`) as an
/// attachment's `contentType` must be (RFC 2046, RFC 6838).
pub(crate) fn is_media_type(text: &str) -> bool {
    let (essence, parameters) = text.split_once(';').unwrap_or((text, ""));
    let Some((kind, subtype)) = essence.trim().split_once('/') else {
        return false;
    };
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^'
                    )
                    || matches!(b, b'_' | b'`' | b'|' | b'~')
            })
    };
    is_token(kind) && is_token(subtype) && !parameters.chars().any(|c| c.is_control() && c != '\t')
}

/// Whether `text` is a statement `version` the LRS accepts under `version`.
///
/// xAPI 1.0.3 Data §2.4.10: accept `1.0.x` (and `1.0`), reject anything else. xAPI 2.0.0
/// accepts statements of either data model, so `2.0.x` is accepted too.
pub(crate) fn is_accepted_statement_version(text: &str, version: Version) -> bool {
    let accepts = |prefix: &str| {
        text.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('.')
                    .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    accepts("1.0") || (version == Version::V2_0 && accepts("2.0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_iris_with_a_scheme_are_accepted() {
        for good in [
            "http://example.com",
            "https://example.com/a/b?c=d#e",
            "http://example.com/path/../slug",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "tag:example.com,2024:verbs/attempted",
            "mailto:someone@example.com",
            "http://example.com/فعل/خواندن",
            "http://localhost:8080/x",
            "http://[::1]:8080/",
            "http://example.com/%E2%9C%93",
            "ftp://ftp.example.com/file.txt",
            "http://user@example.com/",
            "file:///etc/hosts",
            "x-custom:opaque",
        ] {
            assert!(is_valid_iri(good), "{good}");
        }
    }

    #[test]
    fn iris_without_a_scheme_or_with_forbidden_characters_are_rejected() {
        for bad in [
            "",
            "example.com/path",
            "open.id.com/testUser",
            "/relative/path",
            "#fragment",
            "ab=c://should.fail.com",
            "1http://example.com",
            "http:",
            "http://",
            "http:example.com",
            "http://:80/",
            "http://example.com/a b",
            "http://example.com/<x>",
            "http://example.com/%zz",
            "http://example.com/%4",
            "http://example.com/#a#b",
            "http://example.com/\u{0007}",
            ":no-scheme",
        ] {
            assert!(!is_valid_iri(bad), "{bad}");
        }
    }

    #[test]
    fn mailto_iris_name_one_address() {
        for good in
            ["mailto:a@example.com", "mailto:first.last+tag@sub.example.co.uk", "MAILTO:a@example.com"]
        {
            assert!(is_valid_mailto_iri(good), "{good}");
        }
        for bad in [
            "a@example.com",
            "mailto:",
            "mailto:@example.com",
            "mailto:a@",
            "mailto:a",
            "mailto:a@example.com?subject=hi",
            "mailto:a@example.com,b@example.com",
            "mailto:a b@example.com",
            "mail:a@example.com",
            "mailto:a@.example.com",
        ] {
            assert!(!is_valid_mailto_iri(bad), "{bad}");
        }
    }

    #[test]
    fn uuids_must_be_in_standard_string_form() {
        assert!(is_valid_uuid("6690e6c9-3ef0-4ed3-8b37-7f3964730bee"));
        assert!(is_valid_uuid("AA97B177-9383-4934-8543-0F91A7A02836"));
        for bad in [
            "AA97B177-9383-4934-8543-0F91A7A028368",
            "MA97B177-9383-4934-8543-0F91A7A02836",
            "6690e6c93ef04ed38b377f3964730bee",
            "{6690e6c9-3ef0-4ed3-8b37-7f3964730bee}",
            "urn:uuid:6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "6690e6c9-3ef0-4ed3-8b37_7f3964730bee",
        ] {
            assert!(!is_valid_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn hashes_are_hex_of_the_right_length() {
        assert!(is_sha1_hex("cd9b00a5611f94eaa7b1661edab976068e364975"));
        assert!(!is_sha1_hex("cd9b00a5611f94eaa7b1661edab976068e36497"));
        assert!(!is_sha1_hex("zd9b00a5611f94eaa7b1661edab976068e364975"));
        assert!(is_sha2_hex("495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"));
        assert!(is_sha2_hex(&"a".repeat(128)));
        assert!(!is_sha2_hex(""));
        assert!(!is_sha2_hex(&"a".repeat(40)));
    }

    #[test]
    fn media_types_need_a_type_and_a_subtype() {
        for good in ["text/plain", "text/plain; charset=ascii", "application/vnd.api+json", "image/svg+xml"] {
            assert!(is_media_type(good), "{good}");
        }
        for bad in ["", "text", "text/", "/plain", "text plain", "text/pl ain"] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn statement_versions_follow_the_request_version() {
        for v in [Version::V1_0, Version::V2_0] {
            for good in ["1.0", "1.0.0", "1.0.3", "1.0.9"] {
                assert!(is_accepted_statement_version(good, v), "{good}");
            }
            for bad in ["", "1", "1.0.", "1.0.x", "0.9.9", "1.1.0", "should fail", "1.0.0-beta"] {
                assert!(!is_accepted_statement_version(bad, v), "{bad}");
            }
        }
        assert!(is_accepted_statement_version("2.0.0", Version::V2_0));
        assert!(!is_accepted_statement_version("2.0.0", Version::V1_0));
        assert!(!is_accepted_statement_version("3.0.0", Version::V2_0));
    }
}
