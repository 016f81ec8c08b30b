//! Acknowledged means durable: what a server acknowledged is there after a restart.

use conformance::statements::statement;
use conformance::{Lrs, backend_tests};
use serde_json::Value;
use test_support::TestServer;

backend_tests! {
    fn acknowledged_statements_survive_a_restart(backend) {
        if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
            return; // Restarts need a server this suite started.
        }
        let lrs = Lrs::start(backend);
        let ids = lrs.store(&Value::Array((0..20).map(|_| statement()).collect()));
        let before = lrs.get(&format!("/statements?statementId={}", ids[7])).body;
        let database = lrs.into_server().expect("a spawned server").stop();
        let lrs = Lrs::for_server(TestServer::start_with(database, server::AppConfig { workers: 1, ..Default::default() }));
        assert_eq!(lrs.get(&format!("/statements?statementId={}", ids[7])).body, before);
        assert_eq!(lrs.query_ids("limit=0").len(), 20);
        // The sequence continues after the restart: new statements come first.
        let after = lrs.store_one(&statement());
        assert_eq!(lrs.query_ids("limit=1"), vec![after]);
    }
}
