//! amlaudit's integration tests: the binary run as a user runs it, the engine's semantics case
//! by case, the parsers under fuzzing, the HTML report in a real browser, and the collector
//! against a fake Azure on loopback. One test binary, so the suite links once; the helpers every
//! part needs are in [`support`].

mod support;

mod authoring;
mod cli_import_access;
mod cli_scan;
mod collect;
mod fake_azure;
mod fixes;
mod fuzz;
mod hardening;
mod html_report;
mod permissions;
mod reporting;
mod scan_live;
mod templates;
