//! Timestamps in RFC 3339, the only time format amlaudit writes.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now, in UTC, as RFC 3339 with seconds precision.
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// An RFC 3339 date-time, or `None` when the text is not one.
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// A UTC time as RFC 3339 with seconds precision.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}
