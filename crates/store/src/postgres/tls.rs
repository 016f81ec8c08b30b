//! TLS to PostgreSQL with libpq's `sslmode`, `sslrootcert`, `sslcert` and `sslkey`, so a
//! database URL means what it means to `psql`. tokio-postgres itself knows only `disable`, `prefer` and
//! `require` and verifies nothing; the verifying modes and the root certificates are
//! read here and taken out of the URL (or `key=value` string) before tokio-postgres
//! parses the rest.
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (the default) | when the server offers it | not checked |
//! | `require` | always | not checked, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `verify-ca` | always | signed by a root certificate |
//! | `verify-full` | always | signed by a root certificate and issued for the host |
//!
//! The roots are the PEM file `sslrootcert` names, or the system's certificates when it
//! is absent or `system` (libpq would read `~/.postgresql/root.crt` instead). A server
//! that asks for a client certificate gets the one in `sslcert`, signed with `sslkey`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the root certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Roots {
    File(PathBuf),
    System,
}

/// The TLS parameters of a URL, and the URL without them.
#[derive(Debug, Default, PartialEq, Eq)]
struct TlsParameters {
    rest: String,
    mode: Option<Mode>,
    roots: Option<Roots>,
    /// `sslcert` and `sslkey`: the client certificate (PEM, with any intermediates after
    /// it) and its private key, for servers that ask for one.
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

/// Parses a libpq-style database URL (or `key=value` string) into the connection
/// settings and the TLS connector its TLS parameters ask for.
pub(super) fn config_and_connector(
    url: &str,
) -> Result<(tokio_postgres::Config, MakeRustlsConnect), StoreError> {
    let invalid = |e: String| StoreError::Backend(format!("invalid database URL: {e}"));
    let params = take_tls_parameters(url).map_err(invalid)?;
    let mut config = tokio_postgres::Config::from_str(&params.rest).map_err(|e| invalid(e.to_string()))?;
    let mode = params.mode.unwrap_or(Mode::Prefer);
    let mode = if mode == Mode::Require && params.roots.is_some() { Mode::VerifyCa } else { mode };
    config.ssl_mode(match mode {
        Mode::Disable => SslMode::Disable,
        Mode::Prefer => SslMode::Prefer,
        Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = match mode {
        Mode::Disable | Mode::Prefer | Mode::Require => None,
        Mode::VerifyCa | Mode::VerifyFull => {
            let roots = root_store(params.roots.as_ref().unwrap_or(&Roots::System))?;
            let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| StoreError::Backend(format!("cannot verify server certificates: {e}")))?;
            Some(chain)
        }
    };
    let check = ServerCheck { provider: provider.clone(), chain, host_name: mode == Mode::VerifyFull };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("cannot configure TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(check));
    let client = match (&params.client_cert, &params.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let (chain, key) = client_identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| StoreError::Backend(format!("cannot use sslcert and sslkey: {e}")))?
        }
        _ => return Err(invalid("sslcert and sslkey go together".into())),
    };
    Ok((config, MakeRustlsConnect::new(client)))
}

/// Takes the TLS parameters out of a connection string, a `postgres://` URL or libpq's
/// `key=value` form, leaving every other parameter as it was written.
fn take_tls_parameters(url: &str) -> Result<TlsParameters, String> {
    let mut taken = TlsParameters::default();
    let mut kept = Vec::new();
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| {
                percent_decode_str(text)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .map_err(|_| format!("{key} is not UTF-8"))
            };
            if !taken.take(&decode(key)?, || decode(value))? {
                kept.push(pair);
            }
        }
        if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) }
    } else {
        for (pair, key, value) in key_value_pairs(url)? {
            if !taken.take(&key, || Ok(value))? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    Ok(TlsParameters { rest, ..taken })
}

impl TlsParameters {
    /// Records `key` if it is one of the TLS parameters, and says whether it was.
    fn take(&mut self, key: &str, value: impl FnOnce() -> Result<String, String>) -> Result<bool, String> {
        match key {
            "sslmode" => self.mode = Some(parse_mode(&value()?)?),
            "sslrootcert" => {
                let value = value()?;
                self.roots = Some(if value == "system" { Roots::System } else { Roots::File(value.into()) });
            }
            "sslcert" => self.client_cert = Some(value()?.into()),
            "sslkey" => self.client_key = Some(value()?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The pairs of libpq's `key = value` form, each with the text it was written as. Values
/// may be single-quoted; a backslash escapes the character after it.
fn key_value_pairs(text: &str) -> Result<Vec<(&str, String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.char_indices().peekable();
    let skip_spaces = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_spaces(&mut chars);
        let Some(&(start, _)) = chars.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        skip_spaces(&mut chars);
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("{key} is not followed by = and a value"));
        }
        skip_spaces(&mut chars);
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut value = String::new();
        loop {
            match chars.next() {
                None if quoted => return Err(format!("the value of {key} lacks its closing quote")),
                None => break,
                Some((_, '\'')) if quoted => break,
                Some((_, c)) if c.is_whitespace() && !quoted => break,
                Some((_, '\\')) => {
                    value.push(chars.next().ok_or(format!("the value of {key} ends in \\"))?.1)
                }
                Some((_, c)) => value.push(c),
            }
        }
        let end = chars.peek().map_or(text.len(), |(i, _)| *i);
        pairs.push((text[start..end].trim_end(), key, value));
    }
    Ok(pairs)
}

fn parse_mode(value: &str) -> Result<Mode, String> {
    Ok(match value {
        "disable" => Mode::Disable,
        // libpq's `allow` tries without TLS first; tokio-postgres cannot, and TLS when the
        // server offers it is the closer (and safer) match.
        "allow" | "prefer" => Mode::Prefer,
        "require" => Mode::Require,
        "verify-ca" => Mode::VerifyCa,
        "verify-full" => Mode::VerifyFull,
        other => {
            return Err(format!(
                "sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not {other:?}"
            ));
        }
    })
}

fn root_store(roots: &Roots) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            for cert in pem_certificates("sslrootcert", path)? {
                store.add(cert).map_err(|e| unreadable("sslrootcert", path, e.to_string()))?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(StoreError::Backend(format!(
                    "sslmode verify-ca/verify-full found no system root certificates ({:?}); name a PEM \
                     file with sslrootcert",
                    found.errors
                )));
            }
        }
    }
    Ok(store)
}

/// The client certificate chain in `cert` and the private key in `key` (PEM; PKCS #8,
/// PKCS #1 or SEC1, unencrypted).
fn client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), StoreError> {
    let chain = pem_certificates("sslcert", cert)?;
    let key_text = std::fs::read_to_string(key).map_err(|e| unreadable("sslkey", key, e.to_string()))?;
    if key_text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || key_text.contains("Proc-Type: 4,ENCRYPTED")
    {
        // rustls reads no encrypted key; without this it would say it found none.
        return Err(unreadable(
            "sslkey",
            key,
            "the key is encrypted; give it unencrypted (sslpassword is not read)".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_text.as_bytes())
        .map_err(|e| unreadable("sslkey", key, e.to_string()))?;
    Ok((chain, key))
}

/// The certificates of the PEM file the parameter `name` names: at least one.
fn pem_certificates(name: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| unreadable(name, path, e.to_string()))?;
    if certificates.is_empty() {
        return Err(unreadable(name, path, "it holds no PEM certificate".into()));
    }
    Ok(certificates)
}

/// A file a TLS parameter names that cannot be used, and why.
fn unreadable(name: &str, path: &Path, why: String) -> StoreError {
    StoreError::Backend(format!("cannot read {name}={}: {why}", path.display()))
}

/// How the server's certificate is checked. The handshake's signatures are always checked
/// against the certificate; whether the certificate itself is trusted depends on the mode.
#[derive(Debug)]
struct ServerCheck {
    provider: Arc<CryptoProvider>,
    /// The chain up to a root (`verify-ca`, `verify-full`); none for `prefer` and
    /// `require`, which trust whoever answers, as libpq does.
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// Whether the certificate must be issued for the host (`verify-full`).
    host_name: bool,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.host_name => Ok(ServerCertVerified::assertion()),
            checked => checked,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(url: &str) -> TlsParameters {
        take_tls_parameters(url).unwrap()
    }

    /// Why `url` gives no connector.
    fn refused(url: &str) -> String {
        match config_and_connector(url) {
            Err(StoreError::Backend(err)) => err,
            other => panic!("{url}: {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn tls_parameters_leave_the_url_and_the_rest_stays_as_written() {
        let p = taken(
            "postgres://u:p%40ss@h1:5432,h2/db?connect_timeout=5&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&options=-c%20a%3Db",
        );
        assert_eq!(p.rest, "postgres://u:p%40ss@h1:5432,h2/db?connect_timeout=5&options=-c%20a%3Db");
        assert_eq!(p.mode, Some(Mode::VerifyFull));
        assert_eq!(p.roots, Some(Roots::File("/etc/ca.pem".into())));
        let p = taken("postgresql://h/db?sslmode=require");
        assert_eq!((p.rest.as_str(), p.mode, p.roots), ("postgresql://h/db", Some(Mode::Require), None));
        assert_eq!(taken("postgres://h/db?sslrootcert=system").roots, Some(Roots::System));
    }

    #[test]
    fn urls_without_tls_parameters_pass_through() {
        for url in ["postgres://h/db", "postgres://h/db?connect_timeout=5"] {
            assert_eq!(taken(url), TlsParameters { rest: url.to_string(), ..TlsParameters::default() });
        }
    }

    #[test]
    fn key_value_strings_give_up_their_tls_parameters_and_keep_the_rest_as_written() {
        let p =
            taken("host=h  dbname = db sslmode=verify-full sslrootcert='/etc/my ca.pem' password='a b\\'c'");
        assert_eq!(p.rest, "host=h dbname = db password='a b\\'c'");
        assert_eq!(p.mode, Some(Mode::VerifyFull));
        assert_eq!(p.roots, Some(Roots::File("/etc/my ca.pem".into())));
        assert_eq!(taken("host=h sslrootcert=sys\\tem").roots, Some(Roots::System));
        assert!(take_tls_parameters("host=h password='open").unwrap_err().contains("closing quote"));
        assert!(take_tls_parameters("host").unwrap_err().contains("host"));
    }

    #[test]
    fn an_unknown_sslmode_is_refused_by_name() {
        let err = take_tls_parameters("postgres://h/db?sslmode=strict").unwrap_err();
        assert!(err.contains("sslmode") && err.contains("strict"), "{err}");
        let err = refused("postgres://h/db?sslmode=strict");
        assert!(err.starts_with("invalid database URL: sslmode"), "{err}");
    }

    #[test]
    fn a_missing_root_certificate_file_is_named() {
        let err = refused("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
        assert!(err.contains("sslrootcert=/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_both_are_named_when_unreadable() {
        let p = taken("postgres://h/db?sslcert=%2Fc.pem&sslkey=%2Fc.key");
        assert_eq!((p.client_cert, p.client_key), (Some("/c.pem".into()), Some("/c.key".into())));
        let err = refused("postgres://h/db?sslcert=/c.pem");
        assert!(err.contains("sslcert and sslkey go together"), "{err}");
        let err = refused("postgres://h/db?sslcert=/nonexistent/c.pem&sslkey=/nonexistent/c.key");
        assert!(err.contains("sslcert=/nonexistent/c.pem"), "{err}");
    }

    #[test]
    fn an_encrypted_client_key_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("c.key"));
        // Any certificate will do: the key is refused before the two are matched.
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n").unwrap();
        std::fs::write(
            &key,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let Err(StoreError::Backend(err)) = client_identity(&cert, &key) else { panic!() };
        assert!(err.contains("sslkey=") && err.contains("encrypted"), "{err}");
    }

    #[test]
    fn libpq_modes_map_onto_tokio_postgres_ones() {
        let mode = |url: &str| config_and_connector(url).unwrap().0.get_ssl_mode();
        assert_eq!(mode("postgres://h/db"), SslMode::Prefer);
        assert_eq!(mode("postgres://h/db?sslmode=disable"), SslMode::Disable);
        assert_eq!(mode("postgres://h/db?sslmode=require"), SslMode::Require);
        assert_eq!(mode("host=h dbname=db sslmode=require"), SslMode::Require);
    }
}
