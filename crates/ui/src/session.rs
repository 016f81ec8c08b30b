//! Who is looking: signing in with a credential or through an OpenID provider
//! ([`crate::sso`]), the session that follows, and the CSRF token of every form that
//! changes data.
//!
//! - Signing in with a credential posts its key and secret. They are checked by the API's
//!   own Basic auth ([`server::auth::authenticate_secret`]): the same digest comparison, the
//!   same brake on failed attempts per client address, the same refusal of revoked
//!   credentials and stores.
//! - A session is a random 256-bit id in an `HttpOnly`, `SameSite=Strict` cookie, mapped in
//!   this process's memory (by the id's SHA-256, so the table holds no usable id) to the
//!   credential's key; never to its secret. Every request reads the credential again, so a
//!   revoked credential (or store) loses its sessions on the next request, and its scopes
//!   are always the current ones.
//! - A person signed in through a provider is kept in the session as the provider named
//!   them, with the roles their groups granted at sign-in; every request reads the store
//!   they are looking at again, so a revoked store ends their session too.
//! - Sessions end on sign-out, after two hours unused, and twelve hours after signing in.
//! - Forms that change data carry the session's random token in a hidden field, compared
//!   in constant time; the sign-in form, before any session, uses a token that is also in
//!   a `SameSite=Strict` cookie, so another site cannot sign a browser in either.
//!
//! Sessions live in one process: behind a load balancer, give the pages sticky sessions
//! (or sign in again when a request lands on another process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::Method;
use actix_web::http::header;
use actix_web::web::Data;
use serde::Deserialize;
use server::AppConfig;
use sha2::{Digest, Sha256};
use store::{CredentialReader, DEFAULT_STORE, StoreId, TenantReader};
use subtle::ConstantTimeEq;
use xapi::AgentKey;

use crate::PageError;
use crate::pages::tickets::PendingImport;
use crate::sso::Grant;

/// What the pages read to know who is looking: the credential behind a session, or the
/// store a signed-in person looks at.
pub trait SignedIn: CredentialReader + TenantReader {}
impl<T: CredentialReader + TenantReader> SignedIn for T {}

/// Scopes that may sign in to the pages.
pub const SIGN_IN: &[Scope] =
    &[Scope::Insights, Scope::InsightsRead, Scope::All, Scope::AllRead, Scope::Admin];
/// The scopes of the pages are the API's (goals and tickets as `/insights/…`, statements as
/// `GET /xapi/statements`, credentials as `/admin/credentials`).
pub use server::scopes::{ADMIN, INSIGHTS_READ, INSIGHTS_WRITE, STATEMENTS_READ, Scope, holds};

const SESSION_COOKIE: &str = "tally_session";
const SIGN_IN_COOKIE: &str = "tally_sign_in";
const IDLE: Duration = Duration::from_secs(2 * 60 * 60);
const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Past this many sessions, the least recently used one ends to make room.
const MAX_SESSIONS: usize = 10_000;

/// The process's sessions. Cheap to clone: clones share one table.
#[derive(Clone, Default)]
pub struct Sessions {
    table: Arc<Mutex<HashMap<[u8; 32], Session>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("open", &self.lock().len()).finish()
    }
}

struct Session {
    who: Who,
    csrf: String,
    started: Instant,
    last_seen: Instant,
    /// A ticket file uploaded for preview, waiting for the import to be confirmed.
    pending_import: Option<PendingImport>,
}

/// Who a session is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// A credential, by its key: read again on every request.
    Credential(String),
    /// A person an OpenID provider vouched for.
    Person(Person),
}

/// A person signed in through an OpenID provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Who the audit log says acted: `oidc:<provider>:<email, username or subject>`.
    pub actor: String,
    /// What the pages call them.
    pub name: String,
    /// What their groups granted, store by store (never empty).
    pub grants: Vec<Grant>,
    /// The store the pages show them now: one of the grants'.
    pub store: StoreId,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) > IDLE || now.duration_since(self.started) > LIFETIME
    }
}

/// A random 256-bit token, hex-encoded.
pub fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| server::ApiError::Internal(format!("no randomness for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock leaves the table usable: every entry is whole.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a session; answers its id and CSRF token.
    fn start(&self, who: Who) -> Result<(String, String), PageError> {
        let (id, csrf) = (random_token()?, random_token()?);
        let now = Instant::now();
        let mut table = self.lock();
        table.retain(|_, s| !s.expired(now));
        if table.len() >= MAX_SESSIONS
            && let Some(oldest) = table.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k)
        {
            table.remove(&oldest);
        }
        let session = Session { who, csrf: csrf.clone(), started: now, last_seen: now, pending_import: None };
        table.insert(digest(&id), session);
        Ok((id, csrf))
    }

    /// Who a live session is for, and its CSRF token (and marks it used).
    fn find(&self, id: &str) -> Option<(Who, String)> {
        let now = Instant::now();
        let mut table = self.lock();
        let digest = digest(id);
        let session = table.get_mut(&digest)?;
        if session.expired(now) {
            table.remove(&digest);
            return None;
        }
        session.last_seen = now;
        Some((session.who.clone(), session.csrf.clone()))
    }

    /// Shows a signed-in person another store their groups give them a role in; `false`
    /// when they have none there.
    pub(crate) fn switch_store(&self, viewer: &Viewer, store: StoreId) -> bool {
        let mut table = self.lock();
        match table.get_mut(&digest(&viewer.session)).map(|session| &mut session.who) {
            Some(Who::Person(person)) if person.grants.iter().any(|grant| grant.store == store) => {
                person.store = store;
                true
            }
            _ => false,
        }
    }

    fn end(&self, id: &str) {
        self.lock().remove(&digest(id));
    }

    /// Keeps an uploaded ticket file with the session until the import is confirmed (a
    /// newer upload replaces it; its temporary file goes when it is dropped).
    pub(crate) fn stash_import(&self, viewer: &Viewer, pending: PendingImport) {
        if let Some(session) = self.lock().get_mut(&digest(&viewer.session)) {
            session.pending_import = Some(pending);
        }
    }

    /// The session's uploaded ticket file, if `token` names it.
    pub(crate) fn take_import(&self, viewer: &Viewer, token: &str) -> Option<PendingImport> {
        let mut table = self.lock();
        let session = table.get_mut(&digest(&viewer.session))?;
        let matches = session.pending_import.as_ref().is_some_and(|p| same_token(&p.token, token));
        if matches { session.pending_import.take() } else { None }
    }
}

/// A signed-in person: the credential behind the session, as the store has it now.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub key: String,
    pub name: String,
    pub store: StoreId,
    pub scopes: Vec<Scope>,
    /// The credential's own Agent (what `statements/read/mine` matches); none for a person.
    pub agent: Option<AgentKey>,
    /// The stores a person may switch between (their roles' stores), with their names;
    /// empty for a credential.
    pub stores: Vec<(StoreId, String)>,
    /// The token every form that changes data must carry.
    pub csrf: String,
    session: String,
}

impl Viewer {
    /// Whether the credential holds one of `scopes`.
    pub fn can(&self, scopes: &[Scope]) -> bool {
        holds(&self.scopes, scopes)
    }

    /// 403 unless the credential holds one of `scopes`.
    pub fn require(&self, scopes: &[Scope]) -> Result<(), PageError> {
        if self.can(scopes) {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!(
                "This page needs the {} scope; {} has {}.",
                server::scopes::join(scopes, " or "),
                self.key,
                if self.scopes.is_empty() {
                    "none".to_string()
                } else {
                    server::scopes::join(&self.scopes, ", ")
                }
            )))
        }
    }

    /// Administers every store: `admin` on a credential of the default store.
    pub fn is_instance_admin(&self) -> bool {
        self.can(ADMIN) && self.store == DEFAULT_STORE
    }

    /// Refuses a form without this session's token.
    pub fn check_csrf(&self, token: &str) -> Result<(), PageError> {
        if same_token(&self.csrf, token) { Ok(()) } else { Err(PageError::Csrf) }
    }
}

/// The value of a cookie the request carries.
pub(crate) fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for this site's pages: HttpOnly, SameSite=Strict, and Secure when
/// the page was asked for over HTTPS.
fn set_cookie(req: &HttpRequest, name: &str, value: &str, path: &str, max_age: Option<u64>) -> String {
    set_cookie_same_site(req, name, value, path, max_age, "Strict")
}

/// [`set_cookie`] with another `SameSite` (`Lax` for the cookie a provider's redirect
/// back must carry).
pub(crate) fn set_cookie_same_site(
    req: &HttpRequest,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
    same_site: &str,
) -> String {
    let mut cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if req.connection_info().scheme() == "https" {
        cookie.push_str("; Secure");
    }
    cookie
}

pub(crate) fn app_data<T: 'static>(req: &HttpRequest) -> Result<&Data<T>, PageError> {
    req.app_data::<Data<T>>().ok_or_else(|| {
        PageError::Api(server::ApiError::Internal(format!(
            "{} is not registered",
            std::any::type_name::<T>()
        )))
    })
}

/// The signed-in viewer of a request, or [`PageError::SignIn`]. Reads the credential (or
/// the person's store) from the store on every request: a revoked credential or store ends
/// its session here.
pub async fn viewer<S: SignedIn + 'static>(req: &HttpRequest) -> Result<Viewer, PageError> {
    let sign_in = || PageError::SignIn {
        next: (req.method() == Method::GET).then(|| {
            req.uri().path_and_query().map_or_else(|| req.path().to_string(), |p| p.as_str().to_string())
        }),
    };
    let sessions = app_data::<Sessions>(req)?;
    let id = cookie(req, SESSION_COOKIE).ok_or_else(sign_in)?;
    let (who, csrf) = sessions.find(id).ok_or_else(sign_in)?;
    let store = app_data::<S>(req)?;
    let key = match who {
        Who::Credential(key) => key,
        Who::Person(person) => {
            if store.store_info(person.store).await?.is_none_or(|info| info.revoked) {
                sessions.end(id);
                return Err(sign_in());
            }
            let scopes = person.grants.iter().find(|g| g.store == person.store).map(|g| g.scopes.clone());
            return Ok(Viewer {
                key: person.actor,
                name: person.name,
                store: person.store,
                scopes: scopes.unwrap_or_default(),
                agent: None,
                stores: person.grants.iter().map(|grant| (grant.store, grant.store_name.clone())).collect(),
                csrf,
                session: id.to_string(),
            });
        }
    };
    let credential = match store.credential(&key).await? {
        Some(credential) if !credential.revoked => credential,
        _ => {
            sessions.end(id);
            return Err(sign_in());
        }
    };
    let config = app_data::<AppConfig>(req).map_or_else(|_| AppConfig::default(), |c| c.get_ref().clone());
    let name = credential.name.clone();
    let key = credential.key.clone();
    // The same principal the API makes of this credential.
    let principal = server::auth::principal_of(credential, &config);
    let (store, scopes) =
        principal.as_ref().map_or((DEFAULT_STORE, Vec::new()), |p| (p.store, p.scopes.clone()));
    Ok(Viewer {
        agent: principal.map(|p| p.agent),
        key,
        name,
        store,
        scopes,
        stores: Vec::new(),
        csrf,
        session: id.to_string(),
    })
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    pub key: String,
    pub secret: String,
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub next: Option<String>,
}

/// The sign-in form's token: the one in the request's cookie, or a new one.
pub fn sign_in_token(req: &HttpRequest) -> Result<(String, Option<String>), PageError> {
    match cookie(req, SIGN_IN_COOKIE) {
        Some(token) if token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok((token.to_string(), None))
        }
        _ => {
            let token = random_token()?;
            let cookie = set_cookie(req, SIGN_IN_COOKIE, &token, "/ui/sign-in", Some(3600));
            Ok((token, Some(cookie)))
        }
    }
}

/// Whether the sign-in form came from this site's sign-in page.
pub fn sign_in_token_matches(req: &HttpRequest, form: &SignInForm) -> bool {
    cookie(req, SIGN_IN_COOKIE).is_some_and(|token| same_token(token, &form.csrf))
}

/// Starts a session for a credential or person that signed in; answers the `Set-Cookie`
/// value.
pub fn start(req: &HttpRequest, who: Who) -> Result<String, PageError> {
    let (id, _) = app_data::<Sessions>(req)?.start(who)?;
    Ok(set_cookie(req, SESSION_COOKIE, &id, "/ui", None))
}

/// Ends the request's session; answers the `Set-Cookie` value that clears the cookie.
pub fn end(req: &HttpRequest) -> String {
    if let (Ok(sessions), Some(id)) = (app_data::<Sessions>(req), cookie(req, SESSION_COOKIE)) {
        sessions.end(id);
    }
    set_cookie(req, SESSION_COOKIE, "", "/ui", Some(0))
}

/// The sessions table of a request's app.
pub fn sessions(req: &HttpRequest) -> Result<&Data<Sessions>, PageError> {
    app_data::<Sessions>(req)
}

/// Where to go after signing in: a page under `/ui` (never another site), or nowhere.
pub fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        (*n == "/ui" || n.starts_with("/ui/"))
            && !n.contains("//")
            && !n.contains('\\')
            && n.bytes().all(|b| b.is_ascii_graphic())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_finds_its_key_until_it_ends() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.start(Who::Credential("k1".into())).unwrap();
        assert_eq!(id.len(), 64, "256 bits, hex");
        assert_eq!(sessions.find(&id), Some((Who::Credential("k1".into()), csrf)));
        assert_eq!(sessions.find("0".repeat(64).as_str()), None);
        sessions.end(&id);
        assert_eq!(sessions.find(&id), None);
    }

    #[test]
    fn a_person_switches_only_to_stores_their_roles_are_in() {
        let sessions = Sessions::default();
        let grant = |store: i64| Grant {
            store: StoreId::new(store),
            store_name: format!("store {store}"),
            scopes: vec![Scope::InsightsRead],
        };
        let person = Person {
            actor: "oidc:acme:ada@example.com".into(),
            name: "Ada".into(),
            grants: vec![grant(1), grant(3)],
            store: StoreId::new(1),
        };
        let (id, csrf) = sessions.start(Who::Person(person)).unwrap();
        let viewer = Viewer {
            key: String::new(),
            name: String::new(),
            store: StoreId::new(1),
            scopes: Vec::new(),
            agent: None,
            stores: Vec::new(),
            csrf,
            session: id.clone(),
        };
        assert!(!sessions.switch_store(&viewer, StoreId::new(2)), "no role in store 2");
        assert!(sessions.switch_store(&viewer, StoreId::new(3)));
        let Some((Who::Person(person), _)) = sessions.find(&id) else { panic!("the session is a person's") };
        assert_eq!(person.store, StoreId::new(3));
        let (credential, csrf) = sessions.start(Who::Credential("k1".into())).unwrap();
        let viewer = Viewer { session: credential, csrf, ..viewer };
        assert!(!sessions.switch_store(&viewer, StoreId::new(3)), "a credential stays in its store");
    }

    #[test]
    fn the_table_keeps_digests_not_ids() {
        let sessions = Sessions::default();
        let (id, _) = sessions.start(Who::Credential("k1".into())).unwrap();
        let table = sessions.lock();
        assert!(table.contains_key(&digest(&id)));
        assert!(table.keys().all(|k| k.as_slice() != id.as_bytes()));
    }

    #[test]
    fn only_pages_of_this_site_are_places_to_go_next() {
        assert_eq!(
            safe_next(Some("/ui/goals/install?as_of=2025-04-28")),
            Some("/ui/goals/install?as_of=2025-04-28")
        );
        for bad in [
            "https://evil.example/ui/",
            "//evil.example",
            "/ui//evil.example",
            "/uix",
            "/ui/\\evil",
            "/ui/a b",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", "a"));
    }
}
