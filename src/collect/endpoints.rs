//! Where requests go: the Azure clouds, the ARM endpoint, the Azure ML v1 data plane, and the
//! token scope that follows from them.
//!
//! Endpoints are checked once, before any request: a bearer token must never travel in clear
//! text, so `http://` is accepted only for loopback addresses (the test fakes), and every URL the
//! collector builds or follows later is compared against these origins.

use std::net::IpAddr;

use url::{Host, Url};

use super::CollectError;

/// The Azure clouds amlaudit knows, by the names `az cloud list` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cloud {
    #[default]
    #[value(name = "AzureCloud")]
    AzureCloud,
    #[value(name = "AzureChinaCloud")]
    AzureChinaCloud,
    #[value(name = "AzureUSGovernment")]
    AzureUSGovernment,
}

impl Cloud {
    /// The name written into the snapshot's `cloud` field.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "AzureCloud",
            Cloud::AzureChinaCloud => "AzureChinaCloud",
            Cloud::AzureUSGovernment => "AzureUSGovernment",
        }
    }

    /// The Resource Manager endpoint of the cloud.
    pub fn arm_endpoint(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "https://management.azure.com",
            Cloud::AzureChinaCloud => "https://management.chinacloudapi.cn",
            Cloud::AzureUSGovernment => "https://management.usgovcloudapi.net",
        }
    }

    /// The Microsoft Graph endpoint of the cloud (national clouds have their own).
    pub fn graph_endpoint(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "https://graph.microsoft.com",
            Cloud::AzureChinaCloud => "https://microsoftgraph.chinacloudapi.cn",
            Cloud::AzureUSGovernment => "https://graph.microsoft.us",
        }
    }

    /// The DNS suffix of the regional Azure ML data plane (`<region>.<suffix>`).
    pub fn ml_data_plane_suffix(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "api.azureml.ms",
            Cloud::AzureChinaCloud => "api.ml.azure.cn",
            Cloud::AzureUSGovernment => "api.ml.azure.us",
        }
    }

    /// The login authority for credentials that talk to Entra ID themselves; `None` keeps
    /// azure_identity's default (public cloud, or `AZURE_AUTHORITY_HOST`).
    pub(crate) fn authority(self) -> Option<azure_core::cloud::CloudConfiguration> {
        use azure_core::cloud::CloudConfiguration;
        match self {
            Cloud::AzureCloud => None,
            Cloud::AzureChinaCloud => Some(CloudConfiguration::AzureChina),
            Cloud::AzureUSGovernment => Some(CloudConfiguration::AzureGovernment),
        }
    }
}

/// The checked endpoints of one collection.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// ARM base URL without a trailing `/`.
    arm: String,
    ml: MlDataPlane,
    token_scope: String,
    /// Microsoft Graph base URL without a trailing `/`.
    graph: String,
}

#[derive(Debug, Clone)]
enum MlDataPlane {
    Regional { suffix: &'static str },
    Fixed(String),
}

impl Endpoints {
    /// Resolves the cloud and the optional overrides, refusing insecure or malformed URLs.
    pub fn new(
        cloud: Cloud,
        arm_endpoint: Option<&str>,
        ml_endpoint: Option<&str>,
    ) -> Result<Self, CollectError> {
        let arm = match arm_endpoint {
            Some(raw) => checked_base("--arm-endpoint", raw)?,
            None => cloud.arm_endpoint().to_string(),
        };
        let ml = match ml_endpoint {
            Some(raw) => MlDataPlane::Fixed(checked_base("--ml-endpoint", raw)?),
            None => MlDataPlane::Regional {
                suffix: cloud.ml_data_plane_suffix(),
            },
        };
        Ok(Endpoints {
            token_scope: format!("{arm}/.default"),
            arm,
            ml,
            graph: cloud.graph_endpoint().to_string(),
        })
    }

    /// Points Microsoft Graph requests at another endpoint (`--graph-endpoint`), checked like
    /// `--arm-endpoint`.
    pub fn with_graph(mut self, graph_endpoint: Option<&str>) -> Result<Self, CollectError> {
        if let Some(raw) = graph_endpoint {
            self.graph = checked_base("--graph-endpoint", raw)?;
        }
        Ok(self)
    }

    /// The Graph token scope: the Graph endpoint + `/.default`.
    pub fn graph_token_scope(&self) -> String {
        format!("{}/.default", self.graph)
    }

    /// A Microsoft Graph URL for a path (starting with `/`).
    pub(crate) fn graph_url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, String> {
        build_url(&self.graph, path, query)
    }

    /// The token scope: the ARM endpoint + `/.default`. The ML data plane accepts the same
    /// Resource Manager audience, so one token serves both.
    pub fn token_scope(&self) -> &str {
        &self.token_scope
    }

    /// The ARM base URL, without a trailing `/`.
    pub fn arm_base(&self) -> &str {
        &self.arm
    }

    /// An ARM URL for a path (starting with `/`) and an api-version.
    pub(crate) fn arm_url(&self, path: &str, api_version: &str) -> Result<Url, String> {
        build_url(&self.arm, path, &[("api-version", api_version)])
    }

    /// An ARM URL with extra query parameters after the api-version.
    pub(crate) fn arm_url_with(
        &self,
        path: &str,
        api_version: &str,
        extra: &[(&str, &str)],
    ) -> Result<Url, String> {
        let mut query = vec![("api-version", api_version)];
        query.extend_from_slice(extra);
        build_url(&self.arm, path, &query)
    }

    /// The Azure ML v1 data-plane URL listing a workspace's web services.
    pub(crate) fn ml_services_url(&self, region: &str, workspace_id: &str) -> Result<Url, String> {
        let base = match &self.ml {
            MlDataPlane::Fixed(base) => base.clone(),
            MlDataPlane::Regional { suffix } => {
                let region: String = region
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if region.is_empty() || !region.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!(
                        "the workspace location {region:?} does not name an Azure region"
                    ));
                }
                format!("https://{region}.{suffix}")
            }
        };
        build_url(
            &base,
            &format!("/modelmanagement/v1.0{workspace_id}/services"),
            &[],
        )
    }
}

fn build_url(base: &str, path: &str, query: &[(&str, &str)]) -> Result<Url, String> {
    if !path.starts_with('/') || path.contains("/../") || path.contains('?') || path.contains('#') {
        return Err(format!("refusing to request the malformed path {path:?}"));
    }
    let mut url = Url::parse(&format!("{base}{path}")).map_err(|e| format!("{path}: {e}"))?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// Parses an endpoint flag; `https://` anywhere, `http://` only on loopback. Returns the base
/// without a trailing `/`.
fn checked_base(flag: &'static str, raw: &str) -> Result<String, CollectError> {
    let bad = |reason: String| CollectError::Endpoint {
        flag,
        url: raw.to_string(),
        reason,
    };
    let url = Url::parse(raw.trim()).map_err(|e| bad(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials in the URL are not accepted".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query string or fragment is not accepted".into()));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                "plain http is accepted only for loopback addresses (127.0.0.0/8, ::1, localhost); \
                 a bearer token must not travel in clear text"
                    .into(),
            ));
        }
        other => return Err(bad(format!("unsupported scheme `{other}`"))),
    }
    if url.host().is_none() {
        return Err(bad("no host".into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether two URLs share scheme, host and port: a `nextLink` must stay on the origin the
/// token was meant for.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_pick_their_endpoint_and_scope() {
        let e = Endpoints::new(Cloud::AzureChinaCloud, None, None).unwrap();
        assert_eq!(e.arm_base(), "https://management.chinacloudapi.cn");
        assert_eq!(
            e.token_scope(),
            "https://management.chinacloudapi.cn/.default"
        );
        let e = Endpoints::new(Cloud::AzureUSGovernment, None, None).unwrap();
        assert_eq!(
            e.token_scope(),
            "https://management.usgovcloudapi.net/.default"
        );
        let e = Endpoints::new(Cloud::AzureCloud, None, None).unwrap();
        assert_eq!(e.token_scope(), "https://management.azure.com/.default");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://[::1]:9/",
            "http://localhost:1",
            "https://arm.example.com/",
        ] {
            assert!(
                Endpoints::new(Cloud::AzureCloud, Some(ok), None).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "https://u:p@example.com",
            "https://example.com/?x=1",
            "not a url",
        ] {
            let err = Endpoints::new(Cloud::AzureCloud, Some(bad), None).unwrap_err();
            assert!(err.to_string().contains("--arm-endpoint"), "{bad}: {err}");
        }
        assert!(Endpoints::new(Cloud::AzureCloud, None, Some("http://example.com")).is_err());
    }

    #[test]
    fn override_sets_the_token_scope() {
        let e = Endpoints::new(Cloud::AzureCloud, Some("http://127.0.0.1:4000/"), None).unwrap();
        assert_eq!(e.token_scope(), "http://127.0.0.1:4000/.default");
        let u = e.arm_url("/subscriptions/s", "2022-12-01").unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:4000/subscriptions/s?api-version=2022-12-01"
        );
    }

    #[test]
    fn ml_data_plane_is_regional_unless_overridden() {
        let ws = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w";
        let e = Endpoints::new(Cloud::AzureCloud, None, None).unwrap();
        assert_eq!(
            e.ml_services_url("East US 2", ws).unwrap().as_str(),
            format!("https://eastus2.api.azureml.ms/modelmanagement/v1.0{ws}/services")
        );
        assert!(e.ml_services_url("evil.com/x", ws).is_err());
        let e = Endpoints::new(Cloud::AzureCloud, None, Some("http://127.0.0.1:5")).unwrap();
        assert!(
            e.ml_services_url("eastus", ws)
                .unwrap()
                .as_str()
                .starts_with("http://127.0.0.1:5/modelmanagement/v1.0/subscriptions/s/")
        );
    }

    #[test]
    fn malformed_paths_are_refused() {
        let e = Endpoints::new(Cloud::AzureCloud, None, None).unwrap();
        assert!(e.arm_url("/subscriptions/../x", "1").is_err());
        assert!(e.arm_url("relative", "1").is_err());
        assert!(e.arm_url("/a?b=c", "1").is_err());
    }
}
