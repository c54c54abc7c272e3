//! Reading one CSV table with a header row, pointing at file, line and column on every error.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, InputError, Result};

/// The bytes of one input file, with the name to use in messages.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name used in messages: the path as given, or `-` for standard input.
    pub name: String,
    /// The file's contents, with a UTF-8 byte-order mark removed.
    pub bytes: Vec<u8>,
}

impl Source {
    /// Reads `path`; `-` reads standard input.
    pub fn read(path: &Path) -> Result<Source> {
        let name = path.display().to_string();
        let mut bytes = Vec::new();
        if name == "-" {
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io("cannot read", "-", e))?;
        } else {
            bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        }
        Ok(Source::from_bytes(name, bytes))
    }

    /// Wraps bytes already in memory (tests, generated venues).
    pub fn from_bytes(name: impl Into<String>, mut bytes: Vec<u8>) -> Source {
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        Source {
            name: name.into(),
            bytes,
        }
    }

    /// An error about this file.
    pub fn error(&self, message: impl Into<String>) -> InputError {
        InputError::file(self.name.clone(), message)
    }
}

/// One data row of a [`Table`], with the position needed for errors.
pub struct Row<'t> {
    table: &'t Table,
    record: &'t csv::ByteRecord,
    /// 1-based line number of the row in the file.
    pub line: u64,
}

impl Row<'_> {
    /// The field of column `name` as text, trimmed; `None` when the table has no such column.
    pub fn get(&self, name: &str) -> Result<Option<&str>> {
        let Some(&col) = self.table.columns.get(name) else {
            return Ok(None);
        };
        let raw = self.record.get(col).unwrap_or(b"");
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(Some(s.trim())),
            Err(_) => Err(self
                .error(name, "the field is not valid UTF-8")
                .hint("save the file as UTF-8")
                .into()),
        }
    }

    /// The field of column `name`, or `""` when the table has no such column.
    pub fn text(&self, name: &str) -> Result<&str> {
        Ok(self.get(name)?.unwrap_or(""))
    }

    /// An error pointing at column `name` of this row.
    pub fn error(&self, name: &str, message: impl Into<String>) -> InputError {
        let mut e = InputError::file(self.table.name.clone(), message).at_line(self.line);
        if let Some(&col) = self.table.columns.get(name) {
            e = e.at_column(col + 1, name);
        }
        e
    }

    /// Parses an optional non-negative integer column (empty means absent).
    pub fn count(&self, name: &str) -> Result<Option<u32>> {
        let s = self.text(name)?;
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<u32>().map(Some).map_err(|_| {
            self.error(name, format!("`{s}` is not a whole number of papers"))
                .hint("use a non-negative integer such as 3, or leave it empty for the default")
                .into()
        })
    }
}

/// A parsed CSV table: header names and records.
pub struct Table {
    name: String,
    columns: HashMap<String, usize>,
    width: usize,
    records: Vec<(u64, csv::ByteRecord)>,
}

impl Table {
    /// Parses `source` as CSV with a header row, checking that every `required` column exists.
    /// Unknown columns are kept but ignored by callers; column order does not matter.
    pub fn parse(source: &Source, required: &[&str]) -> Result<Table> {
        if source.bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(source
                .error("the file is empty")
                .hint(format!(
                    "the first line must be a header naming the columns, e.g. `{}`",
                    required.join(",")
                ))
                .into());
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(source.bytes.as_slice());
        let headers = reader
            .byte_headers()
            .map_err(|e| csv_error(source, e))?
            .clone();
        let mut columns = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let h = std::str::from_utf8(h).map_err(|_| {
                source
                    .error("the header is not valid UTF-8")
                    .at_line(1)
                    .at_column(i + 1, String::from_utf8_lossy(h))
                    .hint("save the file as UTF-8")
            })?;
            columns.entry(h.trim().to_ascii_lowercase()).or_insert(i);
        }
        for &req in required {
            if !columns.contains_key(req) {
                let mut found: Vec<&str> = columns.keys().map(String::as_str).collect();
                found.sort_unstable();
                return Err(source
                    .error(format!("missing required column `{req}`"))
                    .at_line(1)
                    .hint(format!(
                        "the header must name the columns {}; it has: {}",
                        required.join(", "),
                        found.join(", ")
                    ))
                    .into());
            }
        }
        let mut records = Vec::new();
        let mut record = csv::ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    records.push((line, record.clone()));
                }
                Ok(false) => break,
                Err(e) => return Err(csv_error(source, e)),
            }
        }
        Ok(Table {
            name: source.name.clone(),
            columns,
            width: headers.len(),
            records,
        })
    }

    /// Whether the header has column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }

    /// The 0-based position of column `name`, which must exist (checked by [`Table::parse`]).
    pub fn column(&self, name: &str) -> usize {
        self.columns[name]
    }

    /// Number of columns in the header.
    pub fn n_columns(&self) -> usize {
        self.width
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The data rows in file order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().map(move |(line, record)| Row {
            table: self,
            record,
            line: *line,
        })
    }
}

fn csv_error(source: &Source, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("this row has {len} fields but the header has {expected_len}"),
        _ => format!("malformed CSV: {e}"),
    };
    let mut err = source
        .error(message)
        .hint("every row needs as many comma-separated fields as the header; quote fields that contain commas");
    if let Some(line) = line {
        err = err.at_line(line);
    }
    err.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source::from_bytes("t.csv", text.as_bytes().to_vec())
    }

    #[test]
    fn reads_bom_crlf_quotes_any_order() {
        let t = Table::parse(
            &src("\u{feff}b,A\r\n\"x, y\",1\r\n\r\nz,2\r\n"),
            &["a", "b"],
        )
        .unwrap();
        let rows: Vec<_> = t.rows().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text("b").unwrap(), "x, y");
        assert_eq!(rows[1].text("a").unwrap(), "2");
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].text("missing").unwrap(), "");
    }

    #[test]
    fn missing_column_names_it() {
        let e = Table::parse(&src("a\n1\n"), &["a", "b"]).err().unwrap();
        assert!(
            e.to_string()
                .contains("t.csv:1: missing required column `b`")
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        let e = Table::parse(&src(""), &["a"]).err().unwrap();
        assert!(e.to_string().contains("the file is empty"));
    }

    #[test]
    fn ragged_row_gives_line() {
        let e = Table::parse(&src("a,b\n1,2\n3\n"), &["a"]).err().unwrap();
        assert!(e.to_string().starts_with("t.csv:3:"), "{e}");
    }

    #[test]
    fn invalid_utf8_gives_line_and_column() {
        let s = Source::from_bytes("t.csv", b"a,b\n1,\xff\n".to_vec());
        let t = Table::parse(&s, &["a"]).unwrap();
        let row = t.rows().next().unwrap();
        let e = row.get("b").err().unwrap();
        assert!(
            e.to_string()
                .starts_with("t.csv:2:2: the field is not valid UTF-8"),
            "{e}"
        );
    }
}
