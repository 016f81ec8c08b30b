//! `DELETE /admin/agents`: forgetting a person (the right to erasure), with the `admin`
//! scope, only where the operator has allowed it (`tally serve --allow-erasure`). Nothing
//! of the person is logged: requests are logged by path, and the answer holds counts only.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use store::erasure::Person;
use store::{AuditWriter, CredentialReader, PersonEraser, TenantReader};

use super::admin;
use crate::audit;
use crate::query::QueryParams;
use crate::{ApiError, AppConfig};

/// `DELETE /admin/agents?agent=<Agent, Group or Person JSON>[&dry_run=true][&store=ID]`
/// → 200 with what was (or, for a dry run, would be) removed and replaced. The store is
/// the credential's, or `store` for an admin of every store.
pub(super) async fn erase<S: PersonEraser + TenantReader + CredentialReader + AuditWriter + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let params = QueryParams::parse(req.query_string(), &["agent", "dry_run", "store"])?;
    let dry_run = params.boolean("dry_run")?;
    if !dry_run && !config.allow_erasure {
        return Err(ApiError::Forbidden(
            "erasure is not enabled: start tally serve with --allow-erasure (TALLY_ALLOW_ERASURE=true); \
             a dry run (dry_run=true) is always allowed"
                .into(),
        ));
    }
    let id = super::store_named(&principal, &params, store.get_ref()).await?;
    let person = Person::parse(params.require("agent")?)?;
    let report = store.erase_person(id, person, dry_run).await?;
    if !dry_run {
        // Counts only: the audit log outlives the erasure and must not name the person.
        crate::audit::record(
            store.get_ref(),
            &principal,
            crate::audit::ERASE,
            id,
            "",
            audit::erasure_details(&report),
        )
        .await;
    }
    Ok(HttpResponse::Ok().json(report))
}
