//! OpenID Connect's building blocks: an issuer's discovery document and published signing
//! keys (cached, re-fetched on rotation), the checks of a JWT it signed, and the relying
//! party's side of a browser sign-in. Bearer access tokens ([`crate::bearer`]) and the web
//! pages' sign-in rest on them.

mod issuer;
mod jwt;
mod relying_party;

pub use issuer::{Issuer, IssuerUnavailable, Metadata, Request, VerifyError};
pub use jwt::{Algorithm, Jwk, TokenError};
pub use relying_party::{Authorization, Identity, RelyingParty, SignInError};
