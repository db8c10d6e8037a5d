//! `amlaudit collect`: live inventory from Azure into a snapshot, and the collection flags that
//! `scan` shares through `#[command(flatten)]`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::Exit;
use crate::collect::{
    AuthMethod, Cloud, CollectError, CollectSettings, Collection, Collector, DEFAULT_CONCURRENCY,
    Subscriptions, Via,
};
use crate::inventory::ScopeStatus;
use crate::output::write_atomically;

/// Where to collect from and how: shared by every subcommand that reads Azure live.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Live collection")]
pub struct CollectArgs {
    /// A subscription to collect (repeatable, or several after one flag).
    #[arg(long = "subscription", value_name = "SUB", num_args = 1.., conflicts_with = "all_subscriptions")]
    pub subscriptions: Vec<String>,
    /// Collect every subscription the identity can list (disabled ones are skipped).
    #[arg(long)]
    pub all_subscriptions: bool,
    /// The Azure cloud: sets the ARM endpoint, the ML data plane and the login authority.
    #[arg(long, value_enum, default_value_t = Cloud::AzureCloud)]
    pub cloud: Cloud,
    /// Use this ARM endpoint instead of the cloud's (https, or http on loopback only). The token
    /// scope follows it: URL + `/.default`.
    #[arg(long, value_name = "URL")]
    pub arm_endpoint: Option<String>,
    /// Microsoft Graph endpoint for group memberships and app-id lookups (default: the cloud's;
    /// https, or http on loopback only).
    #[arg(long, value_name = "URL")]
    pub graph_endpoint: Option<String>,
    /// Use this Azure ML data plane for v1 web services instead of `https://<region>.api.azureml.ms`
    /// (https, or http on loopback only).
    #[arg(long, value_name = "URL")]
    pub ml_endpoint: Option<String>,
    /// Requests in flight at most, shared fairly across subscriptions.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Read top-level resources and role assignments per subscription through ARM, or through
    /// Azure Resource Graph (fewer calls for many subscriptions).
    #[arg(long, value_enum, default_value_t = Via::Arm)]
    pub via: Via,
    /// The credential to use; `auto` tries workload identity, client secret, managed identity,
    /// Azure CLI and azd, in that order.
    #[arg(long, value_enum, default_value_t = AuthMethod::Auto)]
    pub auth: AuthMethod,
    /// Seconds one request may take, body included, before it is retried.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub request_timeout: Duration,
    /// Retries of one request after HTTP 429, 5xx, a timeout or a dropped connection.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub max_retries: u32,
    /// The longest single wait in seconds: back-off is capped at it, and a Retry-After longer
    /// than it fails the request (recorded in the snapshot) instead of stalling the run. Tests
    /// use a small value to stay fast.
    #[arg(long, value_name = "SECONDS", default_value = "120", value_parser = parse_seconds)]
    pub max_retry_wait: Duration,
}

fn parse_seconds(raw: &str) -> Result<Duration, String> {
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("{raw:?} is out of range (0 to 86400 seconds)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl CollectArgs {
    /// Whether any subscription was asked for (`scan` uses this to choose between a snapshot and
    /// a live collection).
    pub fn is_requested(&self) -> bool {
        self.all_subscriptions || !self.subscriptions.is_empty()
    }

    /// The library settings these flags stand for; `progress` asks for the display on stderr.
    pub fn settings(&self, progress: bool) -> CollectSettings {
        let subscriptions = if self.all_subscriptions {
            Subscriptions::All
        } else {
            Subscriptions::Listed(self.subscriptions.clone())
        };
        CollectSettings {
            subscriptions,
            cloud: self.cloud,
            arm_endpoint: self.arm_endpoint.clone(),
            graph_endpoint: self.graph_endpoint.clone(),
            ml_endpoint: self.ml_endpoint.clone(),
            concurrency: usize::from(self.concurrency),
            via: self.via,
            auth: self.auth,
            request_timeout: self.request_timeout,
            max_retries: self.max_retries,
            max_retry_wait: self.max_retry_wait,
            progress,
        }
    }

    /// Authenticates, collects, and (unless `quiet`) shows progress and tells the user on stderr
    /// which credential was used and what could not be read.
    pub fn collect(&self, quiet: bool) -> Result<Collection, CollectError> {
        let collector = Collector::connect(&self.settings(!quiet))?;
        if !quiet {
            say!("authenticated with {}", collector.credential());
        }
        let collection = collector.run()?;
        if !quiet {
            print_summary(&collection);
        }
        Ok(collection)
    }
}

#[derive(Debug, Args)]
pub struct CollectCommandArgs {
    #[command(flatten)]
    pub collect: CollectArgs,
    /// Where to write the snapshot; `-` or nothing writes it to stdout.
    #[arg(short, long, value_name = "SNAPSHOT")]
    pub output: Option<PathBuf>,
    /// No progress display and nothing on stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: CollectCommandArgs) -> anyhow::Result<Exit> {
    if !args.collect.is_requested() {
        anyhow::bail!("name at least one --subscription SUB, or --all-subscriptions");
    }
    let collection = args.collect.collect(args.quiet)?;
    let bytes = collection.snapshot.to_json_bytes();
    match args.output.as_deref() {
        None => write_stdout(&bytes)?,
        Some(p) if p.as_os_str() == "-" => write_stdout(&bytes)?,
        Some(path) => {
            write_atomically(path, &bytes).context("writing the snapshot")?;
            if !args.quiet {
                say!("wrote {}", path.display());
            }
        }
    }
    Ok(exit_for(&collection))
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// 0 when every subscription was read completely, 3 when any is partial or failed.
pub fn exit_for(collection: &Collection) -> Exit {
    if collection.snapshot.is_complete() {
        Exit::Clean
    } else {
        Exit::Incomplete
    }
}

fn print_summary(collection: &Collection) {
    let snapshot = &collection.snapshot;
    let count = |status| {
        snapshot
            .scopes
            .iter()
            .filter(|s| s.status == status)
            .count()
    };
    let stats = &collection.stats;
    let waited: Duration = stats.retry_after_waits.iter().sum();
    say!(
        "collected {} resources from {} subscription(s) in {:.1}s: {} complete, {} partial, {} failed; \
         {} requests, {} retried, {} throttled (waited {:.1}s as Retry-After asked), {} paced",
        snapshot.resources.len(),
        snapshot.scopes.len(),
        collection.elapsed.as_secs_f64(),
        count(ScopeStatus::Complete),
        count(ScopeStatus::Partial),
        count(ScopeStatus::Failed),
        stats.requests,
        stats.retries,
        stats.throttled,
        waited.as_secs_f64(),
        stats.paced,
    );
    for scope in snapshot
        .scopes
        .iter()
        .filter(|s| s.status != ScopeStatus::Complete)
    {
        let status = match scope.status {
            ScopeStatus::Partial => "partial",
            _ => "failed",
        };
        say!("  subscription {} is {status}:", scope.subscription_id);
        for e in &scope.errors {
            say!("    {}: {}", e.resource_type, e.message);
        }
    }
    for warning in &collection.warnings {
        say!("warning: {warning}");
    }
}
