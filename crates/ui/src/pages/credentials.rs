//! `GET|POST /ui/credentials` and `POST /ui/credentials/{key}/revoke` (the `admin` scope):
//! list, create (the secret is shown on the answer to the form, once) and revoke. The rules
//! are the admin API's: an admin credential of the default store manages every store's
//! credentials, any other admin credential its own store's.

use actix_web::web::{Bytes, Path};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use server::scopes::Scope;
use server::{audit, credentials};
use store::{AuditWriter, Credential, CredentialReader, CredentialWriter, StoreError, StoreId};

use super::{notice, see_other, store};
use crate::layout::{self, Section};
use crate::session::{self, ADMIN, SignedIn, Viewer};
use crate::{PageError, format};

/// Whether the viewer manages this store's credentials.
fn administers(viewer: &Viewer, store: StoreId) -> bool {
    viewer.is_instance_admin() || viewer.store == store
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    revoked: String,
}

/// What the page shows above the list.
enum Outcome {
    None,
    Error(String),
    Created { key: String, secret: String },
    Revoked(String),
}

async fn render<S: CredentialReader>(
    viewer: &Viewer,
    store: &S,
    outcome: Outcome,
) -> Result<HttpResponse, PageError> {
    let scope = if viewer.is_instance_admin() { None } else { Some(viewer.store) };
    let listed = store.list_credentials(scope).await?;
    let body = html! {
        @match &outcome {
            Outcome::None => {}
            Outcome::Error(message) => { (notice("error", message)) }
            Outcome::Revoked(key) => { (notice("notice", &format!("Credential {key} is revoked: it stops working on its next request."))) }
            Outcome::Created { key, secret } => {
                div.notice role="status" {
                    p { strong { "New credential created." } " Copy the secret now: it is shown only this once, and Tally keeps only its digest." }
                    p { "Key: " code.secret #new-key { (key) } }
                    p { "Secret: " code.secret #new-secret { (secret) } }
                }
            }
        }
        section aria-labelledby="create-heading" {
            h2 #create-heading { "Create a credential" }
            (create_form(viewer))
        }
        section aria-labelledby="list-heading" {
            h2 #list-heading { "Credentials" }
            (list_table(viewer, &listed))
        }
    };
    Ok(layout::ok(layout::page(Some(viewer), Section::Credentials, "Credentials", body)))
}

fn create_form(viewer: &Viewer) -> Markup {
    html! {
        form method="post" action="/ui/credentials" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="name" { "Name " span.hint { "(who or what uses it)" } }
            input #name type="text" name="name" required maxlength="200";
            @if viewer.is_instance_admin() {
                label for="store" { "Store " span.hint { "(id; 1 is the default store)" } }
                input #store type="number" name="store" min="1" value=(viewer.store);
            } @else {
                input type="hidden" name="store" value=(viewer.store);
            }
            fieldset {
                legend { "Scopes" }
                @for scope in Scope::ALL {
                    label { input type="checkbox" name="scope" value=(scope); (scope) }
                }
            }
            p { button type="submit" { "Create" } }
        }
    }
}

fn list_table(viewer: &Viewer, listed: &[Credential]) -> Markup {
    html! {
        table #credentials {
            caption { "Credentials, oldest first" }
            thead { tr {
                th scope="col" { "Key" } th scope="col" { "Name" } th.num scope="col" { "Store" }
                th scope="col" { "Scopes" } th scope="col" { "Created" } th scope="col" { "State" } th scope="col" { "Action" }
            } }
            tbody {
                @for credential in listed {
                    tr data-key=(credential.key) {
                        th scope="row" { code { (credential.key) } }
                        td { (credential.name) }
                        td.num { (credential.store) }
                        td { (credential.scopes.join(", ")) }
                        td { (credential.created.to_rfc3339()) }
                        td.state { @if credential.revoked { "revoked" } @else { "active" } }
                        td {
                            @if !credential.revoked {
                                form method="post" action={"/ui/credentials/" (format::path_segment(&credential.key)) "/revoke"} {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button.secondary type="submit" aria-label={"Revoke " (credential.key)} {
                                        @if credential.key == viewer.key { "Revoke (signs you out)" } @else { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn list<S: SignedIn + 'static>(
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(ADMIN)?;
    let outcome =
        if query.revoked.is_empty() { Outcome::None } else { Outcome::Revoked(query.revoked.clone()) };
    render(&viewer, store::<S>(&req)?.get_ref(), outcome).await
}

/// A new credential as the form gives it (`scope` repeats, so the body is read by hand).
struct NewCredential {
    csrf: String,
    name: String,
    store: String,
    scopes: Vec<String>,
}

impl NewCredential {
    fn parse(body: &[u8]) -> NewCredential {
        let mut form = NewCredential {
            csrf: String::new(),
            name: String::new(),
            store: String::new(),
            scopes: Vec::new(),
        };
        for (name, value) in form_urlencoded::parse(body) {
            match name.as_ref() {
                "csrf" => form.csrf = value.into_owned(),
                "name" => form.name = value.trim().to_string(),
                "store" => form.store = value.trim().to_string(),
                "scope" => form.scopes.push(value.into_owned()),
                _ => {}
            }
        }
        form
    }

    /// The admin API's rules: a name of 1 to 200 characters, a store the viewer manages,
    /// at least one known scope. Answers the trimmed name and the store.
    fn check(&self, viewer: &Viewer) -> Result<(String, StoreId), String> {
        let name = credentials::checked_name(&self.name).map_err(|rule| format!("The name {rule}."))?;
        let store: StoreId =
            self.store.parse().map_err(|_| format!("There is no store {:?}.", self.store))?;
        if !administers(viewer, store) {
            return Err(format!("There is no store {store}."));
        }
        credentials::check_scopes(&self.scopes).map_err(|rule| format!("Scopes: {rule}."))?;
        Ok((name, store))
    }
}

/// `POST /ui/credentials` (csrf, name, store, scope…).
pub async fn create<S: CredentialWriter + SignedIn + AuditWriter + 'static>(
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(ADMIN)?;
    let form = NewCredential::parse(&body);
    viewer.check_csrf(&form.csrf)?;
    let store = store::<S>(&req)?.get_ref();
    let (name, store_id) = match form.check(&viewer) {
        Ok(checked) => checked,
        Err(message) => return render(&viewer, store, Outcome::Error(message)).await,
    };
    let new = credentials::generate(&name, store_id, form.scopes)
        .map_err(|e| server::ApiError::Internal(format!("no randomness for a secret: {e}")))?;
    match store.create_credential(new.credential.clone()).await {
        Ok(()) => {}
        Err(StoreError::Invalid { .. }) => {
            return render(&viewer, store, Outcome::Error(format!("There is no store {store_id}."))).await;
        }
        Err(e) => return Err(e.into()),
    }
    let details = audit::credential_details(&new.credential);
    audit::record_by(store, &viewer.key, "credential.create", store_id, &new.credential.key, details).await;
    render(&viewer, store, Outcome::Created { key: new.credential.key, secret: new.secret }).await
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/credentials/{key}/revoke` (csrf).
pub async fn revoke<S: CredentialWriter + SignedIn + AuditWriter + 'static>(
    req: HttpRequest,
    key: Path<String>,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(ADMIN)?;
    viewer.check_csrf(&form.csrf)?;
    let store = store::<S>(&req)?.get_ref();
    let credential =
        store.credential(&key).await?.filter(|c| administers(&viewer, c.store)).ok_or(PageError::NotFound)?;
    store.revoke_credential(&credential.key).await?;
    let details = audit::credential_details(&credential);
    audit::record_by(store, &viewer.key, "credential.revoke", credential.store, &credential.key, details)
        .await;
    Ok(see_other(&format::with_query("/ui/credentials", &format::query(&[("revoked", &credential.key)]))))
}
