//! Where each ticket field sits in the common helpdesk exports.

use std::fmt;
use std::str::FromStr;

use super::ImportError;

/// A field of [`super::Ticket`], by its name in Tally's own (`generic`) columns and in
/// `--map field=Column`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Source,
    ExternalId,
    Created,
    Resolved,
    Status,
    Category,
    Tags,
    Product,
    Requester,
    Priority,
    Channel,
    Subject,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Source,
        Field::ExternalId,
        Field::Created,
        Field::Resolved,
        Field::Status,
        Field::Category,
        Field::Tags,
        Field::Product,
        Field::Requester,
        Field::Priority,
        Field::Channel,
        Field::Subject,
    ];

    /// The field's name: its column in the `generic` preset and its key in `--map`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Source => "source",
            Field::ExternalId => "external_id",
            Field::Created => "created",
            Field::Resolved => "resolved",
            Field::Status => "status",
            Field::Category => "category",
            Field::Tags => "tags",
            Field::Product => "product",
            Field::Requester => "requester",
            Field::Priority => "priority",
            Field::Channel => "channel",
            Field::Subject => "subject",
        }
    }

    /// The field named `name` (case-insensitive; `id` is `external_id`).
    pub fn from_name(name: &str) -> Option<Field> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("id") {
            return Some(Field::ExternalId);
        }
        Field::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a tags cell is cut into tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// The whole cell is one tag (a ServiceNow subcategory).
    Whole,
    /// Whitespace or commas: Zendesk tags and Jira labels, which cannot contain spaces.
    Words,
    /// Semicolons or commas: Tally's own `tags` column and ServiceNow `sys_tags`.
    List,
}

/// A column that may hold a field, by its header (matched trimmed and case-insensitively;
/// every column with that header counts, so a repeated header such as Jira's `Labels` is
/// read whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColumnSpec {
    pub header: String,
    pub split: Split,
}

/// A helpdesk export layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Preset {
    /// Zendesk's ticket CSV/JSON export.
    Zendesk,
    /// A ServiceNow incident list export.
    ServiceNow,
    /// Jira's "Export Excel CSV (all fields)" issue export.
    Jira,
    /// Tally's own column names ([`Field::name`]).
    #[default]
    Generic,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::Zendesk, Preset::ServiceNow, Preset::Jira, Preset::Generic];

    /// The preset's name, as accepted by `FromStr` and used as a ticket's default `source`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Zendesk => "zendesk",
            Preset::ServiceNow => "servicenow",
            Preset::Jira => "jira",
            Preset::Generic => "generic",
        }
    }

    /// How this preset splits a tags cell, also for a `tags` column given with `--map`.
    pub(crate) fn tag_split(self) -> Split {
        match self {
            Preset::Zendesk | Preset::Jira => Split::Words,
            Preset::ServiceNow | Preset::Generic => Split::List,
        }
    }

    /// The columns that may hold `field`, in order of preference: a single-valued field
    /// takes the first non-empty cell among them; tags are gathered from all of them.
    pub(crate) fn columns(self, field: Field) -> Vec<ColumnSpec> {
        let split = if field == Field::Tags { self.tag_split() } else { Split::Whole };
        let plain = |headers: &[&str]| {
            headers.iter().map(|h| ColumnSpec { header: (*h).to_owned(), split }).collect::<Vec<_>>()
        };
        match (self, field) {
            (Preset::Generic, field) => plain(&[field.name()]),
            // Only the generic layout has a per-row source; presets name it after themselves.
            (_, Field::Source) => Vec::new(),

            (Preset::Zendesk, Field::ExternalId) => plain(&["Id", "Ticket ID"]),
            (Preset::Zendesk, Field::Created) => plain(&["Created at", "created_at"]),
            // The API has no solved time on a ticket; its sideloaded metric set has.
            (Preset::Zendesk, Field::Resolved) => plain(&["Solved at", "metric_set.solved_at"]),
            (Preset::Zendesk, Field::Status) => plain(&["Status"]),
            (Preset::Zendesk, Field::Category) => plain(&["Ticket type", "Type"]),
            (Preset::Zendesk, Field::Tags) => plain(&["Tags"]),
            // Zendesk has no product field of its own; accounts that track one use a custom
            // field, exported under its title. Without one, the group the ticket was routed
            // to is the closest thing (teams are usually organised per product or module).
            (Preset::Zendesk, Field::Product) => plain(&["Product", "Module", "Group", "group.name"]),
            // The API names the requester by id; the connector puts the sideloaded user in its place.
            (Preset::Zendesk, Field::Requester) => plain(&["Requester email", "requester.email"]),
            (Preset::Zendesk, Field::Priority) => plain(&["Priority"]),
            (Preset::Zendesk, Field::Channel) => plain(&["Via", "via.channel"]),
            (Preset::Zendesk, Field::Subject) => plain(&["Subject"]),

            (Preset::ServiceNow, Field::ExternalId) => plain(&["number"]),
            (Preset::ServiceNow, Field::Created) => plain(&["opened_at", "sys_created_on"]),
            (Preset::ServiceNow, Field::Resolved) => plain(&["resolved_at"]),
            (Preset::ServiceNow, Field::Status) => plain(&["state", "incident_state"]),
            (Preset::ServiceNow, Field::Category) => plain(&["category"]),
            // ServiceNow has no labels on incidents but `sys_tags`; the subcategory
            // ("Installation" under "Software") is what a goal filters on, so it is a tag.
            (Preset::ServiceNow, Field::Tags) => vec![
                ColumnSpec { header: "sys_tags".into(), split: Split::List },
                ColumnSpec { header: "subcategory".into(), split: Split::Whole },
            ],
            (Preset::ServiceNow, Field::Product) => plain(&["cmdb_ci", "business_service"]),
            // `caller_id` exports as the caller's display name unless the list had the
            // dot-walked `caller_id.email` column, which is preferred.
            (Preset::ServiceNow, Field::Requester) => plain(&["caller_id.email", "caller_id"]),
            (Preset::ServiceNow, Field::Priority) => plain(&["priority"]),
            (Preset::ServiceNow, Field::Channel) => plain(&["contact_type"]),
            (Preset::ServiceNow, Field::Subject) => plain(&["short_description"]),

            // Each field has the export's column, then where the REST API's issue JSON has it.
            (Preset::Jira, Field::ExternalId) => plain(&["Issue key", "key"]),
            (Preset::Jira, Field::Created) => plain(&["Created", "fields.created"]),
            (Preset::Jira, Field::Resolved) => plain(&["Resolved", "fields.resolutiondate"]),
            (Preset::Jira, Field::Status) => plain(&["Status", "fields.status.name"]),
            (Preset::Jira, Field::Category) => plain(&["Issue Type", "fields.issuetype.name"]),
            // Jira repeats the `Labels` header once per label of the most-labelled issue.
            (Preset::Jira, Field::Tags) => plain(&["Labels", "fields.labels"]),
            // Likewise `Component/s`; the first non-empty one is the product.
            (Preset::Jira, Field::Product) => plain(&["Component/s", "Components", "fields.components.name"]),
            // The API shows the reporter's address only where their privacy settings allow; their
            // display name is no way to link them, so without an address there is no requester.
            (Preset::Jira, Field::Requester) => {
                plain(&["Reporter email", "Reporter", "fields.reporter.emailAddress"])
            }
            (Preset::Jira, Field::Priority) => plain(&["Priority", "fields.priority.name"]),
            (Preset::Jira, Field::Channel) => plain(&["Custom field (Request Type)", "Request Type"]),
            (Preset::Jira, Field::Subject) => plain(&["Summary", "fields.summary"]),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = ImportError;

    /// `zendesk`, `servicenow` (or `service-now`), `jira`, `generic`; any case.
    fn from_str(text: &str) -> Result<Preset, ImportError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("service-now") {
            return Ok(Preset::ServiceNow);
        }
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| ImportError::UnknownPreset(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_by_name() {
        for preset in Preset::ALL {
            assert_eq!(preset.name().to_uppercase().parse::<Preset>().unwrap(), preset);
        }
        assert_eq!("service-now".parse::<Preset>().unwrap(), Preset::ServiceNow);
        assert!(matches!("freshdesk".parse::<Preset>(), Err(ImportError::UnknownPreset(_))));
    }

    #[test]
    fn every_preset_knows_the_required_fields() {
        for preset in Preset::ALL {
            assert!(!preset.columns(Field::ExternalId).is_empty(), "{preset}");
            assert!(!preset.columns(Field::Created).is_empty(), "{preset}");
        }
    }

    #[test]
    fn fields_parse_by_name() {
        for field in Field::ALL {
            assert_eq!(Field::from_name(&field.name().to_uppercase()), Some(field));
        }
        assert_eq!(Field::from_name("id"), Some(Field::ExternalId));
        assert_eq!(Field::from_name("assignee"), None);
    }
}
