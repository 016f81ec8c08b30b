//! Helpdesk credentials sealed at rest: ChaCha20-Poly1305 under the operator's key
//! (`TALLY_SECRET_KEY`), with a random nonce per seal. What a connector's row holds is
//! `version ‖ nonce ‖ ciphertext ‖ tag`; the associated data binds it to its store, helpdesk
//! and address, so sealed credentials copied into another connector's row (one pointing
//! elsewhere, say) do not open.
//!
//! Forwarding rules' secrets are sealed the same way (`server::forwarding_secret`), bound
//! to their store, the kind `forwarding` and their target's URL.

use base64::Engine;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use store::StoreId;

/// The layout of a sealed value; a later key rotation or cipher gets the next number.
const VERSION: u8 = 1;

/// The key credentials are sealed with: 32 bytes. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// Why a key or a sealed value is not usable. Never carries the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    #[error("TALLY_SECRET_KEY must be 32 bytes in base64 (for example from `openssl rand -base64 32`): {0}")]
    BadKey(String),
    #[error(
        "the stored credentials do not open with this TALLY_SECRET_KEY (another key sealed them, or they were altered)"
    )]
    DoesNotOpen,
}

impl SecretKey {
    /// The key from its base64 text (standard alphabet, padded or not).
    pub fn from_base64(text: &str) -> Result<SecretKey, SealingError> {
        let text = text.trim();
        let engine = base64::engine::general_purpose::STANDARD;
        let bytes = engine
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|e| SealingError::BadKey(format!("not base64 ({e})")))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| SealingError::BadKey(format!("it decodes to {} bytes", b.len())))?;
        Ok(SecretKey(bytes))
    }

    fn key(&self) -> LessSafeKey {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("a 32-byte ChaCha20 key");
        LessSafeKey::new(unbound)
    }

    /// Seals `plaintext` for the connector of `store` with this helpdesk and address.
    pub fn seal(&self, binding: &Binding<'_>, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).expect("the system's random number generator works");
        let mut sealed = plaintext.to_vec();
        self.key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.text()),
                &mut sealed,
            )
            .expect("ChaCha20-Poly1305 seals any length a connector has");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretKey::seal`] sealed with the same binding.
    pub fn open(&self, binding: &Binding<'_>, sealed: &[u8]) -> Result<Vec<u8>, SealingError> {
        let (&version, rest) = sealed.split_first().ok_or(SealingError::DoesNotOpen)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(SealingError::DoesNotOpen);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealingError::DoesNotOpen)?;
        let mut buffer = ciphertext.to_vec();
        let opened = self
            .key()
            .open_in_place(nonce, Aad::from(binding.text()), &mut buffer)
            .map_err(|_| SealingError::DoesNotOpen)?;
        Ok(opened.to_vec())
    }
}

/// What sealed credentials belong to.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    pub store: StoreId,
    pub kind: &'a str,
    pub base_url: &'a str,
}

impl Binding<'_> {
    fn text(&self) -> Vec<u8> {
        format!("tally connector credentials\n{}\n{}\n{}", self.store, self.kind, self.base_url).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn sealed_credentials_open_only_with_their_key_and_binding() {
        let binding =
            Binding { store: StoreId::new(1), kind: "jira", base_url: "https://acme.atlassian.net" };
        let sealed = key(7).seal(&binding, b"{\"api_token\":\"t0ken\"}");
        assert!(!sealed.windows(5).any(|w| w == b"t0ken"), "the plaintext is not in the sealed bytes");
        assert_eq!(key(7).open(&binding, &sealed).unwrap(), b"{\"api_token\":\"t0ken\"}");
        assert_eq!(key(8).open(&binding, &sealed), Err(SealingError::DoesNotOpen));
        let elsewhere = Binding { base_url: "https://attacker.example", ..binding };
        assert_eq!(key(7).open(&elsewhere, &sealed), Err(SealingError::DoesNotOpen));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key(7).open(&binding, &altered), Err(SealingError::DoesNotOpen));
        assert_ne!(
            key(7).seal(&binding, b"same"),
            key(7).seal(&binding, b"same"),
            "each seal has its own nonce"
        );
    }

    #[test]
    fn a_key_is_32_bytes_of_base64() {
        assert!(
            matches!(SecretKey::from_base64("c2hvcnQ="), Err(SealingError::BadKey(why)) if why.contains("5 bytes"))
        );
        assert!(matches!(SecretKey::from_base64("not base64!"), Err(SealingError::BadKey(_))));
        assert_eq!(format!("{:?}", key(1)), "SecretKey(…)");
    }
}
