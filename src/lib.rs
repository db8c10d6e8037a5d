//! amlaudit audits how Azure Machine Learning workspaces use managed identities to reach their
//! container registries, clusters and keys.
//!
//! The crate is laid out one concern per module, in the order data flows through it:
//! - [`ids`]: ARM id normalisation and the scope hierarchy;
//! - [`inventory`]: the snapshot format, `import` of ARM/az output, and the indexed inventory;
//! - [`template`]: ARM deployment templates evaluated into planned resources (beside `inventory`);
//! - [`permissions`]: the effective-permission index (may P do A on R, and why);
//! - [`fixes`]: remediation as typed edits: their `az` rendering and their application to an
//!   inventory overlay, so a fix can be proven;
//! - [`policy`]: Rego rules, their METADATA registry, and parallel evaluation with regorus;
//! - [`findings`]: results, remediation argv and shell quoting;
//! - [`gate`]: exemptions, baselines and the exit-status decision for CI;
//! - [`report`]: one writer per report format, written atomically, and the diff of two reports;
//! - [`collect`]: live inventory from Azure Resource Manager;
//! - [`cli`]: the command line, which decides exit codes.
//!
//! Small shared pieces: [`output`] (atomic file writes), [`strict_json`] (JSON with duplicate
//! keys refused and errors placed by line, column and JSON path), [`text`] (control and bidi characters
//! shown, not obeyed), [`time_util`] (RFC 3339), and
//! [`synthetic`] (generated tenants for benchmarks).

#![forbid(unsafe_code)]

pub mod cli;
pub mod collect;
pub mod findings;
pub mod fixes;
pub mod gate;
pub mod ids;
pub mod inventory;
pub mod output;
pub mod permissions;
pub mod policy;
pub mod report;
pub mod strict_json;
pub mod synthetic;
pub mod template;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod time_util;
