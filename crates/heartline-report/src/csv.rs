//! CSV: a header row and the stable columns of [`COLUMNS`], RFC 4180 quoting, CRLF line ends,
//! timestamps in ISO 8601 UTC with milliseconds.
//!
//! Text cells carry what servers sent (close reasons, errors) and what people typed (endpoint
//! names), and a CSV file is opened in spreadsheets: every text cell is written by
//! [`text_cell`] — control characters escaped, a cell a spreadsheet would evaluate as a
//! formula neutralised (OWASP's CSV-injection rule), RFC 4180 quoting.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};

use heartline_core::escape_controls;

use crate::model::{Row, COLUMNS};
use crate::time::push_iso_utc;

pub(crate) struct Writer<'w> {
    out: BufWriter<&'w mut (dyn Write + Send)>,
}

impl<'w> Writer<'w> {
    pub fn start(out: &'w mut (dyn Write + Send)) -> io::Result<Writer<'w>> {
        let mut w = Writer {
            out: BufWriter::with_capacity(1 << 16, out),
        };
        w.line(COLUMNS.iter().map(|c| Cow::Borrowed(*c)))?;
        Ok(w)
    }

    /// One line, written field by field straight into the buffer (no string per field).
    ///
    /// Only text columns go through [`text_cell`]; the numeric columns (code, status,
    /// rtt_ms, attempt, delay_ms) and the timestamp are numbers Heartline formats itself, not
    /// text from outside, and are written as they are (formula neutralising would turn a
    /// number into text).
    pub fn row(&mut self, row: &Row) -> io::Result<()> {
        let out = &mut self.out;
        let mut stamp = String::with_capacity(24);
        push_iso_utc(&mut stamp, row.at);
        out.write_all(stamp.as_bytes())?;
        out.write_all(b",")?;
        field(out, &row.endpoint)?;
        out.write_all(b",")?;
        field(out, row.event)?;
        out.write_all(b",")?;
        if let Some(code) = row.code {
            write!(out, "{code}")?;
        }
        out.write_all(b",")?;
        field(out, row.reason.as_deref().unwrap_or(""))?;
        for text in [row.initiator, row.cause, row.phase] {
            out.write_all(b",")?;
            field(out, text.unwrap_or(""))?;
        }
        out.write_all(b",")?;
        if let Some(status) = row.status {
            write!(out, "{status}")?;
        }
        out.write_all(b",")?;
        if let Some(rtt) = row.rtt_ms {
            write!(out, "{rtt:.3}")?;
        }
        out.write_all(b",")?;
        if let Some(attempt) = row.attempt {
            write!(out, "{attempt}")?;
        }
        out.write_all(b",")?;
        if let Some(delay) = row.delay_ms {
            write!(out, "{delay}")?;
        }
        out.write_all(b",")?;
        field(out, &row.detail)?;
        out.write_all(b"\r\n")
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn line<'a>(&mut self, fields: impl Iterator<Item = Cow<'a, str>>) -> io::Result<()> {
        for (i, field) in fields.enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            self.out.write_all(quote(&field).as_bytes())?;
        }
        self.out.write_all(b"\r\n")
    }
}

/// Writes one text field as [`text_cell`] makes it.
fn field(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(text_cell(text).as_bytes())
}

/// One text cell as written: control characters and bidi overrides escaped (`\x1b`, `\n`),
/// then [`neutralise_formula`], then quoted when it has a comma, a quote or was neutralised.
/// Borrows when nothing needs doing (the common case: an export writes millions of cells).
pub(crate) fn text_cell(text: &str) -> Cow<'_, str> {
    let escaped = escape_controls(text);
    if let Cow::Owned(neutralised) = neutralise_formula(&escaped) {
        return Cow::Owned(quoted(&neutralised));
    }
    if needs_quotes(&escaped) {
        Cow::Owned(quoted(&escaped))
    } else {
        escaped
    }
}

/// The characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a
/// formula, per OWASP's CSV-injection guidance: `=`, `+`, `-`, `@`, tab and carriage return.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` with a leading `'` when it starts with a [`FORMULA_STARTS`] character, so a
/// spreadsheet shows it as text instead of evaluating it (`=HYPERLINK(…)`, `@SUM(…)`,
/// `-2+3`). The caller quotes the cell. Applied to text cells only: see [`Writer::row`].
pub(crate) fn neutralise_formula(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn needs_quotes(field: &str) -> bool {
    field
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// `field` in quotes, its quotes doubled.
fn quoted(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
pub(crate) fn quote(field: &str) -> Cow<'_, str> {
    if needs_quotes(field) {
        quoted(field).into()
    } else {
        field.into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting() {
        for (input, expected) in [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("", ""),
        ] {
            assert_eq!(super::quote(input), expected);
        }
    }

    #[test]
    fn formulas_are_neutralised() {
        for (input, expected) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\tlead", "'\tlead"),
            ("\rlead", "'\rlead"),
            // Only the first character counts.
            ("a=1", "a=1"),
            (" =1", " =1"),
            ("1-2", "1-2"),
            ("'quoted already", "'quoted already"),
            ("", ""),
        ] {
            assert_eq!(super::neutralise_formula(input), expected, "{input:?}");
        }
    }

    #[test]
    fn text_cells_escape_neutralise_and_quote() {
        for (input, expected) in [
            ("connection reset", "connection reset"),
            ("a,b", "\"a,b\""),
            ("=1+1", "\"'=1+1\""),
            ("-2+3", "\"'-2+3\""),
            ("@SUM(1,2)", "\"'@SUM(1,2)\""),
            ("=\"x\"", "\"'=\"\"x\"\"\""),
            // Control characters become visible escapes: no raw line break, no formula start.
            ("\u{1b}]0;pwned\u{7}", "\\x1b]0;pwned\\x07"),
            ("line\nforged,row", "\"line\\nforged,row\""),
            ("\tlead", "\\tlead"),
            ("bidi \u{202e}txt", "bidi \\u{202e}txt"),
        ] {
            assert_eq!(super::text_cell(input), expected, "{input:?}");
        }
    }
}
