//! A forwarding rule's secret at rest. With `TALLY_SECRET_KEY` set it is sealed
//! (ChaCha20-Poly1305, bound to the rule's store and target URL, as helpdesk credentials
//! are: `insights::connectors::SecretKey`) and kept as `sealed:<base64>`; without the key
//! it is kept as `plain:<secret>`. A migration gave rules from before this the `plain:`
//! prefix, so every stored secret says which it is.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use insights::connectors::{Binding, SecretKey};
use store::StoreId;
use store::forwarding::ForwardingRule;

const SEALED: &str = "sealed:";
const PLAIN: &str = "plain:";
/// What a sealed secret is bound to besides its store and URL.
const KIND: &str = "forwarding";

/// Why a rule's secret cannot be had. Never carries the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretUnavailable {
    #[error("the rule's secret is sealed, and TALLY_SECRET_KEY is not set")]
    NoKey,
    #[error(
        "the rule's secret does not open with this TALLY_SECRET_KEY (another key sealed it, or it was altered)"
    )]
    DoesNotOpen,
}

/// What a new rule's secret is stored as.
pub fn stored(key: Option<&SecretKey>, store: StoreId, url: &str, secret: &str) -> String {
    match key {
        Some(key) => {
            let sealed = key.seal(&Binding { store, kind: KIND, base_url: url }, secret.as_bytes());
            format!("{SEALED}{}", STANDARD.encode(sealed))
        }
        None => format!("{PLAIN}{secret}"),
    }
}

/// The secret a rule authenticates to its target with.
pub fn opened(key: Option<&SecretKey>, rule: &ForwardingRule) -> Result<String, SecretUnavailable> {
    let Some(sealed) = rule.secret.strip_prefix(SEALED) else {
        return Ok(rule.secret.strip_prefix(PLAIN).unwrap_or(&rule.secret).to_owned());
    };
    let key = key.ok_or(SecretUnavailable::NoKey)?;
    let bytes = STANDARD.decode(sealed).map_err(|_| SecretUnavailable::DoesNotOpen)?;
    let binding = Binding { store: rule.store, kind: KIND, base_url: &rule.url };
    let opened = key.open(&binding, &bytes).map_err(|_| SecretUnavailable::DoesNotOpen)?;
    String::from_utf8(opened).map_err(|_| SecretUnavailable::DoesNotOpen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::forwarding::ForwardingFilter;
    use store::{Seq, StoreId};
    use xapi::Timestamp;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    fn rule(url: &str, secret: String) -> ForwardingRule {
        ForwardingRule {
            id: 1,
            store: StoreId::new(1),
            url: url.into(),
            key: "k".into(),
            secret,
            filter: ForwardingFilter::default(),
            enabled: true,
            max_attempts: 10,
            created: Timestamp::from_micros(0),
            delivered: Seq::default(),
            failures: 0,
            last_error: None,
            next_attempt: Timestamp::from_micros(0),
            dead_letters: 0,
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_for_its_own_target() {
        let url = "https://lrs.example.com/xapi";
        let stored = stored(Some(&key(1)), StoreId::new(1), url, "s3cret");
        assert!(stored.starts_with("sealed:") && !stored.contains("s3cret"), "{stored}");
        assert_eq!(opened(Some(&key(1)), &rule(url, stored.clone())), Ok("s3cret".to_owned()));
        assert_eq!(opened(None, &rule(url, stored.clone())), Err(SecretUnavailable::NoKey));
        assert_eq!(opened(Some(&key(2)), &rule(url, stored.clone())), Err(SecretUnavailable::DoesNotOpen));
        let elsewhere = rule("https://attacker.example/xapi", stored);
        assert_eq!(opened(Some(&key(1)), &elsewhere), Err(SecretUnavailable::DoesNotOpen));
    }

    #[test]
    fn without_a_key_the_secret_is_kept_as_given_and_reads_back() {
        let stored = stored(None, StoreId::new(1), "https://x.example", "sealed:not really");
        assert_eq!(stored, "plain:sealed:not really");
        assert_eq!(
            opened(Some(&key(1)), &rule("https://x.example", stored)),
            Ok("sealed:not really".to_owned())
        );
    }
}
