//! What an imported support ticket is, and how its requester links to xAPI actors.

use sha1::{Digest, Sha1};

/// One support ticket from a helpdesk export, in Tally's own terms whatever the helpdesk
/// called its columns. Fields the file did not have are empty strings or `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Which helpdesk (or import) the ticket came from; with `external_id` it identifies
    /// the ticket, so importing the same export twice updates instead of duplicating.
    pub source: String,
    /// The helpdesk's own id (`Id`, `number`, `Issue key`, …), as written.
    pub external_id: String,
    /// When the ticket was opened: microseconds since the Unix epoch, UTC.
    pub created: i64,
    /// When it was resolved (microseconds since the epoch, UTC), if it was; never before
    /// `created`.
    pub resolved: Option<i64>,
    /// The helpdesk's status as written (`Solved`, `Closed`, `In Progress`, …).
    pub status: String,
    /// What kind of ticket it is (Zendesk ticket type, ServiceNow category, Jira issue type).
    pub category: String,
    /// Labels, lowercased, trimmed, without duplicates, in first-seen order. Helpdesks
    /// treat tags case-insensitively in practice (`Install` and `install` are one tag).
    pub tags: Vec<String>,
    /// The product or module the ticket is about.
    pub product: String,
    /// Who asked; `None` when the export names nobody.
    pub requester: Option<Requester>,
    pub priority: String,
    /// How the ticket arrived (Zendesk `Via`, ServiceNow `contact_type`: web, email, chat…).
    pub channel: String,
    pub subject: String,
}

/// The person who opened a ticket, in a form that can be matched to xAPI actors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Requester {
    /// An email address, lowercased whole (see [`Requester::actor_keys`]).
    Email(String),
    /// A helpdesk user name that is not an email, linked to xAPI actors whose `account` has
    /// this `homePage` and `name` (the import's configured account home page).
    Account { home_page: String, name: String },
}

impl Requester {
    /// The canonical xAPI agent keys (the strings of `xapi::AgentKey`) of the actors this
    /// requester is.
    ///
    /// For an email: `mbox:mailto:<email>` and `mbox_sha1sum:<sha1 hex of "mailto:<email>">`,
    /// with the email lowercased whole. `xapi::AgentKey` lowercases only the `mailto:` scheme
    /// and the domain (the local part of an address is case-sensitive by RFC 5321), while
    /// helpdesks and people treat addresses case-insensitively. So these keys equal the
    /// actor's `AgentKey` whenever the statement's local part is lowercase (the usual case);
    /// to also link `mailto:Jane.Doe@…`, match `mbox:` keys on their lowercased form. A
    /// `mbox_sha1sum` links only when the statement's sender hashed the lowercased address.
    ///
    /// For an account: `account:<homePage> <name>`, exactly (account names are
    /// case-sensitive in xAPI).
    pub fn actor_keys(&self) -> Vec<String> {
        match self {
            Requester::Email(email) => {
                let mbox = format!("mailto:{}", email.to_lowercase());
                let digest = Sha1::digest(mbox.as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                vec![format!("mbox:{mbox}"), format!("mbox_sha1sum:{hex}")]
            }
            Requester::Account { home_page, name } => vec![format!("account:{home_page} {name}")],
        }
    }
}

/// Reads a requester cell: an email address (optionally as `mailto:…` or
/// `Display Name <address>`) becomes [`Requester::Email`]; any other name becomes an
/// [`Requester::Account`] on `account_home_page`. An empty cell is no requester.
///
/// Errors (the reason of a rejected row): a value with an `@` that is not one valid
/// address, and a name that is not an email when no account home page is configured,
/// since such a ticket could never be linked to anyone.
pub(crate) fn parse_requester(
    value: &str,
    account_home_page: Option<&str>,
) -> Result<Option<Requester>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let mut address = value;
    // `Jane Doe <jane@example.com>`: the form mail clients and some helpdesks export.
    if let (Some(open), true) = (address.rfind('<'), address.ends_with('>')) {
        address = address[open + 1..address.len() - 1].trim();
    }
    if address.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("mailto:")) {
        address = &address[7..];
    }
    if address.contains('@') {
        let email = address.to_lowercase();
        let plausible =
            !email.contains(char::is_whitespace) && xapi::is_valid_mailto_iri(&format!("mailto:{email}"));
        return if plausible {
            Ok(Some(Requester::Email(email)))
        } else {
            Err(format!("{value:?} is not a valid email address"))
        };
    }
    match account_home_page {
        Some(home_page) => {
            Ok(Some(Requester::Account { home_page: home_page.to_owned(), name: value.to_owned() }))
        }
        None => Err(format!(
            "{value:?} is not an email address; configure an account home page to link \
             requester names to xAPI accounts"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_keys_are_lowercased_mbox_and_sha1() {
        let requester = parse_requester(" Jane.Doe@Customer.Example ", None).unwrap().unwrap();
        assert_eq!(requester, Requester::Email("jane.doe@customer.example".into()));
        let keys = requester.actor_keys();
        assert_eq!(keys[0], "mbox:mailto:jane.doe@customer.example");
        // sha1("mailto:jane.doe@customer.example"), computed independently.
        let expected: String =
            Sha1::digest(b"mailto:jane.doe@customer.example").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(keys[1], format!("mbox_sha1sum:{expected}"));
        assert_eq!(keys[1].len(), "mbox_sha1sum:".len() + 40);
    }

    #[test]
    fn email_keys_match_xapi_agent_keys_for_lowercase_local_parts() {
        let actor = serde_json::json!({"mbox": "MAILTO:jane.doe@CUSTOMER.example"});
        let key = xapi::AgentKey::of(actor.as_object().unwrap()).unwrap();
        let requester = Requester::Email("jane.doe@customer.example".into());
        assert_eq!(requester.actor_keys()[0], key.as_str());
        let hashed = serde_json::json!({"mbox_sha1sum": requester.actor_keys()[1]["mbox_sha1sum:".len()..].to_uppercase()});
        let key = xapi::AgentKey::of(hashed.as_object().unwrap()).unwrap();
        assert_eq!(requester.actor_keys()[1], key.as_str());
    }

    #[test]
    fn display_name_and_mailto_forms_are_emails() {
        for value in ["Jane Doe <jane@example.com>", "mailto:jane@example.com", "MAILTO:Jane@Example.com"] {
            assert_eq!(
                parse_requester(value, None).unwrap(),
                Some(Requester::Email("jane@example.com".into())),
                "{value}"
            );
        }
    }

    #[test]
    fn names_become_accounts_only_with_a_home_page() {
        assert!(parse_requester("jdoe", None).unwrap_err().contains("account home page"));
        let requester = parse_requester("jdoe", Some("https://sso.example.com")).unwrap().unwrap();
        assert_eq!(requester.actor_keys(), vec!["account:https://sso.example.com jdoe".to_string()]);
    }

    #[test]
    fn broken_addresses_are_refused_and_empty_is_nobody() {
        for value in ["jane@", "@example.com", "a@b.com, c@d.com", "jane doe@example.com"] {
            assert!(parse_requester(value, Some("https://h.example")).is_err(), "{value}");
        }
        assert_eq!(parse_requester("  ", None).unwrap(), None);
    }
}
