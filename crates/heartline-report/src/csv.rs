//! CSV: a header row and the stable columns of [`COLUMNS`], RFC 4180 quoting, CRLF line ends,
//! timestamps in ISO 8601 UTC with milliseconds.

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
        w.line(COLUMNS.iter().map(|c| c.to_string()))?;
        Ok(w)
    }

    pub fn row(&mut self, row: &Row) -> io::Result<()> {
        let opt = |v: Option<String>| v.unwrap_or_default();
        self.line(
            [
                iso_utc(row.at),
                row.endpoint.clone(),
                row.event.to_owned(),
                opt(row.code.map(|c| c.to_string())),
                opt(row.reason.clone()),
                opt(row.initiator.map(str::to_owned)),
                opt(row.cause.map(str::to_owned)),
                opt(row.phase.map(str::to_owned)),
                opt(row.status.map(|s| s.to_string())),
                opt(row.rtt_ms.map(|r| format!("{r:.3}"))),
                opt(row.attempt.map(|a| a.to_string())),
                opt(row.delay_ms.map(|d| d.to_string())),
                row.detail.clone(),
            ]
            .into_iter(),
        )
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn line(&mut self, fields: impl Iterator<Item = String>) -> io::Result<()> {
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
pub(crate) fn quote(field: &str) -> std::borrow::Cow<'_, str> {
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
