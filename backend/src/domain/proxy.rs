//! A cloud profile's HTTP proxy: for subnets that reach the internet only through a proxy (no NAT gateway), the
//! controller's way to its plugins, the update center and AWS. One value, rendered three ways: JVM system
//! properties (jenkins-plugin-cli at start runs `java $JAVA_OPTS`), Jenkins' own proxy configuration (the update
//! center and the amazon-ecs plugin's AWS client read it) and the conventional variables (git, curl).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// At most this many direct hosts: the list becomes one system property.
pub(crate) const MAX_NO_PROXY: usize = 50;

/// Reached directly whatever the profile says: loopback, the instance metadata service, and ECS's task
/// metadata and credentials endpoint (through a proxy the controller's AWS SDK would lose its role).
const ALWAYS_DIRECT: [&str; 4] = ["localhost", "127.0.0.1", "169.254.169.254", "169.254.170.2"];

static HOST_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^((\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(\.\d{1,3}){3})$")
        .expect("static regex")
});

/// The proxy as a platform admin sets it on a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProxy {
    /// `http://host:port` (no credentials: they would end up in the controller's environment and in Jenkins).
    pub url: String,
    /// Hosts reached directly: names, `*.suffix`, IPv4 addresses.
    #[serde(default)]
    pub no_proxy: Vec<String>,
}

impl HttpProxy {
    /// The proxy's host and port, when the URL is one Butler can pass on.
    pub fn endpoint(&self) -> Option<(String, u16)> {
        let rest = self.url.strip_prefix("http://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = rest.rsplit_once(':')?;
        let port: u16 = port.parse().ok().filter(|port| *port > 0)?;
        (HOST_PATTERN.is_match(host) && !host.starts_with('*')).then(|| (host.to_owned(), port))
    }

    /// What is wrong with it, field (relative to the proxy) by field; empty when it can be used.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.url.contains('@') {
            problems.push(("url".to_owned(), "must not carry credentials (user:password@)".to_owned()));
        } else if self.endpoint().is_none() {
            problems.push((
                "url".to_owned(),
                "must be http://host:port (the JVM speaks plain HTTP to a proxy; CONNECT carries TLS through it)"
                    .to_owned(),
            ));
        }
        if self.no_proxy.len() > MAX_NO_PROXY {
            problems.push(("noProxy".to_owned(), format!("must list at most {MAX_NO_PROXY} hosts")));
        }
        for (index, host) in self.no_proxy.iter().enumerate() {
            if !HOST_PATTERN.is_match(host) {
                problems
                    .push((format!("noProxy[{index}]"), "must be a host name, *.domain or an IPv4 address".to_owned()));
            }
        }
        problems
    }

    /// Every host reached directly: Butler's own (metadata endpoints, the profile's Cloud Map namespace, where
    /// agents and the controller find each other), then the profile's.
    pub(crate) fn direct_hosts(&self, namespace: &str) -> Vec<String> {
        let mut hosts: Vec<String> = ALWAYS_DIRECT.iter().map(|h| (*h).to_owned()).collect();
        hosts.push(format!("*.{namespace}"));
        for host in &self.no_proxy {
            if !hosts.contains(host) {
                hosts.push(host.clone());
            }
        }
        hosts
    }

    /// JVM system properties for HTTP and HTTPS through the proxy (`|` separates direct hosts, Java's syntax).
    pub(crate) fn java_options(&self, namespace: &str) -> Vec<String> {
        let Some((host, port)) = self.endpoint() else { return Vec::new() };
        let direct = self.direct_hosts(namespace).join("|");
        vec![
            format!("-Dhttp.proxyHost={host}"),
            format!("-Dhttp.proxyPort={port}"),
            format!("-Dhttps.proxyHost={host}"),
            format!("-Dhttps.proxyPort={port}"),
            format!("-Dhttp.nonProxyHosts={direct}"),
        ]
    }

    /// `http_proxy`, `https_proxy`, `no_proxy` in both spellings (curl reads lower case, others upper). The
    /// `no_proxy` convention is a suffix (`.example.com`), not a wildcard.
    pub fn environment(&self, namespace: &str) -> BTreeMap<String, String> {
        let direct: Vec<String> = self
            .direct_hosts(namespace)
            .iter()
            .map(|host| host.strip_prefix('*').map_or_else(|| host.clone(), str::to_owned))
            .collect();
        let direct = direct.join(",");
        let mut variables = BTreeMap::new();
        for (name, value) in [("http_proxy", &self.url), ("https_proxy", &self.url), ("no_proxy", &direct)] {
            variables.insert(name.to_owned(), value.clone());
            variables.insert(name.to_uppercase(), value.clone());
        }
        variables
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str) -> HttpProxy {
        HttpProxy { url: url.to_owned(), no_proxy: vec!["*.corp.example".to_owned(), "10.0.0.5".to_owned()] }
    }

    #[test]
    fn only_plain_http_with_a_port_and_no_credentials_is_accepted() {
        assert_eq!(proxy("http://proxy.corp.example:3128").endpoint(), Some(("proxy.corp.example".into(), 3128)));
        assert!(proxy("http://10.0.0.9:8080/").problems().is_empty());
        for bad in ["https://proxy:3128", "http://proxy", "http://proxy:0", "http://u:p@proxy:3128", "proxy:3128"] {
            assert!(!proxy(bad).problems().is_empty(), "{bad}");
        }
        let mut listed = proxy("http://proxy:3128");
        listed.no_proxy.push("bad host".into());
        assert_eq!(listed.problems()[0].0, "noProxy[2]");
    }

    #[test]
    fn metadata_endpoints_and_the_namespace_are_always_direct() {
        let options = proxy("http://proxy:3128").java_options("jenkins.local");
        assert!(options.contains(&"-Dhttps.proxyHost=proxy".to_owned()), "{options:?}");
        let direct = options.iter().find(|o| o.starts_with("-Dhttp.nonProxyHosts=")).expect("direct hosts");
        for host in ["169.254.170.2", "169.254.169.254", "*.jenkins.local", "*.corp.example", "10.0.0.5"] {
            assert!(direct.split(['=', '|']).any(|h| h == host), "{host} in {direct}");
        }
        let environment = proxy("http://proxy:3128").environment("jenkins.local");
        assert_eq!(environment["HTTPS_PROXY"], "http://proxy:3128");
        assert!(environment["no_proxy"].split(',').any(|h| h == ".jenkins.local"), "{}", environment["no_proxy"]);
    }
}
