use std::fmt;

/// The xAPI version a request speaks, chosen by its `X-Experience-API-Version` header.
///
/// Patch versions are interchangeable (xAPI 1.0.3 Communication §3.3: an LRS MUST accept
/// any 1.0.x header), so the header's patch level is not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// xAPI 1.0.3 (any `1.0.x` header).
    V1_0,
    /// xAPI 2.0.0, IEEE 9274.1.1 (any `2.0.x` header).
    V2_0,
}

impl Version {
    /// Parses an `X-Experience-API-Version` header value; `None` when unsupported.
    pub fn from_header(value: &str) -> Option<Version> {
        let value = value.trim();
        let patch = |prefix: &str| {
            value.strip_prefix(prefix).is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        if value == "1.0" || patch("1.0.") {
            Some(Version::V1_0)
        } else if value == "2.0" || patch("2.0.") {
            Some(Version::V2_0)
        } else {
            None
        }
    }

    /// The version the LRS answers with.
    pub fn header_value(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0.3",
            Version::V2_0 => "2.0.0",
        }
    }

    /// The `version` a statement gets when it arrives without one.
    pub fn default_statement_version(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0.0",
            Version::V2_0 => "2.0.0",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_patch_level_of_a_supported_version_is_accepted() {
        assert_eq!(Version::from_header("1.0.0"), Some(Version::V1_0));
        assert_eq!(Version::from_header("1.0.3"), Some(Version::V1_0));
        assert_eq!(Version::from_header("1.0.9"), Some(Version::V1_0));
        assert_eq!(Version::from_header("2.0.0"), Some(Version::V2_0));
    }

    #[test]
    fn unsupported_versions_are_rejected() {
        for bad in ["", "0.95", "1.1.0", "1.0.", "1.0.x", "3.0.0", "1"] {
            assert_eq!(Version::from_header(bad), None, "{bad}");
        }
    }
}
