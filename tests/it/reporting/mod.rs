//! CI gate and compliance reporting (issue 5), tested through the real binary as a user runs
//! it: exit codes, exemptions, baselines, every report format, the remediation script against
//! hostile names, and `amlaudit diff`.

mod baseline;
mod common;
mod diff;
mod exemptions;
mod explained;
mod formats;
mod gate;
#[cfg(unix)]
mod script;
mod writers;
