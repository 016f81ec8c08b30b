//! The acts the `tally` binary performs on the storage itself are audited with the actor
//! `cli`, and `tally audit` prints them, on both backends.

mod support;

use serde_json::json;
use support::{field, stdout_of, tally_on as tally};
use test_support::{TestDatabase, backend_tests};

const TICKETS: &str = "Id,Created at,Solved at,Status,Tags,Requester email,Ticket type,Priority,Via,Subject,Group\r\n\
    101,2025-02-10 09:00:00,,Open,install,ann@example.com,Problem,High,Web,Cannot install,Platform\r\n\
    102,not a date,,Open,billing,bob@example.com,Question,Low,Web,Invoice,Billing\r\n";

/// `tally audit`'s lines, split into their tab-separated fields.
fn audit(db: &TestDatabase, args: &[&str]) -> Vec<Vec<String>> {
    let printed = stdout_of(tally(db).arg("audit").args(args));
    printed.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

backend_tests! {
    fn console_acts_are_audited_as_cli_and_printed_newest_first(backend) {
        let db = TestDatabase::new(backend);
        let id = field(&stdout_of(tally(&db).args(["stores", "create", "Partners"])), "id");
        stdout_of(tally(&db).args(["stores", "rename", &id, "Partners EU"]));
        let made = stdout_of(tally(&db).args(["credentials", "create", "--store", &id, "--scopes", "all"]));
        let (key, secret) = (field(&made, "key"), field(&made, "secret"));
        stdout_of(tally(&db).args(["credentials", "rename", &key, "LMS"]));
        let forward_secret = "console-forwarding-secret-1b9e";
        let rule = field(&stdout_of(tally(&db).args(["forward", "add", "--store", &id, "--url", "https://lrs.example.com/xapi",
            "--key", "target", "--secret", forward_secret])), "id");
        stdout_of(tally(&db).args(["forward", "disable", &id, &rule]));
        stdout_of(tally(&db).args(["forward", "enable", &id, &rule]));
        stdout_of(tally(&db).args(["forward", "remove", &id, &rule]));
        let tickets = db.scratch("tickets.csv");
        std::fs::write(&tickets, TICKETS).unwrap();
        stdout_of(tally(&db).args(["tickets", "import", tickets.to_str().unwrap(), "--preset", "zendesk", "--store", &id]));
        let statements = db.scratch("statements.ndjson");
        let line = json!({ "actor": { "mbox": "mailto:learner@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" },
            "object": { "id": "http://example.com/a" } });
        std::fs::write(&statements, format!("{line}\nnot json\n")).unwrap();
        stdout_of(tally(&db).args(["import", "statements", statements.to_str().unwrap(), "--store", &id]));
        stdout_of(tally(&db).args(["credentials", "revoke", &key]));
        stdout_of(tally(&db).args(["stores", "revoke", &id]));

        let lines = audit(&db, &[]);
        let acts: Vec<(&str, &str, &str, &str)> =
            lines.iter().map(|f| (f[2].as_str(), f[3].as_str(), f[4].as_str(), f[5].as_str())).collect();
        let (store, rule) = (id.as_str(), rule.as_str());
        assert_eq!(acts, [
            (store, "cli", "store.revoke", store),
            (store, "cli", "credential.revoke", key.as_str()),
            (store, "cli", "statements.import", store),
            (store, "cli", "tickets.import", "zendesk"),
            (store, "cli", "forwarding.delete", rule),
            (store, "cli", "forwarding.enable", rule),
            (store, "cli", "forwarding.disable", rule),
            (store, "cli", "forwarding.create", rule),
            (store, "cli", "credential.rename", key.as_str()),
            (store, "cli", "credential.create", key.as_str()),
            (store, "cli", "store.rename", store),
            (store, "cli", "store.create", store),
        ], "{lines:#?}");
        let details = |action: &str| -> serde_json::Value {
            serde_json::from_str(&lines.iter().find(|f| f[4] == action).unwrap()[6]).unwrap()
        };
        assert_eq!(details("statements.import"), json!({ "lines": 2, "accepted": 1, "rejected": 1 }));
        assert_eq!(details("tickets.import")["inserted"], json!(1));
        assert_eq!(details("tickets.import")["rejected"], json!(1));
        let printed: String = lines.iter().flatten().cloned().collect();
        for never in [secret.as_str(), forward_secret, "learner@example.com", "ann@example.com"] {
            assert!(!printed.contains(never), "{never} is in the audit log: {printed}");
        }
        assert_eq!(audit(&db, &["--limit", "2"]).len(), 2);
        assert!(audit(&db, &["--store", "1"]).is_empty());
    }
}
