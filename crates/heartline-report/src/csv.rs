//! CSV: a header row and the stable columns of [`COLUMNS`], RFC 4180 quoting, CRLF line ends,
//! timestamps in ISO 8601 UTC with milliseconds.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};

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

/// Writes one field, quoted as [`quote`] does.
fn field(out: &mut impl Write, text: &str) -> io::Result<()> {
    if needs_quotes(text) {
        out.write_all(quote(text).as_bytes())
    } else {
        out.write_all(text.as_bytes())
    }
}

fn needs_quotes(field: &str) -> bool {
    field
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
pub(crate) fn quote(field: &str) -> Cow<'_, str> {
    if needs_quotes(field) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
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
}
