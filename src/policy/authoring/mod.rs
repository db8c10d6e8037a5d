//! The tools for people who write rules: `amlaudit test` (Rego unit tests with coverage,
//! [`testing`]), `amlaudit rules --format markdown` (reference pages from METADATA, [`docs`]) and
//! `amlaudit new-rule` (a working rule and its tests, [`skeleton`]).

pub mod docs;
pub mod skeleton;
pub mod testing;
