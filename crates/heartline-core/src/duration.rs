//! Human durations as users type them: `250ms`, `2s`, `1m`, `1h30m`.

use std::time::Duration;

/// Parses a duration such as `250ms`, `15s`, `2m`, `1h` or `1m30s`.
///
/// A unit is required on every number: a bare `15` is ambiguous and refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. 250ms, 15s, 2m".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration; write e.g. 250ms, 15s, 2m"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` has a number too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" | "min" => number
                .checked_mul(60)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("`{text}` is too long"))?,
            "h" => number
                .checked_mul(3600)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("`{text}` is too long"))?,
            "d" => number
                .checked_mul(86_400)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("`{text}` is too long"))?,
            "" => {
                return Err(format!(
                    "`{text}` needs a unit (ms, s, m, h or d), e.g. {number}s"
                ))
            }
            other => {
                return Err(format!(
                    "`{other}` in `{text}` is not a unit; use ms, s, m, h or d"
                ))
            }
        };
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("`{text}` is too long"))?;
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it, choosing the largest exact unit.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0ms".into();
    }
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<u64, &str>) {
        let got = parse_duration(input).map(|d| d.as_millis() as u64);
        match (&got, &expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "input {input:?}"),
            (Err(g), Err(e)) => assert!(g.contains(e), "input {input:?}: error {g:?} lacks {e:?}"),
            _ => panic!("input {input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn parses_and_refuses() {
        check("250ms", Ok(250));
        check("2s", Ok(2000));
        check(" 1m ", Ok(60_000));
        check("1m30s", Ok(90_000));
        check("1h", Ok(3_600_000));
        check("1 m 5 s", Ok(65_000));
        check("2d", Ok(172_800_000));
        check("0ms", Ok(0));
        check("15", Err("needs a unit"));
        check("", Err("empty"));
        check("ms", Err("not a duration"));
        check("5 parsecs", Err("not a unit"));
        check("3w", Err("not a unit"));
        check("99999999999999999999s", Err("too large"));
        check("18446744073709551615h", Err("too long"));
    }

    #[test]
    fn formats_round_trip() {
        for ms in [
            0u64, 1, 250, 1000, 1500, 60_000, 90_000, 3_600_000, 86_400_000,
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{ms} ms");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
