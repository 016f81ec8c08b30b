//! The throwaway PostgreSQL cluster starts, stops, starts again and is removed.

use test_support::cluster::PgCluster;

#[test]
fn a_cluster_of_its_own_stops_and_starts_again() {
    let cluster = PgCluster::start();
    cluster.create_database("tally");
    let port = cluster.port();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    cluster.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "stopped");
    cluster.start_again();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(cluster);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "removed");
}

#[test]
fn a_standby_replays_what_its_primary_writes_and_only_reads() {
    let primary = PgCluster::start();
    let standby = primary.start_standby();
    assert_ne!(primary.port(), standby.port());
    assert_eq!(primary.query("postgres", "SELECT pg_is_in_recovery()"), "f");
    assert_eq!(standby.query("postgres", "SELECT pg_is_in_recovery()"), "t");
    primary.create_database("tally");
    primary.query(
        "tally",
        "CREATE TABLE notes (note text); INSERT INTO notes VALUES ('written on the primary')",
    );
    primary.wait_for_replay(&standby, std::time::Duration::from_secs(30));
    assert_eq!(standby.query("tally", "SELECT note FROM notes"), "written on the primary");
    assert_eq!(standby.query("tally", "SHOW transaction_read_only"), "on");
    let port = standby.port();
    drop(standby);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "removed");
}
