//! TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` describe it, against a cluster
//! of its own that offers TLS with a certificate for 127.0.0.1 signed by a test CA. The
//! certificates are made with the `openssl` command, which PostgreSQL's packages bring.

use std::path::{Path, PathBuf};
use std::process::Command;

use store::{PgStore, StoreError};
use test_support::cluster::PgCluster;

/// A test CA, a server certificate it signed for IP 127.0.0.1 and a client certificate for
/// `tally`, and a CA that signed nothing.
struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    fn make() -> Certificates {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let openssl = |args: &str| {
            let args: Vec<&str> = args.split_whitespace().collect();
            let output = Command::new("openssl")
                .args(&args)
                .current_dir(dir.path())
                .output()
                .expect("this test makes certificates with the openssl command; install openssl");
            assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        for ca in ["ca", "other-ca"] {
            openssl(&format!(
                "req -x509 -newkey rsa:2048 -nodes -days 2 -keyout {ca}.key -out {ca}.pem -subj /CN=Tally-test-{ca} \
                 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
            ));
        }
        // A certificate `ca` signs, with these X.509 extensions.
        let issue = |name: &str, subject: &str, extensions: &str| {
            std::fs::write(dir.path().join(format!("{name}.ext")), extensions).expect("an extensions file");
            openssl(&format!(
                "req -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr -subj {subject}"
            ));
            openssl(&format!(
                "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out {name}.pem \
                 -extfile {name}.ext"
            ));
        };
        issue(
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        );
        issue("client", "/CN=tally", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
        Certificates { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("a certificate file")
    }

    /// A cluster serving this server certificate.
    fn cluster(&self) -> PgCluster {
        PgCluster::start_with_tls(&self.read("server.pem"), &self.read("server.key"))
    }
}

fn url(cluster: &PgCluster, host: &str, database: &str, params: &str) -> String {
    cluster.create_database(database);
    format!("postgres://postgres@{host}:{}/{database}?connect_timeout=5&{params}", cluster.port())
}

fn root(certificates: &Certificates, name: &str) -> String {
    let path: &Path = &certificates.path(name);
    format!("sslrootcert={}", path.display())
}

/// How many of the sessions open on `database` are encrypted, and how many are not.
fn sessions(cluster: &PgCluster, database: &str) -> (usize, usize) {
    let counts = cluster.query(
        "postgres",
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{database}'"
        ),
    );
    let (encrypted, plain) = counts.split_once('|').expect("two counts");
    (encrypted.parse().unwrap(), plain.parse().unwrap())
}

/// Asserts that `database` has open sessions and that every one of them is encrypted.
fn assert_only_encrypted_sessions(cluster: &PgCluster, database: &str) {
    let (encrypted, plain) = sessions(cluster, database);
    assert!(encrypted > 0 && plain == 0, "{database}: {encrypted} encrypted, {plain} plain sessions");
}

/// A store open on `url` (its pool keeps sessions open while it lives).
fn connect(runtime: &tokio::runtime::Runtime, url: &str) -> PgStore {
    runtime.block_on(PgStore::connect(url)).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn refusal(url: &str) -> String {
    match tokio_runtime().block_on(PgStore::connect(url)) {
        Ok(_) => panic!("{url} was accepted"),
        Err(StoreError::Backend(message) | StoreError::Unavailable(message)) => message,
        Err(other) => panic!("{url}: {other:?}"),
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

#[test]
fn sessions_are_encrypted_when_the_server_offers_tls_unless_sslmode_is_disable() {
    let certificates = Certificates::make();
    let cluster = certificates.cluster();
    let runtime = tokio_runtime();
    for (database, params, expected) in [
        ("by_default", "", (true, false)),
        ("prefer", "sslmode=prefer", (true, false)),
        ("required", "sslmode=require", (true, false)),
        ("disabled", "sslmode=disable", (false, true)),
    ] {
        let url = url(&cluster, "127.0.0.1", database, params);
        let store = connect(&runtime, &url);
        let (encrypted, plain) = sessions(&cluster, database);
        assert_eq!(
            (encrypted > 0, plain > 0),
            expected,
            "{url}: {encrypted} encrypted, {plain} plain sessions"
        );
        drop(store);
    }
}

#[test]
fn verify_full_needs_a_certificate_from_the_named_root_issued_for_the_host() {
    let certificates = Certificates::make();
    let cluster = certificates.cluster();
    let runtime = tokio_runtime();
    let ca = root(&certificates, "ca.pem");
    let url_ok = url(&cluster, "127.0.0.1", "verified", &format!("sslmode=verify-full&{ca}"));
    let _verified = connect(&runtime, &url_ok);
    assert_only_encrypted_sessions(&cluster, "verified");
    // The same in libpq's key=value form.
    cluster.create_database("key_value");
    let key_value = format!(
        "host=127.0.0.1 port={} user=postgres dbname=key_value sslmode=verify-full sslrootcert='{}'",
        cluster.port(),
        certificates.path("ca.pem").display()
    );
    let _key_value = connect(&runtime, &key_value);
    assert_only_encrypted_sessions(&cluster, "key_value");

    // The certificate names 127.0.0.1, not localhost.
    let by_name = url(&cluster, "localhost", "by_name", &format!("sslmode=verify-full&{ca}"));
    let message = refusal(&by_name);
    assert!(message.contains("invalid peer certificate: certificate not valid for name"), "{message}");
    let other = url(
        &cluster,
        "127.0.0.1",
        "other_root",
        &format!("sslmode=verify-full&{}", root(&certificates, "other-ca.pem")),
    );
    let message = refusal(&other);
    assert!(message.contains("invalid peer certificate: UnknownIssuer"), "{message}");
}

#[test]
fn verify_ca_and_require_with_a_root_check_the_signer_but_not_the_host() {
    let certificates = Certificates::make();
    let cluster = certificates.cluster();
    let runtime = tokio_runtime();
    let (ca, other_ca) = (root(&certificates, "ca.pem"), root(&certificates, "other-ca.pem"));
    for (database, mode) in [("verify_ca", "verify-ca"), ("require_root", "require")] {
        let accepted = url(&cluster, "localhost", database, &format!("sslmode={mode}&{ca}"));
        let _accepted = connect(&runtime, &accepted);
        assert_only_encrypted_sessions(&cluster, database);
        let refused =
            url(&cluster, "localhost", &format!("{database}_other"), &format!("sslmode={mode}&{other_ca}"));
        let message = refusal(&refused);
        assert!(message.contains("invalid peer certificate: UnknownIssuer"), "{message}");
    }
}

#[test]
fn sslcert_and_sslkey_answer_a_server_that_asks_for_a_client_certificate() {
    let certificates = Certificates::make();
    let cluster = certificates.cluster();
    cluster.require_client_certificates(&certificates.read("ca.pem"), "tally");
    cluster.create_database("client_cert");
    let url = format!(
        "postgres://tally@127.0.0.1:{}/client_cert?connect_timeout=5&sslmode=require",
        cluster.port()
    );
    let message = refusal(&url);
    assert!(message.contains("connection requires a valid client certificate"), "{message}");
    let (cert, key) = (certificates.path("client.pem"), certificates.path("client.key"));
    let with_certificate = format!("{url}&sslcert={}&sslkey={}", cert.display(), key.display());
    let runtime = tokio_runtime();
    let _store = connect(&runtime, &with_certificate);
    assert_only_encrypted_sessions(&cluster, "client_cert");
}
