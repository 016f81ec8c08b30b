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
