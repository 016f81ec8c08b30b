//! Single sign-on: the OpenID providers the pages offer, what their people's groups grant
//! in Tally, and the sign-ins on their way through a provider.
//!
//! - A person's roles come from their groups, read once at sign-in (the provider's groups
//!   claim): each mapping `GROUP=STORE:ROLE` grants a role in one store. Roles are sets of
//!   the API's scopes, so a page asks a person what it asks a credential.
//! - A sign-in on its way keeps its `state`, `nonce` and PKCE verifier here, server-side,
//!   under the state's digest, for ten minutes at most and once only; the browser holds
//!   the state in a cookie, so a callback that another browser started is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use server::oidc::RelyingParty;
use server::scopes::Scope;
use sha2::{Digest, Sha256};
use store::StoreId;

/// How long a sign-in may spend at the provider.
const PENDING_FOR: Duration = Duration::from_secs(10 * 60);
/// Past this many sign-ins on their way, the oldest is dropped to make room.
const MAX_PENDING: usize = 10_000;

/// A role a group grants in one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Reads goals, reports, content and tickets.
    Viewer,
    /// Also edits goals and imports tickets.
    Editor,
    /// Everything the pages offer: the editor's, statements, and the store's credentials,
    /// forwarding, connectors and audit log (on the default store: every store's).
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The API scopes the role holds.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Role::Viewer => &[Scope::InsightsRead],
            Role::Editor => &[Scope::Insights],
            Role::Admin => &[Scope::Insights, Scope::AllRead, Scope::Admin],
        }
    }
}

/// `GROUP=STORE:ROLE`: members of the group get the role in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleGrant {
    pub group: String,
    pub store: StoreId,
    pub role: Role,
}

impl RoleGrant {
    /// Reads `GROUP=STORE:ROLE` (the group may itself hold `=`; the last one separates).
    pub fn parse(text: &str) -> Result<RoleGrant, String> {
        let expected = || format!("{text:?}: expected GROUP=STORE:ROLE (ROLE viewer, editor or admin)");
        let (group, grant) = text.rsplit_once('=').ok_or_else(expected)?;
        let (store, role) = grant.split_once(':').ok_or_else(expected)?;
        let store = store
            .trim()
            .parse::<StoreId>()
            .map_err(|_| format!("{text:?}: the store must be a store id (a number)"))?;
        let role = Role::parse(role.trim())
            .ok_or_else(|| format!("{text:?}: the role must be viewer, editor or admin"))?;
        let group = group.trim();
        if group.is_empty() {
            return Err(expected());
        }
        Ok(RoleGrant { group: group.to_owned(), store, role })
    }
}

/// The scopes a person holds in one store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub store: StoreId,
    /// The store's name, as it was at sign-in (empty until the store is looked up).
    pub store_name: String,
    pub scopes: Vec<Scope>,
}

/// One provider on the sign-in page.
#[derive(Debug)]
pub struct Provider {
    /// In the provider's addresses under `/ui/sign-in/`: letters, digits, `-` and `_`.
    pub id: String,
    /// What the sign-in button says ("Sign in with Okta").
    pub label: String,
    pub party: RelyingParty,
    pub roles: Vec<RoleGrant>,
}

impl Provider {
    /// What `groups` grant, store by store in the order the mappings first name them.
    pub fn grants(&self, groups: &[String]) -> Vec<Grant> {
        let mut grants: Vec<Grant> = Vec::new();
        for mapping in self.roles.iter().filter(|mapping| groups.contains(&mapping.group)) {
            let at = match grants.iter().position(|grant| grant.store == mapping.store) {
                Some(at) => at,
                None => {
                    grants.push(Grant {
                        store: mapping.store,
                        store_name: String::new(),
                        scopes: Vec::new(),
                    });
                    grants.len() - 1
                }
            };
            for scope in mapping.role.scopes() {
                if !grants[at].scopes.contains(scope) {
                    grants[at].scopes.push(*scope);
                }
            }
        }
        grants
    }
}

/// How people may sign in to the pages.
#[derive(Debug)]
pub struct SignInOptions {
    pub providers: Vec<Provider>,
    /// Whether the key-and-secret form is offered (the operator may turn it off).
    pub key_sign_in: bool,
    /// The address the pages are reached at from browsers (`https://lrs.example.com`),
    /// which the providers send people back to; `None`: the request's own scheme and host.
    pub public_url: Option<String>,
    pending: PendingSignIns,
}

impl Default for SignInOptions {
    fn default() -> SignInOptions {
        SignInOptions::new(Vec::new(), true, None)
    }
}

impl SignInOptions {
    pub fn new(providers: Vec<Provider>, key_sign_in: bool, public_url: Option<String>) -> SignInOptions {
        let public_url = public_url.map(|url| url.trim_end_matches('/').to_owned());
        SignInOptions { providers, key_sign_in, public_url, pending: PendingSignIns::default() }
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|provider| provider.id == id)
    }

    pub(crate) fn pending(&self) -> &PendingSignIns {
        &self.pending
    }
}

/// A sign-in that has left for its provider.
#[derive(Debug)]
pub(crate) struct Pending {
    pub provider: String,
    pub nonce: String,
    pub verifier: String,
    pub next: Option<String>,
    started: Instant,
}

/// The sign-ins on their way, by the digest of their `state`.
#[derive(Debug, Default)]
pub(crate) struct PendingSignIns {
    table: Arc<Mutex<HashMap<[u8; 32], Pending>>>,
}

impl PendingSignIns {
    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Pending>> {
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn keep(&self, state: &str, provider: &str, nonce: String, verifier: String, next: Option<String>) {
        let now = Instant::now();
        let mut table = self.lock();
        table.retain(|_, pending| now.duration_since(pending.started) < PENDING_FOR);
        if table.len() >= MAX_PENDING
            && let Some(oldest) = table.iter().min_by_key(|(_, p)| p.started).map(|(k, _)| *k)
        {
            table.remove(&oldest);
        }
        let pending = Pending { provider: provider.to_owned(), nonce, verifier, next, started: now };
        table.insert(Sha256::digest(state.as_bytes()).into(), pending);
    }

    /// The sign-in `state` names, once: taking it ends it.
    pub fn take(&self, state: &str) -> Option<Pending> {
        let pending = self.lock().remove(&<[u8; 32]>::from(Sha256::digest(state.as_bytes())))?;
        (pending.started.elapsed() < PENDING_FOR).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(roles: &[&str]) -> Provider {
        Provider {
            id: "id".into(),
            label: "Id".into(),
            party: RelyingParty {
                issuer: Arc::new(server::oidc::Issuer::new("https://id.example", Duration::ZERO)),
                client_id: "tally".into(),
                client_secret: None,
                scopes: "openid".into(),
                groups_claim: "groups".into(),
            },
            roles: roles.iter().map(|r| RoleGrant::parse(r).unwrap()).collect(),
        }
    }

    #[test]
    fn role_mappings_read_group_store_and_role() {
        assert_eq!(
            RoleGrant::parse("/tally/admins=1:admin"),
            Ok(RoleGrant { group: "/tally/admins".into(), store: StoreId::new(1), role: Role::Admin })
        );
        assert_eq!(RoleGrant::parse("a=b=2:viewer").unwrap().group, "a=b");
        for bad in ["admins", "admins=1", "admins=x:admin", "admins=1:owner", "=1:admin"] {
            assert!(RoleGrant::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_grant_the_union_of_their_roles_per_store_and_other_groups_nothing() {
        let provider = provider(&["staff=2:viewer", "trainers=2:editor", "it=1:admin", "staff=3:viewer"]);
        let groups = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            provider.grants(&groups(&["staff", "trainers", "sales"])),
            [
                Grant {
                    store: StoreId::new(2),
                    store_name: String::new(),
                    scopes: vec![Scope::InsightsRead, Scope::Insights]
                },
                Grant {
                    store: StoreId::new(3),
                    store_name: String::new(),
                    scopes: vec![Scope::InsightsRead]
                },
            ]
        );
        assert!(provider.grants(&groups(&["sales"])).is_empty());
    }

    #[test]
    fn a_pending_sign_in_is_taken_once() {
        let pending = PendingSignIns::default();
        pending.keep("s1", "okta", "n".into(), "v".into(), None);
        assert!(pending.take("s2").is_none());
        assert_eq!(pending.take("s1").map(|p| p.provider), Some("okta".to_owned()));
        assert!(pending.take("s1").is_none(), "a state is good for one callback");
    }
}
