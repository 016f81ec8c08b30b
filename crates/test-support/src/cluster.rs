//! A throwaway PostgreSQL cluster owned by one test: made with the machine's `initdb` in a
//! temporary directory, listening on a free port of 127.0.0.1, and removed on drop. For
//! tests that stop and restart the database or need a streaming replica (a hot standby of
//! a cluster: [`PgCluster::start_standby`]), which must never touch the shared PostgreSQL
//! the rest of the suite uses.
//!
//! The binaries come from `TALLY_PG_BIN` or the newest `/usr/lib/postgresql/*/bin`.
//! `initdb` refuses to run as root, so as root every command runs as the `postgres` OS
//! user (through `runuser`), in a directory that user owns.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A running (or stopped) PostgreSQL cluster of its own.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgCluster {
    /// Creates and starts a cluster with trust authentication and a `postgres` superuser.
    /// Panics, saying what is missing, when the binaries are not there.
    pub fn start() -> PgCluster {
        let cluster = PgCluster::unstarted();
        cluster.init();
        cluster.start_again();
        cluster
    }

    /// Creates and starts a cluster as [`PgCluster::start`] does that also offers TLS
    /// (`ssl = on`), with `certificate` and `key` (PEM) as its server certificate.
    pub fn start_with_tls(certificate: &str, key: &str) -> PgCluster {
        let cluster = PgCluster::unstarted();
        cluster.init();
        cluster.write_private_file("server.crt", certificate);
        cluster.write_private_file("server.key", key);
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(cluster.data_dir().join("postgresql.conf"))
            .expect("postgresql.conf opens");
        std::io::Write::write_all(&mut conf, b"\nssl = on\n").expect("postgresql.conf can be written");
        cluster.start_again();
        cluster
    }

    /// Makes `role` (a new superuser) log in only over TLS with a client certificate that
    /// `ca` (PEM) signed, as `clientcert=verify-ca` does; other roles are unchanged.
    pub fn require_client_certificates(&self, ca: &str, role: &str) {
        let path = self.write_private_file("client-ca.crt", ca);
        let hba = self.data_dir().join("pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).expect("pg_hba.conf reads");
        let first = format!(
            "hostssl all {role} 127.0.0.1/32 trust clientcert=verify-ca\nhost all {role} 127.0.0.1/32 reject\n"
        );
        std::fs::write(&hba, first + &rest).expect("pg_hba.conf can be written");
        let ca_file = path.display().to_string();
        self.query("postgres", &format!("CREATE ROLE {role} SUPERUSER LOGIN"));
        self.query("postgres", &format!("ALTER SYSTEM SET ssl_ca_file = '{ca_file}'"));
        self.query("postgres", "SELECT pg_reload_conf()");
        // The postmaster reloads when it gets to the signal; new sessions then show it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.query("postgres", "SHOW ssl_ca_file") != ca_file {
            assert!(Instant::now() < deadline, "the cluster does not reload its configuration");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Writes a file into the data directory that only the server's user may read (as
    /// PostgreSQL wants of a key), and answers its path.
    fn write_private_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.data_dir().join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap_or_else(|e| panic!("cannot set the mode of {name}: {e}"));
        if self.as_postgres {
            chown_to_postgres(&path);
        }
        path
    }

    /// `initdb`: trust authentication and a `postgres` superuser.
    fn init(&self) {
        let data = self.data_dir();
        self.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
    }

    /// Creates and starts a hot standby of this cluster: a base backup streamed from it
    /// (`pg_basebackup -R -X stream`, through the replication entry `initdb` writes for
    /// 127.0.0.1), on a free port of its own, replaying what this cluster writes and
    /// answering read-only queries. Removed on drop, like any cluster.
    pub fn start_standby(&self) -> PgCluster {
        let standby = PgCluster::unstarted();
        let data = standby.data_dir();
        let port = self.port.to_string();
        standby.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        );
        standby.start_again();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = standby.psql("postgres", "SELECT pg_is_in_recovery()");
            if answer.status.success() && String::from_utf8_lossy(&answer.stdout).trim() == "t" {
                break;
            }
            assert!(Instant::now() < deadline, "the standby never answered as a hot standby");
            std::thread::sleep(Duration::from_millis(50));
        }
        standby
    }

    /// Waits until `standby` has replayed everything this cluster has written so far
    /// (its `pg_last_wal_replay_lsn()` reached this cluster's `pg_current_wal_lsn()`).
    pub fn wait_for_replay(&self, standby: &PgCluster, within: Duration) {
        let written = self.query("postgres", "SELECT pg_current_wal_lsn()");
        let replayed = format!("SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn");
        let deadline = Instant::now() + within;
        while standby.query("postgres", &replayed) != "t" {
            assert!(
                Instant::now() < deadline,
                "the standby did not replay up to {written} within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs SQL in `database` with `psql` and answers its output, unaligned and without
    /// headers (`t`/`f` for booleans, `|` between columns), trimmed.
    pub fn query(&self, database: &str, sql: &str) -> String {
        let output = self.psql(database, sql);
        assert!(output.status.success(), "{sql:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Runs SQL with `psql`, whatever comes of it.
    fn psql(&self, database: &str, sql: &str) -> Output {
        let port = self.port.to_string();
        let args = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", database, "-X", "-A", "-t", "-q"];
        self.command("psql")
            .args(args)
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .current_dir(self.dir.path())
            .output()
            .expect("psql runs")
    }

    /// A cluster with a directory and a port but no data directory yet.
    fn unstarted() -> PgCluster {
        let bin = binaries();
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new().prefix("tally-pg-").tempdir().expect("a temporary directory");
        if as_postgres {
            chown_to_postgres(dir.path());
        }
        PgCluster { dir, bin, port: free_port(), as_postgres }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `database` (`postgres` always exists; see [`PgCluster::create_database`]).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str) {
        let port = self.port.to_string();
        self.run("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name]);
    }

    /// Stops the server (fast shutdown: sessions are ended, nothing committed is lost).
    pub fn stop(&self) {
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", data.to_str().expect("UTF-8 path"), "-m", "fast", "-w", "stop"]);
    }

    /// Starts the server again (after [`PgCluster::stop`]) and waits until it accepts.
    pub fn start_again(&self) {
        let data = self.data_dir();
        let socket_dir = self.dir.path().to_str().expect("UTF-8 path").to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={socket_dir} -c max_connections=100",
            self.port
        );
        let log = self.dir.path().join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-l",
                log.to_str().expect("UTF-8 path"),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the test cluster does not accept connections");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the cluster's binaries (as `postgres` when we are root); panics with
    /// its output when it fails.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let output = self
            .command(program)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// One of the cluster's binaries, to be run as `postgres` when we are root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        if data.join("postmaster.pid").exists() {
            // Immediate: nothing in a throwaway cluster needs a clean shutdown.
            let _ =
                self.command("pg_ctl").arg("-D").arg(&data).args(["-m", "immediate", "-w", "stop"]).output();
        }
    }
}

/// The directory of `initdb`, `pg_ctl` and friends.
fn binaries() -> PathBuf {
    if let Ok(bin) = std::env::var("TALLY_PG_BIN") {
        return PathBuf::from(bin);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "this test starts a PostgreSQL cluster of its own and needs the server binaries \
             (initdb, pg_ctl): install PostgreSQL (apt-get install postgresql) or point \
             TALLY_PG_BIN at their directory"
        )
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to_postgres(dir: &Path) {
    let status = Command::new("chown").arg("postgres:").arg(dir).status().expect("chown runs");
    assert!(status.success(), "cannot give {} to the postgres user (does that user exist?)", dir.display());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
