//! The JSON report: the whole [`Report`](super::Report), pretty-printed.

use super::Report;

pub fn render(report: &Report) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(report).expect(
        "a report holds only strings, numbers and string-keyed maps, which always serialise",
    );
    out.push(b'\n');
    out
}
