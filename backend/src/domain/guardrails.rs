//! A cloud profile's guard rails: what its environments may run (image repositories), on what (instance types)
//! and at what storage throughput. Platform admins set them on the profile; every create and change of an
//! environment is checked against them, and a refusal names the field and the rule.

use serde::{Deserialize, Serialize};

use super::spec::{JenkinsEnvironmentSpec, ThroughputMode};
use super::validation::FieldError;

/// Image repositories allowed by default: the stock controller and agent images on Docker Hub.
pub(crate) const DEFAULT_IMAGES: [&str; 2] = ["docker.io/jenkins/jenkins", "docker.io/jenkins/inbound-agent"];
/// Instance types allowed by default: the general purpose families of Butler's catalog.
pub(crate) const DEFAULT_INSTANCE_TYPES: [&str; 9] =
    ["t3.*", "t3a.*", "m5.*", "m5a.*", "m5n.*", "m6i.*", "m6a.*", "m7i.*", "m7a.*"];
/// Provisioned EFS throughput allowed by default (MiB/s).
pub(crate) const DEFAULT_MAX_PROVISIONED_MIBPS: u32 = 256;

/// The guard rails of one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Guardrails {
    /// Repositories (`registry/path`, Docker Hub as `docker.io/…`), or prefixes ending in `/*`.
    #[serde(default = "default_images")]
    pub allowed_images: Vec<String>,
    /// Instance types (`m6i.large`) or whole families (`m6i.*`).
    #[serde(default = "default_instance_types")]
    pub allowed_instance_types: Vec<String>,
    #[serde(default = "default_max_mibps")]
    pub max_provisioned_throughput_mibps: u32,
}

fn default_images() -> Vec<String> {
    DEFAULT_IMAGES.iter().map(|s| (*s).to_owned()).collect()
}

fn default_instance_types() -> Vec<String> {
    DEFAULT_INSTANCE_TYPES.iter().map(|s| (*s).to_owned()).collect()
}

fn default_max_mibps() -> u32 {
    DEFAULT_MAX_PROVISIONED_MIBPS
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            allowed_images: default_images(),
            allowed_instance_types: default_instance_types(),
            max_provisioned_throughput_mibps: default_max_mibps(),
        }
    }
}

/// The repository of an image reference, with Docker Hub's implied registry and `library/` spelled out:
/// `jenkins/jenkins:lts` → `docker.io/jenkins/jenkins`, `ubuntu` → `docker.io/library/ubuntu`.
pub fn repository(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    // A tag is the part after the last ':' that comes after the last '/' (a registry port has a '/' after it).
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let name = match without_digest[last_slash..].rfind(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    let mut parts = name.splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    let rest = parts.next();
    let is_registry = rest.is_some() && (first.contains('.') || first.contains(':') || first == "localhost");
    match (is_registry, rest) {
        (true, Some(path)) => {
            let registry = match first {
                "index.docker.io" | "registry-1.docker.io" => "docker.io",
                other => other,
            };
            if registry == "docker.io" && !path.contains('/') {
                format!("docker.io/library/{path}")
            } else {
                format!("{registry}/{path}")
            }
        }
        (false, Some(_)) => format!("docker.io/{name}"),
        (_, None) => format!("docker.io/library/{name}"),
    }
}

impl Guardrails {
    /// Whether `image` comes from an allowed repository.
    pub(crate) fn allows_image(&self, image: &str) -> bool {
        let repository = repository(image);
        self.allowed_images.iter().any(|allowed| match allowed.strip_suffix("/*") {
            Some(prefix) => repository.starts_with(&format!("{prefix}/")),
            None => repository == *allowed,
        })
    }

    /// Whether `instance_type` is allowed.
    pub(crate) fn allows_instance_type(&self, instance_type: &str) -> bool {
        let family = instance_type.split('.').next().unwrap_or_default();
        self.allowed_instance_types.iter().any(|allowed| match allowed.strip_suffix(".*") {
            Some(allowed_family) => family == allowed_family,
            None => allowed == instance_type,
        })
    }

    /// The errors of `spec` against these rails. Only what changes from `current` is checked, so an environment
    /// made before a rule was tightened can still be edited in other ways (and shrunk).
    pub(crate) fn review(
        &self,
        spec: &JenkinsEnvironmentSpec,
        current: Option<&JenkinsEnvironmentSpec>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut error = |field: String, message: String| errors.push(FieldError { field, message });
        let allowed_images = || self.allowed_images.join(", ");
        if current.is_none_or(|c| c.controller.image != spec.controller.image)
            && !self.allows_image(&spec.controller.image)
        {
            error(
                "spec.controller.image".into(),
                format!(
                    "{} is not from a repository the cloud profile allows ({})",
                    spec.controller.image,
                    allowed_images()
                ),
            );
        }
        for (index, template) in spec.agents.templates.iter().enumerate() {
            let before = current.and_then(|c| c.agents.templates.iter().find(|t| t.name == template.name));
            if before.is_none_or(|b| b.image != template.image) && !self.allows_image(&template.image) {
                error(
                    format!("spec.agents.templates[{index}].image"),
                    format!(
                        "{} is not from a repository the cloud profile allows ({})",
                        template.image,
                        allowed_images()
                    ),
                );
            }
        }
        for (index, instance_type) in spec.capacity.instance_types.iter().enumerate() {
            let known = current.is_some_and(|c| c.capacity.instance_types.contains(instance_type));
            if !known && !self.allows_instance_type(instance_type) {
                error(
                    format!("spec.capacity.instanceTypes[{index}]"),
                    format!(
                        "{instance_type} is not allowed by the cloud profile (allowed: {})",
                        self.allowed_instance_types.join(", ")
                    ),
                );
            }
        }
        let storage = &spec.storage;
        if storage.throughput_mode == ThroughputMode::Provisioned {
            let mibps = storage.provisioned_throughput_mibps.unwrap_or(0);
            let before = current.and_then(|c| c.storage.provisioned_throughput_mibps).unwrap_or(0);
            if mibps > self.max_provisioned_throughput_mibps && mibps > before {
                error(
                    "spec.storage.provisionedThroughputMibps".into(),
                    format!(
                        "{mibps} MiB/s is above the cloud profile's cap of {} MiB/s",
                        self.max_provisioned_throughput_mibps
                    ),
                );
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_name_their_repository() {
        assert_eq!(repository("jenkins/jenkins:lts-jdk21"), "docker.io/jenkins/jenkins");
        assert_eq!(repository("docker.io/jenkins/jenkins@sha256:abc"), "docker.io/jenkins/jenkins");
        assert_eq!(repository("index.docker.io/jenkins/inbound-agent"), "docker.io/jenkins/inbound-agent");
        assert_eq!(repository("ubuntu"), "docker.io/library/ubuntu");
        assert_eq!(repository("localhost:5000/jenkins/jenkins:1"), "localhost:5000/jenkins/jenkins");
        assert_eq!(repository("evil.example/jenkins/jenkins:lts"), "evil.example/jenkins/jenkins");
        assert_eq!(repository("jenkins/jenkins.evil"), "docker.io/jenkins/jenkins.evil");
    }

    #[test]
    fn defaults_allow_the_stock_images_and_general_purpose_types_only() {
        let rails = Guardrails::default();
        assert!(rails.allows_image("jenkins/jenkins:lts-jdk21") && rails.allows_image("jenkins/inbound-agent:latest"));
        for refused in ["evil.example/jenkins/jenkins:lts", "attacker/jenkins:lts", "jenkins/jenkins-evil:1"] {
            assert!(!rails.allows_image(refused), "{refused}");
        }
        assert!(rails.allows_instance_type("m6i.large"));
        assert!(!rails.allows_instance_type("p5.48xlarge") && !rails.allows_instance_type("m6in.large"));
        let ecr = Guardrails { allowed_images: vec!["123.dkr.ecr.eu-west-1.amazonaws.com/ci/*".into()], ..rails };
        assert!(ecr.allows_image("123.dkr.ecr.eu-west-1.amazonaws.com/ci/jenkins:1"));
        assert!(!ecr.allows_image("123.dkr.ecr.eu-west-1.amazonaws.com/cix/jenkins:1"));
    }
}
