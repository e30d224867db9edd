//! FHIR date, dateTime and instant <-> milliseconds since the Unix epoch (UTC).

/// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`; a partial
/// date is its first millisecond.
pub fn parse(text: &str) -> Option<u64> {
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(1);
    let day: u32 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(1);
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day).checked_mul(86_400_000)?;
    if let Some(time) = time {
        let (clock, offset_minutes) = if let Some(t) = time.strip_suffix('Z') {
            (t, 0)
        } else {
            let at = time.rfind(['+', '-'])?;
            let (t, zone) = time.split_at(at);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if !(0..=14).contains(&h) || !(0..60).contains(&m) {
                return None;
            }
            (t, sign * (h * 60 + m))
        };
        let mut fields = clock.split(':');
        let h: i64 = fields.next()?.parse().ok()?;
        let m: i64 = fields.next()?.parse().ok()?;
        let seconds: f64 = fields.next().unwrap_or("0").parse().ok()?;
        if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0.0..61.0).contains(&seconds) {
            return None;
        }
        ms += h * 3_600_000 + m * 60_000 + (seconds * 1000.0).round() as i64 - offset_minutes * 60_000;
    }
    u64::try_from(ms).ok()
}

/// Formats as an instant: `YYYY-MM-DDThh:mm:ss.fffZ`.
pub fn format(ms: u64) -> String {
    let ms = ms as i64;
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, f) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}Z")
}

/// Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month, day) `z` days after 1970-01-01 (Howard
/// Hinnant's civil-from-days).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_zones() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse("2023-11-14T23:13:20+01:00"), Some(1_700_000_000_000));
        assert_eq!(parse("2023-11-14T22:13:20.5Z"), Some(1_700_000_000_500));
        assert_eq!(parse("2016"), parse("2016-01-01T00:00:00Z"));
        assert_eq!(format(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(parse(&format(1_234_567_890_123)), Some(1_234_567_890_123));
        assert_eq!(parse("2016-13-01"), None);
        assert_eq!(parse("yesterday"), None);
        for bad in [
            "999999999-01-01",
            "2016-01-01T25:00:00Z",
            "2016-01-01T10:61:00Z",
            "2016-01-01T10:00:inf",
            "2016-01-01T10:00:00+99:00",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
