//! Test fixtures shared by every crate's tests: a fresh database of either backend per
//! test, a real server on a real socket, and statement builders.

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
