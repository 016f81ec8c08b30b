//! CSV exports (RFC 4180, UTF-8 with or without a byte-order mark, first row the header).

use std::io::Read;

use super::plan::{Cells, Layout, Plan};
use super::presets::Field;
use super::{ImportError, ImportOptions, RowError, Ticket};

/// The tickets of a CSV export, read one record at a time.
#[derive(Debug)]
pub struct CsvTickets<R> {
    reader: csv::Reader<R>,
    plan: Plan,
    layout: Layout,
    headers: Vec<String>,
    record: csv::ByteRecord,
    /// The row number of the record last read (the header is row 1).
    row: u64,
    done: bool,
}

/// Reads a CSV export. The header is read here, so a header without the preset's (or the
/// mapping's) id and creation-date columns fails at once rather than on every row.
pub fn read_csv<R: Read>(input: R, options: &ImportOptions) -> Result<CsvTickets<R>, ImportError> {
    let plan = Plan::new(options)?;
    // csv-core strips a leading UTF-8 byte-order mark itself. Records of another length
    // than the header are refused (reported per row), not padded: a short row usually
    // means cells shifted into the wrong columns.
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(false).from_reader(input);
    let mut header = csv::ByteRecord::new();
    let headers: Vec<String> = match reader.read_byte_record(&mut header) {
        Ok(true) => header
            .iter()
            .map(|h| String::from_utf8(h.to_vec()).map(|h| h.trim_start_matches('\u{feff}').to_owned()))
            .collect::<Result<_, _>>()
            .map_err(|_| ImportError::Header("it is not UTF-8".into()))?,
        Ok(false) => Vec::new(),
        Err(e) => return Err(ImportError::Header(e.to_string())),
    };
    let layout = plan.layout(&headers);
    for field in [Field::ExternalId, Field::Created] {
        if !plan.has(&layout, field) {
            return Err(ImportError::MissingColumn {
                field: field.name(),
                expected: plan.wanted(field).map(str::to_owned).collect(),
                found: headers,
            });
        }
    }
    Ok(CsvTickets { reader, plan, layout, headers, record: csv::ByteRecord::new(), row: 1, done: false })
}

struct CsvCells<'a> {
    headers: &'a [String],
    values: Vec<&'a str>,
}

impl Cells for CsvCells<'_> {
    fn value(&self, index: usize) -> &str {
        self.values.get(index).copied().unwrap_or_default()
    }

    fn header(&self, index: usize) -> &str {
        self.headers.get(index).map(String::as_str).unwrap_or_default()
    }
}

impl<R: Read> CsvTickets<R> {
    fn current(&self) -> Result<Ticket, RowError> {
        let mut values = Vec::with_capacity(self.record.len());
        for (i, cell) in self.record.iter().enumerate() {
            let cell = std::str::from_utf8(cell).map_err(|_| {
                let column = self.headers.get(i).cloned();
                RowError::new(self.row, column, "is not UTF-8 text (save the export as UTF-8)")
            })?;
            values.push(cell);
        }
        let cells = CsvCells { headers: &self.headers, values };
        self.plan
            .ticket(&self.layout, &cells)
            .map_err(|(column, reason)| RowError::new(self.row, column, reason))
    }
}

impl<R: Read> Iterator for CsvTickets<R> {
    type Item = Result<Ticket, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {
                self.row += 1;
                Some(self.current())
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Err(error) => match error.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    self.row += 1;
                    let reason = format!("has {len} cells where the header has {expected_len}");
                    Some(Err(RowError::new(self.row, None, reason)))
                }
                _ => {
                    self.done = true;
                    Some(Err(RowError::fatal(self.row + 1, format!("cannot read the file: {error}"))))
                }
            },
        }
    }
}
