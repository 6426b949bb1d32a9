//! CSV: a header row and the stable columns of [`COLUMNS`], RFC 4180 quoting, CRLF line ends,
//! timestamps in ISO 8601 UTC with milliseconds.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};

use crate::model::{Row, COLUMNS};
use crate::time::iso_utc;

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

    pub fn row(&mut self, row: &Row) -> io::Result<()> {
        let text = |v: Option<&'static str>| Cow::Borrowed(v.unwrap_or(""));
        let number = |v: Option<String>| Cow::Owned(v.unwrap_or_default());
        self.line(
            [
                Cow::Owned(iso_utc(row.at)),
                Cow::Borrowed(row.endpoint.as_str()),
                Cow::Borrowed(row.event),
                number(row.code.map(|c| c.to_string())),
                Cow::Borrowed(row.reason.as_deref().unwrap_or("")),
                text(row.initiator),
                text(row.cause),
                text(row.phase),
                number(row.status.map(|s| s.to_string())),
                number(row.rtt_ms.map(|r| format!("{r:.3}"))),
                number(row.attempt.map(|a| a.to_string())),
                number(row.delay_ms.map(|d| d.to_string())),
                Cow::Borrowed(row.detail.as_str()),
            ]
            .into_iter(),
        )
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

/// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
pub(crate) fn quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\r', '\n']) {
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
