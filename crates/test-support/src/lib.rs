//! Test fixtures shared by every crate's tests: a fresh database of either backend per
//! test, a real server on a real socket, and statement builders.

pub mod chromium;
pub mod cluster;
mod database;
mod server;
pub mod statements;

pub use database::{Backend, TestDatabase};
pub use server::TestServer;

/// Percent-encodes a query parameter value or path segment: everything but the unreserved
/// characters of RFC 3986 §2.3 (so JSON agents, IRIs and timestamps with `+` survive), as
/// the web pages encode their links.
pub fn percent_encode(value: &str) -> String {
    ui::format::path_segment(value)
}

/// Generates one test per backend from one body: `backend_tests! { fn name(backend) { … } }`
/// expands to a module `name` with `sqlite` and `postgres` tests calling the body.
#[macro_export]
macro_rules! backend_tests {
    ($(fn $name:ident($backend:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn run($backend: $crate::Backend) $body

                #[test]
                fn sqlite() {
                    run($crate::Backend::Sqlite)
                }

                #[test]
                fn postgres() {
                    run($crate::Backend::Postgres)
                }
            }
        )*
    };
}

/// Returns once the clock has passed `stored`. Consistent-Through covers a write only
/// then: until its millisecond is over, a later write may still be stored at that time.
pub async fn clock_passes(stored: xapi::Timestamp) {
    while xapi::Timestamp::now() <= stored {
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
    }
}

/// [`clock_passes`] for blocking tests.
pub fn wait_for_the_clock_to_pass(stored: xapi::Timestamp) {
    while xapi::Timestamp::now() <= stored {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}
