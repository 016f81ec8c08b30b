//! JSON exports: one array of objects, or one object per line (NDJSON). Each object's keys
//! are the column names a CSV export of the same preset has; a nested object's keys are
//! joined with dots (`{"caller_id": {"email": …}}` is the column `caller_id.email`), and an
//! array is the same column repeated (`{"tags": ["install", "windows"]}`).
//!
//! A JSON array is never parsed whole: a small scanner finds where each element ends (it
//! tracks strings, escapes and bracket depth, nothing else) and hands only that element's
//! bytes to `serde_json`. So memory stays at one element, and an element that is not valid
//! JSON is one rejected row while the elements around it still import.

use std::io::{self, BufRead, BufReader, Read};

use serde_json::Value;

use super::plan::{Cells, Plan};
use super::{ImportError, ImportOptions, RowError, Ticket};

/// The largest element or line accepted; a bigger one is a rejected row (helpdesk tickets
/// with their whole description are a few kilobytes).
const MAX_ELEMENT_BYTES: usize = 8 << 20;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The tickets of a JSON array export, read one element at a time.
#[derive(Debug)]
pub struct JsonArrayTickets<R> {
    input: BufReader<R>,
    plan: Plan,
    element: Vec<u8>,
    /// The position of the element last read, from 1.
    row: u64,
    state: ArrayState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArrayState {
    /// Just after `[`.
    First,
    /// Just after an element.
    Between,
    Done,
}

/// Reads a JSON array export. Fails at once when the input does not start with `[` (after
/// an optional byte-order mark and whitespace).
pub fn read_json_array<R: Read>(
    input: R,
    options: &ImportOptions,
) -> Result<JsonArrayTickets<R>, ImportError> {
    let plan = Plan::new(options)?;
    let mut input = BufReader::with_capacity(64 << 10, input);
    skip_bom(&mut input).map_err(|e| ImportError::NotAnArray(e.to_string()))?;
    match next_significant(&mut input) {
        Ok(Some(b'[')) => {}
        Ok(Some(other)) => {
            return Err(ImportError::NotAnArray(format!("it starts with {:?}, not '['", char::from(other))));
        }
        Ok(None) => return Err(ImportError::NotAnArray("the input is empty".into())),
        Err(e) => return Err(ImportError::NotAnArray(e.to_string())),
    }
    Ok(JsonArrayTickets { input, plan, element: Vec::new(), row: 0, state: ArrayState::First })
}

impl<R: Read> JsonArrayTickets<R> {
    fn fail(&mut self, row: u64, reason: impl Into<String>) -> Option<Result<Ticket, RowError>> {
        self.state = ArrayState::Done;
        Some(Err(RowError::fatal(row, reason)))
    }

    /// After the closing `]`, only whitespace may follow.
    fn finish(&mut self) -> Option<Result<Ticket, RowError>> {
        self.state = ArrayState::Done;
        match next_significant(&mut self.input) {
            Ok(None) => None,
            Ok(Some(_)) => self.fail(self.row + 1, "unexpected data after the array's closing ']'"),
            Err(e) => self.fail(self.row + 1, format!("cannot read the file: {e}")),
        }
    }
}

impl<R: Read> Iterator for JsonArrayTickets<R> {
    type Item = Result<Ticket, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = self.row + 1;
        let first = match self.state {
            ArrayState::Done => return None,
            ArrayState::First => match next_significant(&mut self.input) {
                Ok(Some(b']')) => return self.finish(),
                Ok(Some(byte)) => byte,
                Ok(None) => return self.fail(row, "the file ends before the array's closing ']'"),
                Err(e) => return self.fail(row, format!("cannot read the file: {e}")),
            },
            ArrayState::Between => match next_significant(&mut self.input) {
                Ok(Some(b',')) => match next_significant(&mut self.input) {
                    // A trailing comma is not JSON, but it is harmless and common in
                    // hand-edited files.
                    Ok(Some(b']')) => return self.finish(),
                    Ok(Some(byte)) => byte,
                    Ok(None) => return self.fail(row, "the file ends before the array's closing ']'"),
                    Err(e) => return self.fail(row, format!("cannot read the file: {e}")),
                },
                Ok(Some(b']')) => return self.finish(),
                Ok(Some(other)) => {
                    let reason = format!(
                        "expected ',' or ']' after element {}, found {:?}",
                        self.row,
                        char::from(other)
                    );
                    return self.fail(row, reason);
                }
                Ok(None) => return self.fail(row, "the file ends before the array's closing ']'"),
                Err(e) => return self.fail(row, format!("cannot read the file: {e}")),
            },
        };
        self.row = row;
        self.state = ArrayState::Between;
        let oversized = match read_element(&mut self.input, first, &mut self.element) {
            Ok(Some(oversized)) => oversized,
            Ok(None) => return self.fail(row, "the file ends inside this element"),
            Err(e) => return self.fail(row, format!("cannot read the file: {e}")),
        };
        if oversized {
            return Some(Err(RowError::new(row, None, format!("is larger than {MAX_ELEMENT_BYTES} bytes"))));
        }
        Some(object_ticket(&self.plan, row, &self.element))
    }
}

/// Reads the element that starts with `first` (already consumed) into `element`. Returns
/// whether it was too large to keep (its bytes are then dropped), or `None` when the input
/// ends inside it.
fn read_element<R: Read>(
    input: &mut BufReader<R>,
    first: u8,
    element: &mut Vec<u8>,
) -> io::Result<Option<bool>> {
    element.clear();
    element.push(first);
    let mut scan = Scan::new(first);
    let mut oversized = false;
    loop {
        if scan.complete() {
            return Ok(Some(oversized));
        }
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            // A bare scalar (`42`) may end at the end of input; the caller then reports
            // the missing `]`.
            return Ok(scan.bare().then_some(oversized));
        }
        let (taken, ended) = match scan.feed(chunk) {
            Some(n) => (n, true),
            None => (chunk.len(), false),
        };
        if !oversized && element.len() + taken <= MAX_ELEMENT_BYTES {
            element.extend_from_slice(&chunk[..taken]);
        } else {
            oversized = true;
            element.clear();
        }
        input.consume(taken);
        if ended {
            return Ok(Some(oversized));
        }
    }
}

/// Finds where one JSON value ends without parsing it.
#[derive(Debug)]
struct Scan {
    kind: Kind,
    depth: u32,
    in_string: bool,
    escaped: bool,
    done: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Container,
    String,
    /// A number, `true`, `false` or `null`: ends before the next delimiter.
    Bare,
}

impl Scan {
    fn new(first: u8) -> Scan {
        let kind = match first {
            b'{' | b'[' => Kind::Container,
            b'"' => Kind::String,
            _ => Kind::Bare,
        };
        let depth = u32::from(kind == Kind::Container);
        let in_string = kind == Kind::String;
        Scan { kind, depth, in_string, escaped: false, done: false }
    }

    fn complete(&self) -> bool {
        self.done
    }

    fn bare(&self) -> bool {
        self.kind == Kind::Bare
    }

    /// How many bytes of `chunk` belong to the value, when it ends inside `chunk`.
    fn feed(&mut self, chunk: &[u8]) -> Option<usize> {
        for (i, &byte) in chunk.iter().enumerate() {
            if self.kind == Kind::Bare {
                if matches!(byte, b',' | b']' | b'}') || byte.is_ascii_whitespace() {
                    self.done = true;
                    return Some(i);
                }
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                    if self.kind == Kind::String {
                        self.done = true;
                        return Some(i + 1);
                    }
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.done = true;
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// Consumes a leading UTF-8 byte-order mark, if there is one.
fn skip_bom<R: Read>(input: &mut BufReader<R>) -> io::Result<()> {
    let buffered = input.fill_buf()?;
    if buffered.starts_with(BOM) {
        input.consume(BOM.len());
    }
    Ok(())
}

/// Consumes whitespace and the byte after it, which it returns (`None` at the end).
fn next_significant<R: Read>(input: &mut BufReader<R>) -> io::Result<Option<u8>> {
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(None);
        }
        match chunk.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let byte = chunk[i];
                input.consume(i + 1);
                return Ok(Some(byte));
            }
            None => {
                let n = chunk.len();
                input.consume(n);
            }
        }
    }
}

/// The tickets of an NDJSON export, read one line at a time.
#[derive(Debug)]
pub struct NdjsonTickets<R> {
    input: BufReader<R>,
    plan: Plan,
    line: Vec<u8>,
    /// The number of the line last read, from 1.
    row: u64,
    done: bool,
}

/// Reads an NDJSON (JSON Lines) export: one object per line; blank lines are skipped.
pub fn read_ndjson<R: Read>(input: R, options: &ImportOptions) -> Result<NdjsonTickets<R>, ImportError> {
    let plan = Plan::new(options)?;
    Ok(NdjsonTickets {
        input: BufReader::with_capacity(64 << 10, input),
        plan,
        line: Vec::new(),
        row: 0,
        done: false,
    })
}

impl<R: Read> NdjsonTickets<R> {
    /// Reads the next line into `self.line`.
    fn read_line(&mut self) -> io::Result<Line> {
        self.line.clear();
        let limit = MAX_ELEMENT_BYTES as u64 + 1;
        let n = (&mut self.input).take(limit).read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok(Line::End);
        }
        if self.line.len() > MAX_ELEMENT_BYTES && self.line.last() != Some(&b'\n') {
            // Too long: drop it and skip to the end of the line.
            self.line.clear();
            loop {
                let chunk = self.input.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.input.consume(i + 1);
                        break;
                    }
                    None => {
                        let n = chunk.len();
                        self.input.consume(n);
                    }
                }
            }
            return Ok(Line::TooLong);
        }
        Ok(Line::Read)
    }
}

enum Line {
    Read,
    /// Longer than the limit: dropped, and the input skipped to the next line.
    TooLong,
    End,
}

impl<R: Read> Iterator for NdjsonTickets<R> {
    type Item = Result<Ticket, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let line = self.read_line();
            if !matches!(line, Ok(Line::End)) {
                self.row += 1;
            }
            match line {
                Ok(Line::Read) => {}
                Ok(Line::TooLong) => {
                    let reason = format!("is longer than {MAX_ELEMENT_BYTES} bytes");
                    return Some(Err(RowError::new(self.row, None, reason)));
                }
                Ok(Line::End) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(RowError::fatal(self.row, format!("cannot read the file: {e}"))));
                }
            }
            let mut line = self.line.as_slice();
            if self.row == 1 {
                line = line.strip_prefix(BOM).unwrap_or(line);
            }
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            return Some(object_ticket(&self.plan, self.row, line));
        }
    }
}

/// One JSON element or line (its bytes) as a ticket.
fn object_ticket(plan: &Plan, row: u64, bytes: &[u8]) -> Result<Ticket, RowError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| RowError::new(row, None, format!("is not valid JSON: {e}")))?;
    value_ticket(plan, row, &value)
}

/// One parsed JSON value as a ticket.
pub(super) fn value_ticket(plan: &Plan, row: u64, value: &Value) -> Result<Ticket, RowError> {
    let Value::Object(_) = value else {
        return Err(RowError::new(row, None, "is not a JSON object"));
    };
    let mut cells = JsonCells::default();
    cells.flatten("", value);
    let layout = plan.layout(&cells.headers);
    plan.ticket(&layout, &cells).map_err(|(column, reason)| RowError::new(row, column, reason))
}

/// An object's leaves as columns.
#[derive(Default)]
struct JsonCells {
    headers: Vec<String>,
    values: Vec<String>,
}

impl JsonCells {
    fn flatten(&mut self, key: &str, value: &Value) {
        match value {
            Value::Object(map) => {
                for (name, value) in map {
                    let key = if key.is_empty() { name.clone() } else { format!("{key}.{name}") };
                    self.flatten(&key, value);
                }
            }
            // Each item is the same column again; an object's keys are joined on as for a
            // lone object (Jira's `components: [{"name": …}]` is `components.name`, repeated).
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Array(_) => self.push(key, item.to_string()),
                        item => self.flatten(key, item),
                    }
                }
            }
            Value::String(text) => self.push(key, text.clone()),
            Value::Null => self.push(key, String::new()),
            Value::Bool(_) | Value::Number(_) => self.push(key, value.to_string()),
        }
    }

    fn push(&mut self, key: &str, value: String) {
        self.headers.push(key.to_owned());
        self.values.push(value);
    }
}

impl Cells for JsonCells {
    fn value(&self, index: usize) -> &str {
        self.values.get(index).map(String::as_str).unwrap_or_default()
    }

    fn header(&self, index: usize) -> &str {
        self.headers.get(index).map(String::as_str).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(text: &str) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut scan = Scan::new(bytes[0]);
        scan.feed(&bytes[1..]).map(|n| n + 1)
    }

    #[test]
    fn the_scanner_finds_the_end_of_each_kind_of_value() {
        assert_eq!(ends(r#"{"a": "}", "b": [1, {"c": "\"]"}]}, {"#), Some(34));
        assert_eq!(ends(r#""a \" ] string", 1"#), Some(15));
        assert_eq!(ends("12.5e3 ,"), Some(6));
        assert_eq!(ends("true]"), Some(4));
        assert_eq!(ends(r#"{"open": ["#), None);
    }

    #[test]
    fn values_split_across_reads_are_put_together() {
        let text = br#"{"a": "x\\", "b": [1, 2]}"#;
        for cut in 1..text.len() {
            let mut scan = Scan::new(text[0]);
            let first = scan.feed(&text[1..cut]);
            let end = match first {
                Some(n) => n + 1,
                None => scan.feed(&text[cut..]).map(|n| n + cut).unwrap(),
            };
            assert_eq!(end, text.len(), "cut at {cut}");
        }
    }
}
