//! Reading one CSV table with a header row, pointing at file, line and column on every error.

use std::io::Read;
use std::path::Path;

use rustc_hash::FxHashMap;

use crate::error::{Error, InputError, Result};

/// The bytes of one input file, with the name to use in messages.
#[derive(Debug)]
pub struct Source {
    /// The name used in messages: the path as given, or `-` for standard input.
    pub name: String,
    data: Data,
    /// Bytes to skip at the start (a UTF-8 byte-order mark).
    skip: usize,
}

#[derive(Debug)]
enum Data {
    Owned(Vec<u8>),
    /// Large files are mapped, not copied: the scores of a big venue are hundreds of MB.
    Mapped(memmap2::Mmap),
}

/// Files at least this large are memory-mapped.
const MAP_AT: u64 = 1 << 20;

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
            return Ok(Source::from_bytes(name, bytes));
        }
        let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len >= MAP_AT {
            // SAFETY: the map is read-only; papermatch never writes its inputs. Like every
            // mapping, it assumes no other process truncates the file while it is read.
            if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
                return Ok(Source::with_data(name, Data::Mapped(map)));
            }
        }
        let mut file = file;
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read", path, e))?;
        Ok(Source::from_bytes(name, bytes))
    }

    /// Wraps bytes already in memory (tests, generated venues).
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Source {
        Source::with_data(name.into(), Data::Owned(bytes))
    }

    fn with_data(name: String, data: Data) -> Source {
        let raw: &[u8] = match &data {
            Data::Owned(v) => v,
            Data::Mapped(m) => m,
        };
        let skip = if raw.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        Source { name, data, skip }
    }

    /// The file's contents, without a byte-order mark.
    pub fn bytes(&self) -> &[u8] {
        let raw: &[u8] = match &self.data {
            Data::Owned(v) => v,
            Data::Mapped(m) => m,
        };
        &raw[self.skip..]
    }

    /// Asks the system to map the pages of `range` (of [`Source::bytes`]) now, in one call
    /// rather than one page fault at a time. Does nothing for data that is not mapped.
    pub fn populate(&self, range: std::ops::Range<usize>) {
        if let Data::Mapped(map) = &self.data {
            // Advice only: where the system does not know it, pages fault in as usual.
            let _ = map.advise_range(
                memmap2::Advice::PopulateRead,
                range.start + self.skip,
                range.len(),
            );
        }
    }

    /// Gives the pages that lie wholly inside `range` (of [`Source::bytes`]) back to the
    /// system once read, so that a large mapped file does not stay resident; reading them
    /// again maps them again from the file. Does nothing for data that is not mapped.
    pub fn release(&self, range: std::ops::Range<usize>) {
        if let Data::Mapped(map) = &self.data {
            // Whole 64 KiB blocks: page-aligned on every platform.
            const BLOCK: usize = 64 << 10;
            let start = (range.start + self.skip).next_multiple_of(BLOCK);
            let end = (range.end + self.skip) / BLOCK * BLOCK;
            if start < end {
                // SAFETY: the map is a read-only private file mapping; dropping its pages
                // changes no byte seen through it, they are read from the file again when
                // touched (the same no-truncation assumption as the mapping itself).
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        end - start,
                    )
                };
            }
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
    /// The ends of this row's fields in the table's `text`; the first starts at `start`.
    ends: &'t [u32],
    start: u32,
    /// 1-based line number of the row in the file.
    pub line: u64,
}

impl Row<'_> {
    /// The field of column `name` as text, trimmed; `None` when the table has no such column.
    pub fn get(&self, name: &str) -> Result<Option<&str>> {
        let Some(&col) = self.table.columns.get(name) else {
            return Ok(None);
        };
        let raw = match col.checked_sub(1) {
            _ if col >= self.ends.len() => &b""[..],
            None => &self.table.text[self.start as usize..self.ends[0] as usize],
            Some(prev) => &self.table.text[self.ends[prev] as usize..self.ends[col] as usize],
        };
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
///
/// The fields of every row live in one buffer (a conflicts file of a big venue has hundreds of
/// thousands of rows: one allocation per row would cost more than parsing it).
pub struct Table {
    name: String,
    columns: FxHashMap<String, usize>,
    width: usize,
    /// Every field's bytes, back to back.
    text: Vec<u8>,
    /// The end of each field in `text`, row after row.
    ends: Vec<u32>,
    /// Per row: its line and where its fields start in `ends`.
    records: Vec<(u64, u32)>,
}

impl Table {
    /// Parses `source` as CSV with a header row, checking that every `required` column exists.
    /// Unknown columns are kept but ignored by callers; column order does not matter.
    pub fn parse(source: &Source, required: &[&str]) -> Result<Table> {
        Table::parse_with(source, required, None)
    }

    /// Parses a headerless file whose columns are `names`, in that order (OpenReview's layout).
    pub fn parse_headerless(source: &Source, names: &[&str]) -> Result<Table> {
        Table::parse_with(source, names, Some(names))
    }

    fn parse_with(source: &Source, required: &[&str], names: Option<&[&str]>) -> Result<Table> {
        if source.bytes().iter().all(|b| b.is_ascii_whitespace()) {
            return Err(source
                .error("the file is empty")
                .hint(format!(
                    "the first line must be a header naming the columns, e.g. `{}`",
                    required.join(",")
                ))
                .into());
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(names.is_none())
            .flexible(names.is_some())
            .from_reader(source.bytes());
        let headers = match names {
            Some(names) => csv::ByteRecord::from(names.to_vec()),
            None => reader
                .byte_headers()
                .map_err(|e| csv_error(source, e, Some(1)))?
                .clone(),
        };
        let mut columns = FxHashMap::default();
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
        let (mut text, mut ends) = (Vec::new(), Vec::new());
        let mut record = csv::ByteRecord::new();
        let mut lines = LineCounter::default();
        let bytes = source.bytes();
        let too_large = || {
            source
                .error("the file is too large for one table (over 4 GiB of fields)")
                .hint("split the file")
        };
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {
                    let line = record
                        .position()
                        .map_or(0, |p| lines.line_at(bytes, p.byte()));
                    if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    let first = u32::try_from(ends.len()).map_err(|_| too_large())?;
                    records.push((line, first));
                    for field in &record {
                        text.extend_from_slice(field);
                        ends.push(u32::try_from(text.len()).map_err(|_| too_large())?);
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map(|p| lines.line_at(bytes, p.byte()));
                    return Err(csv_error(source, e, line));
                }
            }
        }
        Ok(Table {
            name: source.name.clone(),
            columns,
            width: headers.len(),
            text,
            ends,
            records,
        })
    }

    /// The header's column names (lower case), in file order.
    pub fn column_names(&self) -> Vec<&str> {
        let mut names: Vec<(&str, usize)> =
            self.columns.iter().map(|(k, &i)| (k.as_str(), i)).collect();
        names.sort_unstable_by_key(|&(_, i)| i);
        names.into_iter().map(|(k, _)| k).collect()
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
        (0..self.records.len()).map(move |k| self.row(k))
    }

    /// Data row `k` (0-based, in file order); panics beyond [`Table::len`].
    pub fn row(&self, k: usize) -> Row<'_> {
        let first = self.records[k].1 as usize;
        let next = self
            .records
            .get(k + 1)
            .map_or(self.ends.len(), |r| r.1 as usize);
        let start = first.checked_sub(1).map_or(0, |i| self.ends[i]);
        Row {
            table: self,
            ends: &self.ends[first..next],
            start,
            line: self.records[k].0,
        }
    }
}

/// Line numbers from byte offsets. The `csv` crate's own line count is off after blank lines
/// and CRLF, and its record offsets point at the end of the previous record: skip line breaks,
/// then count newlines incrementally (records arrive in order).
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, bytes: &[u8], byte: u64) -> u64 {
        let mut at = (byte as usize).min(bytes.len());
        while at < bytes.len() && (bytes[at] == b'\n' || bytes[at] == b'\r') {
            at += 1;
        }
        if at < self.offset {
            *self = LineCounter::default();
        }
        self.line += memchr::memchr_iter(b'\n', &bytes[self.offset..at]).count() as u64;
        self.offset = at;
        self.line + 1
    }
}

fn csv_error(source: &Source, e: csv::Error, line: Option<u64>) -> Error {
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
