//! `tally forward add|list|remove|enable|disable`: a store's forwarding rules, as the admin
//! API manages them (`/admin/stores/{id}/forwarding`).

use anyhow::{Result, bail};
use serde_json::json;
use server::audit::{self, CONSOLE};
use store::forwarding::{ForwardingFilter, ForwardingStore, NewForwarding};
use store::{AuditWriter, RollupReader, TenantReader};

use crate::config::ForwardCommand;

pub async fn forward<S: ForwardingStore + TenantReader + RollupReader + AuditWriter>(
    store: &S,
    command: ForwardCommand,
) -> Result<()> {
    match command {
        ForwardCommand::Add {
            url,
            key,
            secret,
            secret_key,
            store: id,
            verbs,
            activity_prefix,
            max_attempts,
        } => {
            if store.store_info(id).await?.is_none_or(|info| info.revoked) {
                bail!("there is no live store {id}");
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("--url: must be the target's xAPI base URL, http:// or https://");
            }
            if let Some(verb) = verbs.iter().find(|v| !xapi::is_valid_iri(v)) {
                bail!("--verb: {verb:?} is not an IRI");
            }
            let filter =
                ForwardingFilter { verbs, activity_prefix: activity_prefix.filter(|p| !p.is_empty()) };
            let url = url.trim_end_matches('/').to_string();
            let secret_key = secret_key
                .as_deref()
                .map(insights::connectors::SecretKey::from_base64)
                .transpose()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let secret = server::forwarding_secret::stored(secret_key.as_ref(), id, &url, &secret);
            let rule = store
                .create_forwarding(NewForwarding {
                    store: id,
                    url,
                    key,
                    secret,
                    filter,
                    max_attempts: max_attempts.clamp(1, 100),
                })
                .await?;
            let details = audit::forwarding_details(&rule);
            audit::record_by(store, CONSOLE, "forwarding.create", id, rule.id.to_string(), details).await;
            println!("id: {}", rule.id);
        }
        ForwardCommand::List { store: id } => {
            for rule in store.forwarding_rules(id).await? {
                let lag = store.ingest_head(rule.store).await?.since(rule.delivered);
                let state = if rule.enabled { "on" } else { "off" };
                let error = rule.last_error.as_deref().unwrap_or("-");
                println!(
                    "{}\tstore {}\t{}\t{state}\tlag {lag}\tdead letters {}\tlast error: {error}",
                    rule.id, rule.store, rule.url, rule.dead_letters
                );
            }
        }
        ForwardCommand::Remove { store: id, rule } => {
            if !store.delete_forwarding(id, rule).await? {
                bail!("store {id} has no forwarding rule {rule}");
            }
            audit::record_by(store, CONSOLE, "forwarding.delete", id, rule.to_string(), json!({})).await;
            println!("removed rule {rule}");
        }
        ForwardCommand::Enable { store: id, rule } | ForwardCommand::Disable { store: id, rule } => {
            let on = matches!(command, ForwardCommand::Enable { .. });
            if !store.enable_forwarding(id, rule, on).await? {
                bail!("store {id} has no forwarding rule {rule}");
            }
            let action = if on { "forwarding.enable" } else { "forwarding.disable" };
            audit::record_by(store, CONSOLE, action, id, rule.to_string(), json!({})).await;
            println!("rule {rule} is {}", if on { "on" } else { "off" });
        }
    }
    Ok(())
}
