//! From import options and a row's cells to a [`Ticket`]: the part shared by every input
//! format. A reader finds the header names (once for CSV, per object for JSON), asks for
//! a [`Layout`], and turns each row into a ticket or a rejection with [`Plan::ticket`].

use jiff::tz::TimeZone;

use super::dates::parse_instant;
use super::model::parse_requester;
use super::presets::{ColumnSpec, Field, Split};
use super::{ImportError, ImportOptions, Ticket};

/// Import options checked and resolved: the columns to look for per field, the time zone.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The `source` option, which wins over a `source` column.
    source: Option<String>,
    /// The source of tickets whose file and options name none: the preset's name.
    default_source: &'static str,
    time_zone: TimeZone,
    account_home_page: Option<String>,
    /// Indexed by [`Field::index`].
    columns: Vec<Vec<ColumnSpec>>,
}

/// Where a plan's columns sit in one header: per field, per wanted column, the indices of
/// every cell under that header.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    cells: Vec<Vec<(Vec<usize>, Split)>>,
}

/// Why a row was refused: the column (as the file names it) and the reason.
pub(crate) type Rejection = (Option<String>, String);

/// A row's cells, by position, with their headers.
pub(crate) trait Cells {
    fn value(&self, index: usize) -> &str;
    fn header(&self, index: usize) -> &str;
}

/// A header as it is compared: trimmed, without a byte-order mark, lowercased.
pub(crate) fn normalise_header(header: &str) -> String {
    header.trim_start_matches('\u{feff}').trim().to_lowercase()
}

impl Plan {
    pub(crate) fn new(options: &ImportOptions) -> Result<Plan, ImportError> {
        let preset = options.preset;
        let mut columns: Vec<Vec<ColumnSpec>> = Field::ALL.iter().map(|f| preset.columns(*f)).collect();
        // `--map` replaces the preset's columns for a field; several for one field are
        // tried in the order given (and all read, for tags).
        let mut mapped = vec![false; Field::ALL.len()];
        for (name, column) in &options.map {
            let field = Field::from_name(name).ok_or_else(|| ImportError::UnknownField(name.clone()))?;
            if column.trim().is_empty() {
                return Err(ImportError::EmptyMapping(field.name()));
            }
            let list = &mut columns[field.index()];
            if !std::mem::replace(&mut mapped[field.index()], true) {
                list.clear();
            }
            let split = if field == Field::Tags { preset.tag_split() } else { Split::Whole };
            list.push(ColumnSpec { header: column.trim().to_owned(), split });
        }
        let time_zone = TimeZone::get(options.timezone.trim()).map_err(|e| ImportError::UnknownTimeZone {
            name: options.timezone.clone(),
            reason: e.to_string(),
        })?;
        let account_home_page = match options.account_home_page.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(home) if xapi::is_valid_iri(home) && home.contains("://") => Some(home.to_owned()),
            Some(home) => return Err(ImportError::InvalidHomePage(home.to_owned())),
        };
        let source = options.source.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Plan { source, default_source: preset.name(), time_zone, account_home_page, columns })
    }

    /// The columns wanted for `field`, as named in the preset or the mapping.
    pub(crate) fn wanted(&self, field: Field) -> impl Iterator<Item = &str> {
        self.columns[field.index()].iter().map(|c| c.header.as_str())
    }

    /// Finds the plan's columns in a header.
    pub(crate) fn layout<S: AsRef<str>>(&self, headers: &[S]) -> Layout {
        let normalised: Vec<String> = headers.iter().map(|h| normalise_header(h.as_ref())).collect();
        let cells = self
            .columns
            .iter()
            .map(|specs| {
                specs
                    .iter()
                    .map(|spec| {
                        let wanted = normalise_header(&spec.header);
                        let at = normalised.iter().enumerate().filter(|(_, h)| **h == wanted).map(|(i, _)| i);
                        (at.collect(), spec.split)
                    })
                    .collect()
            })
            .collect();
        Layout { cells }
    }

    /// Whether a header has a column for `field`.
    pub(crate) fn has(&self, layout: &Layout, field: Field) -> bool {
        layout.cells[field.index()].iter().any(|(at, _)| !at.is_empty())
    }

    /// One row as a ticket, or the column and reason it was refused for.
    pub(crate) fn ticket(&self, layout: &Layout, cells: &impl Cells) -> Result<Ticket, Rejection> {
        let external_id = self.required(layout, cells, Field::ExternalId, "a ticket needs an id")?;
        let (created_text, created_at) =
            self.required(layout, cells, Field::Created, "a ticket needs the time it was opened")?;
        let created = parse_instant(created_text, &self.time_zone)
            .map_err(|reason| (Some(cells.header(created_at).to_owned()), reason))?;
        let resolved = match first(layout, cells, Field::Resolved) {
            None => None,
            Some((text, at)) => {
                let column = || Some(cells.header(at).to_owned());
                let resolved = parse_instant(text, &self.time_zone).map_err(|reason| (column(), reason))?;
                if resolved < created {
                    return Err((
                        column(),
                        format!("{text:?} is before the ticket was opened ({created_text:?})"),
                    ));
                }
                Some(resolved)
            }
        };
        let requester = match first(layout, cells, Field::Requester) {
            None => None,
            Some((text, at)) => parse_requester(text, self.account_home_page.as_deref())
                .map_err(|reason| (Some(cells.header(at).to_owned()), reason))?,
        };
        let text = |field| first(layout, cells, field).map(|(t, _)| t.to_owned()).unwrap_or_default();
        Ok(Ticket {
            source: match &self.source {
                Some(source) => source.clone(),
                None => {
                    first(layout, cells, Field::Source).map_or(self.default_source, |(t, _)| t).to_owned()
                }
            },
            external_id: external_id.0.to_owned(),
            created,
            resolved,
            status: text(Field::Status),
            category: text(Field::Category),
            tags: tags(layout, cells),
            product: text(Field::Product),
            requester,
            priority: text(Field::Priority),
            channel: text(Field::Channel),
            subject: text(Field::Subject),
        })
    }

    /// The first non-empty cell of a required field, or the rejection naming its column.
    fn required<'c>(
        &self,
        layout: &Layout,
        cells: &'c impl Cells,
        field: Field,
        why: &str,
    ) -> Result<(&'c str, usize), Rejection> {
        if let Some(found) = first(layout, cells, field) {
            return Ok(found);
        }
        let present = layout.cells[field.index()].iter().flat_map(|(at, _)| at).next();
        Err(match present {
            Some(&at) => (Some(cells.header(at).to_owned()), format!("is empty; {why}")),
            None => {
                let column = self.wanted(field).next().unwrap_or(field.name()).to_owned();
                (Some(column), format!("is missing; {why}"))
            }
        })
    }
}

/// The first non-empty (trimmed) cell for `field`, with its index.
fn first<'c>(layout: &Layout, cells: &'c impl Cells, field: Field) -> Option<(&'c str, usize)> {
    layout.cells[field.index()]
        .iter()
        .flat_map(|(at, _)| at)
        .map(|&i| (cells.value(i).trim(), i))
        .find(|(v, _)| !v.is_empty())
}

/// Every tag from every tags column, lowercased, first occurrence kept.
fn tags(layout: &Layout, cells: &impl Cells) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for (at, split) in &layout.cells[Field::Tags.index()] {
        for &i in at {
            let value = cells.value(i);
            let pieces: Box<dyn Iterator<Item = &str>> = match split {
                Split::Whole => Box::new(std::iter::once(value)),
                Split::Words => Box::new(value.split(|c: char| c.is_whitespace() || c == ',')),
                Split::List => Box::new(value.split([';', ','])),
            };
            for piece in pieces {
                let tag = piece.trim().to_lowercase();
                if !tag.is_empty() && !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
    }
    tags
}
