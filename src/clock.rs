//! Wall-clock time as the database stores it (unix seconds) and as the API shows it
//! (RFC 3339 UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Formats unix seconds as an RFC 3339 UTC string, e.g. `2026-12-04T15:39:30Z`.
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Parses an RFC 3339 time into unix seconds. `None` also for a time that [`rfc3339`]
/// could not write back: its UTC year must be 0000 to 9999 (`9999-12-31T23:59:59-14:00`
/// is not).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| t.checked_to_offset(time::UtcOffset::UTC))
        .filter(|t| (0..=9999).contains(&t.year()))
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_398_770), "2026-12-04T15:39:30Z");
    }

    #[test]
    fn parses_only_what_it_can_write_back() {
        for t in [
            "2026-12-04T15:39:30Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
        ] {
            let secs = super::parse_rfc3339(t).unwrap();
            assert_eq!(super::rfc3339(secs), t);
        }
        assert_eq!(
            super::parse_rfc3339("2026-12-04T16:39:30+01:00"),
            Some(1_796_398_770)
        );
        for t in ["9999-12-31T23:59:59-14:00", "0000-01-01T00:00:00+14:00"] {
            assert_eq!(super::parse_rfc3339(t), None, "{t}");
        }
    }
}
