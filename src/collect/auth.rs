//! Credentials: which azure_identity credential signs the requests, and the token cache.
//!
//! azure_identity 1.x has no default chain, so this module owns one, in the order users of
//! Azure tooling expect: workload identity (`AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`,
//! `AZURE_TENANT_ID`: Kubernetes, GitHub Actions and Azure Pipelines OIDC), a client secret
//! (`AZURE_CLIENT_SECRET` with the same ids), managed identity (`IDENTITY_ENDPOINT` /
//! `IDENTITY_HEADER`, or IMDS), then the developer's `az login` and `azd auth login`.
//! `--auth` names one instead.
//!
//! A credential whose environment variables are set but which fails stops the chain: falling
//! back silently from a broken CI identity to whatever else happens to work would audit with the
//! wrong principal. IMDS and the developer tools are only probes, and their failure moves on.
//! Tokens never leave this module except as the `Authorization` header value: they are not
//! logged, printed or put in errors.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use azure_identity::{
    AzureCliCredential, AzureDeveloperCliCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

use super::CollectError;
use super::endpoints::Cloud;

/// Which credential to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuthMethod {
    /// Try workload identity, client secret, managed identity, Azure CLI, azd, in that order.
    #[default]
    Auto,
    /// AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID (Kubernetes, GitHub Actions
    /// and Azure Pipelines OIDC).
    WorkloadIdentity,
    /// AZURE_CLIENT_SECRET, AZURE_CLIENT_ID, AZURE_TENANT_ID.
    ClientSecret,
    /// IDENTITY_ENDPOINT/IDENTITY_HEADER, else IMDS; AZURE_CLIENT_ID picks a user-assigned one.
    ManagedIdentity,
    /// The account of `az login`.
    AzureCli,
    /// The account of `azd auth login`.
    Azd,
}

/// How long an unconfigured managed identity (IMDS) may take to answer before the chain moves
/// on: off Azure the metadata address does not answer at all, and azure_identity's own IMDS
/// retry policy would wait over a minute.
const IMDS_PROBE: Duration = Duration::from_secs(2);

/// The environment variables the chain reads, captured once so the decision can be tested.
#[derive(Debug, Clone, Default)]
pub struct AuthEnv {
    vars: HashMap<&'static str, String>,
}

const ENV_KEYS: &[&str] = &[
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
];

impl AuthEnv {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        let mut vars = HashMap::new();
        for key in ENV_KEYS {
            if let Ok(v) = std::env::var(key)
                && !v.trim().is_empty()
            {
                vars.insert(*key, v);
            }
        }
        AuthEnv { vars }
    }

    /// An environment given explicitly (for tests).
    pub fn from_pairs(pairs: &[(&'static str, &str)]) -> Self {
        AuthEnv {
            vars: pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    fn has_all(&self, keys: &[&str]) -> bool {
        keys.iter().all(|k| self.get(k).is_some())
    }

    fn missing(&self, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .filter(|k| self.get(k).is_none())
            .map(|k| (*k).to_string())
            .collect()
    }
}

const WORKLOAD_KEYS: &[&str] = &[
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
];
const SECRET_KEYS: &[&str] = &["AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    WorkloadIdentity,
    ClientSecret,
    ManagedIdentity,
    AzureCli,
    Azd,
}

/// One step of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    kind: Kind,
    /// What the user is told was used.
    pub label: String,
    /// Configured by the environment (or named by `--auth`): its failure ends the chain.
    configured: bool,
    probe: Option<Duration>,
}

/// The steps to try, in order, without touching the network.
pub(crate) fn plan(method: AuthMethod, env: &AuthEnv) -> Result<Vec<Step>, CollectError> {
    let managed = || {
        let app_service = env.has_all(&["IDENTITY_ENDPOINT", "IDENTITY_HEADER"]);
        let label = if app_service {
            "managed identity (IDENTITY_ENDPOINT)"
        } else {
            "managed identity (IMDS)"
        };
        let label = match env.get("AZURE_CLIENT_ID") {
            Some(id) => format!("{label}, user-assigned client id {id}"),
            None => label.to_string(),
        };
        (label, app_service || env.get("MSI_ENDPOINT").is_some())
    };
    let step = |kind, label: String, configured, probe| Step {
        kind,
        label,
        configured,
        probe,
    };
    let workload = || {
        step(
            Kind::WorkloadIdentity,
            "workload identity (AZURE_FEDERATED_TOKEN_FILE)".into(),
            true,
            None,
        )
    };
    let secret = || {
        step(
            Kind::ClientSecret,
            "client secret (AZURE_CLIENT_SECRET)".into(),
            true,
            None,
        )
    };
    let cli = |configured| {
        step(
            Kind::AzureCli,
            "Azure CLI (az login)".into(),
            configured,
            None,
        )
    };
    let azd = |configured| {
        step(
            Kind::Azd,
            "Azure Developer CLI (azd auth login)".into(),
            configured,
            None,
        )
    };
    let need = |keys: &[&str], what: &str| -> Result<(), CollectError> {
        let missing = env.missing(keys);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CollectError::Credential(format!(
                "--auth {what} needs {}",
                missing.join(", ")
            )))
        }
    };
    Ok(match method {
        AuthMethod::Auto => {
            let mut steps = Vec::new();
            if env.has_all(WORKLOAD_KEYS) {
                steps.push(workload());
            }
            if env.has_all(SECRET_KEYS) {
                steps.push(secret());
            }
            let (label, configured) = managed();
            steps.push(step(
                Kind::ManagedIdentity,
                label,
                configured,
                (!configured).then_some(IMDS_PROBE),
            ));
            steps.push(cli(false));
            steps.push(azd(false));
            steps
        }
        AuthMethod::WorkloadIdentity => {
            need(WORKLOAD_KEYS, "workload-identity")?;
            vec![workload()]
        }
        AuthMethod::ClientSecret => {
            need(SECRET_KEYS, "client-secret")?;
            vec![secret()]
        }
        AuthMethod::ManagedIdentity => {
            let (label, _) = managed();
            vec![step(Kind::ManagedIdentity, label, true, None)]
        }
        AuthMethod::AzureCli => vec![cli(true)],
        AuthMethod::Azd => vec![azd(true)],
    })
}

/// Token requests retry for seconds, not azure_core's default minute: the token is fetched
/// before anything else, with the user waiting, and an unreachable endpoint should say so soon.
/// (azure_identity keeps its own longer policy for IMDS, which needs it on a booting VM.)
fn client_options(cloud: Cloud) -> ClientOptions {
    ClientOptions {
        cloud: cloud.authority().map(Arc::new),
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            max_retries: 4,
            max_total_elapsed: azure_core::time::Duration::seconds(15),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn build(step: &Step, cloud: Cloud, env: &AuthEnv) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let owned = |k: &str| env.get(k).map(str::to_string);
    Ok(match step.kind {
        Kind::WorkloadIdentity => {
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: client_options(cloud),
                },
                client_id: owned("AZURE_CLIENT_ID"),
                tenant_id: owned("AZURE_TENANT_ID"),
                token_file_path: owned("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            }))?
        }
        Kind::ClientSecret => ClientSecretCredential::new(
            env.get("AZURE_TENANT_ID").unwrap_or_default(),
            owned("AZURE_CLIENT_ID").unwrap_or_default(),
            Secret::new(owned("AZURE_CLIENT_SECRET").unwrap_or_default()),
            Some(ClientSecretCredentialOptions {
                client_options: client_options(cloud),
            }),
        )?,
        Kind::ManagedIdentity => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: owned("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
                client_options: client_options(cloud),
            };
            ManagedIdentityCredential::new(Some(options))?
        }
        Kind::AzureCli => AzureCliCredential::new(None)?,
        Kind::Azd => AzureDeveloperCliCredential::new(None)?,
    })
}

/// The credential the chain settled on.
pub(crate) struct Resolved {
    pub credential: Arc<dyn TokenCredential>,
    pub label: String,
    pub first_token: AccessToken,
}

/// Walks the chain until a credential hands out a token for `scope`.
pub(crate) async fn resolve(
    method: AuthMethod,
    cloud: Cloud,
    scope: &str,
    env: &AuthEnv,
) -> Result<Resolved, CollectError> {
    let mut failures = Vec::new();
    for step in plan(method, env)? {
        tracing::debug!(credential = %step.label, "trying credential");
        let attempt = async {
            let credential = build(&step, cloud, env).map_err(|e| e.to_string())?;
            let scopes = [scope];
            let fetch = credential.get_token(&scopes, None);
            let token = match step.probe {
                Some(limit) => tokio::time::timeout(limit, fetch)
                    .await
                    .map_err(|_| format!("no answer within {}s", limit.as_secs()))?,
                None => fetch.await,
            }
            .map_err(|e| e.to_string())?;
            Ok::<_, String>((credential, token))
        };
        match attempt.await {
            Ok((credential, first_token)) => {
                tracing::info!(credential = %step.label, "authenticated");
                return Ok(Resolved {
                    credential,
                    label: step.label,
                    first_token,
                });
            }
            Err(message) if step.configured => {
                return Err(CollectError::Credential(format!(
                    "{}: {message}",
                    step.label
                )));
            }
            Err(message) => {
                tracing::debug!(credential = %step.label, %message, "credential unavailable");
                failures.push(format!("{}: {}", step.label, first_line(&message)));
            }
        }
    }
    Err(CollectError::Credential(format!(
        "no credential worked (set AZURE_FEDERATED_TOKEN_FILE or AZURE_CLIENT_SECRET with \
         AZURE_CLIENT_ID and AZURE_TENANT_ID, run in Azure with a managed identity, or `az login`); tried: {}",
        failures.join("; ")
    )))
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

/// Hands out a valid token, asking the credential again only shortly before expiry (the Azure
/// CLI credential has no cache of its own and would start `az` for every request).
pub(crate) struct TokenSource {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
}

/// Refresh this long before a token expires, so no request goes out with a dying token.
const REFRESH_MARGIN: time::Duration = time::Duration::seconds(120);

impl TokenSource {
    pub(crate) fn new(
        credential: Arc<dyn TokenCredential>,
        scope: String,
        first: Option<AccessToken>,
    ) -> Self {
        TokenSource {
            credential,
            scope,
            cached: tokio::sync::Mutex::new(first),
        }
    }

    pub(crate) async fn token(&self) -> Result<Secret, String> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && token.expires_on - REFRESH_MARGIN > time::OffsetDateTime::now_utc()
        {
            return Ok(token.token.clone());
        }
        let fresh = self
            .credential
            .get_token(&[&self.scope], None)
            .await
            .map_err(|e| format!("could not refresh the access token: {e}"))?;
        let secret = fresh.token.clone();
        *cached = Some(fresh);
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.label.as_str()).collect()
    }

    #[test]
    fn auto_chain_order_follows_the_environment() {
        let all = AuthEnv::from_pairs(&[
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_SECRET", "s"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/token"),
            ("IDENTITY_HEADER", "h"),
        ]);
        let steps = plan(AuthMethod::Auto, &all).unwrap();
        assert_eq!(
            labels(&steps),
            [
                "workload identity (AZURE_FEDERATED_TOKEN_FILE)",
                "client secret (AZURE_CLIENT_SECRET)",
                "managed identity (IDENTITY_ENDPOINT), user-assigned client id c",
                "Azure CLI (az login)",
                "Azure Developer CLI (azd auth login)",
            ]
        );
        assert!(steps[0].configured && steps[1].configured && steps[2].configured);
        assert!(!steps[3].configured && !steps[4].configured);
    }

    #[test]
    fn nothing_configured_probes_imds_then_developer_tools() {
        let steps = plan(AuthMethod::Auto, &AuthEnv::default()).unwrap();
        assert_eq!(
            labels(&steps),
            [
                "managed identity (IMDS)",
                "Azure CLI (az login)",
                "Azure Developer CLI (azd auth login)"
            ]
        );
        assert_eq!(steps[0].probe, Some(IMDS_PROBE));
        assert!(!steps[0].configured);
    }

    #[test]
    fn a_half_configured_service_principal_is_not_in_the_chain() {
        let env = AuthEnv::from_pairs(&[("AZURE_CLIENT_SECRET", "s"), ("AZURE_CLIENT_ID", "c")]);
        let steps = plan(AuthMethod::Auto, &env).unwrap();
        assert_eq!(steps[0].kind, Kind::ManagedIdentity);
        let err = plan(AuthMethod::ClientSecret, &env).unwrap_err();
        assert!(err.to_string().contains("AZURE_TENANT_ID"), "{err}");
    }

    #[test]
    fn a_named_method_is_the_only_step() {
        let steps = plan(AuthMethod::AzureCli, &AuthEnv::default()).unwrap();
        assert_eq!(steps.len(), 1);
        assert!(steps[0].configured);
        let steps = plan(AuthMethod::ManagedIdentity, &AuthEnv::default()).unwrap();
        assert_eq!(steps[0].probe, None);
    }
}
