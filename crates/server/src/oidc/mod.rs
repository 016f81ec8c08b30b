//! OpenID Connect's building blocks: an issuer's published signing keys (discovery and
//! JWKS, cached and re-fetched on rotation) and the checks of a JWT it signed. Bearer
//! access tokens ([`crate::bearer`]) rest on them; a browser sign-in's ID tokens can too.

mod issuer;
mod jwt;

pub use issuer::{Issuer, IssuerUnavailable};
pub use jwt::{Algorithm, ClaimChecks, Jwk, TokenError, UnverifiedToken};
