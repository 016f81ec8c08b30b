//! The fuzz targets (`fuzz/targets.rs`) on the stable toolchain: each runs for a short
//! while on seed inputs and random mutations of them (bit flips, byte insertions and
//! deletions, interesting bytes, splices of two seeds, truncation). A panic fails the test
//! and prints the input, which then belongs in `regressions()` below.
//!
//! `TALLY_FUZZ_SECS` sets the time per target (default 2), `TALLY_FUZZ_SEED` replays a
//! run. The real coverage-guided fuzzing is `cargo +nightly fuzz run <target>` (README).

#[path = "../../../fuzz/targets.rs"]
mod targets;

use std::time::{Duration, Instant};

/// A small, fast, seedable generator (xorshift64*); no dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"%",
    b"%00",
    b"%ZZ",
    b"&",
    b"=",
    b"+",
    b";",
    b"1e999",
    b"-0",
    b"null",
    b"true",
    b"\"mailto:\"",
    b"\"objectType\":\"Group\"",
    b"\"member\":[",
    b"\"id\":\"",
    b"T",
    b"Z",
    b"+99:99",
    b"\"\\ud800\"",
    b"--abc123",
    b"--abc123--",
    b"multipart/mixed; boundary=",
    b"\n",
    b"\r",
    b"\"\"",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 if at < data.len() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let token = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(at..at, token.iter().copied());
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            5 => data.truncate(at),
            _ if !data.is_empty() => {
                // Repeat a slice: deep nesting, long strings, many parts.
                let end = (at + 1 + rng.below(8)).min(data.len());
                let piece: Vec<u8> = data[at.min(end)..end].to_vec();
                for _ in 0..rng.below(200) {
                    data.splice(at..at, piece.iter().copied());
                }
            }
            _ => {}
        }
    }
    data
}

/// Runs `target` on every seed, every regression, then on mutations until the time is up.
fn fuzz(name: &str, target: fn(&[u8]), seeds: Vec<Vec<u8>>) {
    let seconds = std::env::var("TALLY_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let seed = std::env::var("TALLY_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    for input in seeds.iter().chain(&regressions()) {
        target(input);
    }
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let input = mutate(&mut rng, &seeds);
        let outcome = std::panic::catch_unwind(|| target(&input));
        if outcome.is_err() {
            panic!(
                "{name} panicked (TALLY_FUZZ_SEED={seed}) on {} bytes: {:?}",
                input.len(),
                String::from_utf8_lossy(&input)
            );
        }
        runs += 1;
    }
    println!("{name}: {runs} inputs in {seconds} s (seed {seed}), no crash");
}

/// Inputs that once crashed a target (or came close); every target runs them all.
fn regressions() -> Vec<Vec<u8>> {
    vec![
        // Nesting far deeper than any limit, unclosed.
        "[".repeat(100_000).into_bytes(),
        format!("{{\"a\":{}", "{\"a\":".repeat(50_000)).into_bytes(),
        // A boundary delimiter split at every possible chunk edge, then nothing.
        b"\x00multipart/mixed; boundary=abc123\n--abc123\r\nContent-Type: application/json\r\n\r\n[]\r\n--abc12".to_vec(),
        // A `more` token whose embedded query holds another `more`.
        b"more=MS4yLm1vcmU9TVM0eUxnPT0".to_vec(),
        b"agent=%7B%22objectType%22%3A%22Group%22%2C%22member%22%3A%5B%5D%7D".to_vec(),
        b"since=9999-99-99T99:99:99+99:99&until=0000-00-00T00:00:00Z".to_vec(),
        b"\xef\xbb\xbfid,created\n\"unterminated,2024-01-01\n".to_vec(),
    ]
}

fn statement_seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../xapi/tests/fixtures/valid");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| std::fs::read(e.path()).ok()).take(20).collect())
        .unwrap_or_default();
    seeds.push(test_support::statements::statement().to_string().into_bytes());
    seeds.push(
        serde_json::Value::Array((0..3).map(|_| test_support::statements::statement()).collect())
            .to_string()
            .into_bytes(),
    );
    seeds.push(
        br#"{"actor":{"objectType":"Group","member":[{"mbox":"mailto:a@b.c"}],"account":{"homePage":"http://x.y","name":"n"}},
        "verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
        "context":{"registration":"8f87ccde-bb56-4c2e-ab83-44982ef22df0","contextActivities":{"parent":{"id":"http://x.y/p"}},"language":"en-US"},
        "result":{"duration":"PT1H0M0S","score":{"scaled":0.5,"raw":1,"min":0,"max":2},"extensions":{"http://x.y/e":[1,{"a":null}]}},
        "timestamp":"2024-03-12T10:41:00.123+01:00","attachments":[{"usageType":"http://x.y/u","display":{"en-US":"a"},"contentType":"text/plain","length":5,"sha2":"abc"}]}"#
            .to_vec(),
    );
    seeds
}

#[test]
fn statement_parsing_survives_mutated_input() {
    fuzz("statements", targets::statements, statement_seeds());
}

#[test]
fn multipart_parsing_survives_mutated_input() {
    let statement = test_support::statements::statement().to_string();
    let body = |parts: &[(&str, &[u8])]| {
        let mut out = b"\x07multipart/mixed; boundary=abc123\n".to_vec();
        for (headers, content) in parts {
            out.extend_from_slice(b"--abc123\r\n");
            out.extend_from_slice(headers.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--abc123--\r\n");
        out
    };
    let seeds = vec![
        body(&[("Content-Type: application/json", statement.as_bytes())]),
        body(&[
            ("Content-Type: application/json", statement.as_bytes()),
            (
                "Content-Type: text/plain\r\nX-Experience-API-Hash: 2cf24d\r\nContent-Transfer-Encoding: binary",
                b"hello",
            ),
            ("Content-Type: application/octet-stream", &[0u8, 13, 10, 45, 45, 97]),
        ]),
        b"\x00multipart/mixed; charset=x; Boundary=\"a b\"\n\r\n--a b\r\n\r\n{}\r\n--a b--".to_vec(),
    ];
    fuzz("multipart", targets::multipart, seeds);
}

#[test]
fn query_parameter_parsing_survives_mutated_input() {
    let seeds: Vec<Vec<u8>> = [
        "agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D&verb=http%3A%2F%2Fx.y%2Fv&limit=10&ascending=true",
        "agent={\"objectType\":\"Agent\",\"account\":{\"homePage\":\"http://x.y\",\"name\":\"n\"}}&related_agents=true",
        "statementId=8f87ccde-bb56-4c2e-ab83-44982ef22df0&format=canonical&attachments=true",
        "activity=http://x.y/a&related_activities=true&since=2024-03-12T10:41:00+01:00&until=2024-03-13T00:00:00Z",
        "registration=8f87ccde-bb56-4c2e-ab83-44982ef22df0&format=ids",
        "more=OTAuNDIudmVyYj1odHRwJTNBJTJGJTJGeC55JTJGeiZsaW1pdD01",
        "activityId=http%3A%2F%2Fx.y%2Fa&agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D&stateId=s&registration=8f87ccde-bb56-4c2e-ab83-44982ef22df0",
        "{\"objectType\":\"Group\",\"member\":[{\"openid\":\"http://x.y/me\"}],\"mbox_sha1sum\":\"0123456789abcdef0123456789abcdef01234567\"}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzz("query_params", targets::query_params, seeds);
}

#[test]
fn ticket_import_survives_mutated_input() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../insights/tests/fixtures");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| std::fs::read(e.path()).ok()).collect())
        .unwrap_or_default();
    seeds.push(b"id,created,requester,subject,tags\n1,2024-03-12T10:41:00Z,a@b.c,\"Printer, again\",x;y\n2,2024-03-13,,\"\"\"quoted\"\"\",\n".to_vec());
    seeds.push(b"[{\"id\":\"1\",\"created\":\"2024-03-12\",\"requester\":\"a@b.c\"}]".to_vec());
    fuzz("tickets_csv", targets::tickets_csv, seeds);
}
