//! What clients send: a JenkinsEnvironment manifest in JSON or YAML, parsed strictly with field paths.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::spec::JenkinsEnvironmentSpec;

/// A manifest as a client writes it. Server-set metadata may be sent back (so a GET's output can be PUT as
/// it is) but is ignored, except `resourceVersion` and `uid`, which are preconditions.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentManifest {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ManifestMeta,
    #[serde(default)]
    pub spec: JenkinsEnvironmentSpec,
    /// Ignored: status is a subresource only Butler writes.
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

/// The metadata a client may send.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestMeta {
    pub name: Option<String>,
    pub tenant: Option<String>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub finalizers: Option<Vec<String>>,
    // Server-set: accepted so read-modify-write round trips work, then ignored.
    pub generation: Option<serde_json::Value>,
    pub creation_timestamp: Option<serde_json::Value>,
    pub deletion_timestamp: Option<serde_json::Value>,
}

/// Why a body is not a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ManifestError {
    /// Not JSON/YAML at all (400).
    Syntax(String),
    /// Well-formed but the wrong shape: unknown field, wrong type (422), with the field path.
    Shape { field: String, message: String },
}

/// The media types a manifest may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    Json,
    Yaml,
}

/// Parses raw body bytes into a JSON value tree.
pub(crate) fn parse_document(bytes: &[u8], format: BodyFormat) -> Result<serde_json::Value, ManifestError> {
    match format {
        BodyFormat::Json => serde_json::from_slice(bytes).map_err(|e| ManifestError::Syntax(e.to_string())),
        BodyFormat::Yaml => {
            let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::Syntax("body is not UTF-8".into()))?;
            serde_yaml_ng::from_str(text).map_err(|e| ManifestError::Syntax(e.to_string()))
        }
    }
}

/// Reads a manifest from a value tree, naming the path of the first field that does not fit.
pub(crate) fn manifest_from_value(value: serde_json::Value) -> Result<EnvironmentManifest, ManifestError> {
    if !value.is_object() {
        return Err(ManifestError::Shape { field: "".into(), message: "the body must be an object".into() });
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = match unknown_field_name(&message) {
            // serde reports an unknown field at its parent's path; name the field itself.
            Some(unknown) if path == "." || path.is_empty() => unknown.to_owned(),
            Some(unknown) if !path.ends_with(unknown) => format!("{path}.{unknown}"),
            _ => path,
        };
        ManifestError::Shape { field, message }
    })
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let error = manifest_from_value(json!({"metadata": {"name": "ci"}, "spec": {"capacity": {"maxx": 3}}}))
            .expect_err("unknown field");
        let ManifestError::Shape { field, message } = error else { panic!("wrong kind: {error:?}") };
        assert_eq!(field, "spec.capacity.maxx");
        assert!(message.contains("unknown field"), "{message}");
    }

    #[test]
    fn wrong_types_are_named_with_their_index() {
        let error = manifest_from_value(json!({"spec": {"capacity": {"instanceTypes": ["m5.large", 3]}}}))
            .expect_err("wrong type");
        let ManifestError::Shape { field, .. } = error else { panic!("wrong kind: {error:?}") };
        assert_eq!(field, "spec.capacity.instanceTypes[1]");
    }

    #[test]
    fn top_level_unknown_field_is_named() {
        let error = manifest_from_value(json!({"specc": {}})).expect_err("unknown field");
        let ManifestError::Shape { field, .. } = error else { panic!("wrong kind: {error:?}") };
        assert_eq!(field, "specc");
    }

    #[test]
    fn yaml_and_json_read_the_same() {
        let yaml = b"apiVersion: butler.dev/v1alpha1\nkind: JenkinsEnvironment\nmetadata: {name: ci}\nspec:\n  capacity: {max: 4}\n";
        let from_yaml = manifest_from_value(parse_document(yaml, BodyFormat::Yaml).expect("yaml")).expect("shape");
        assert_eq!(from_yaml.spec.capacity.max, 4);
        assert_eq!(from_yaml.metadata.name.as_deref(), Some("ci"));
        assert!(matches!(parse_document(b"{", BodyFormat::Json), Err(ManifestError::Syntax(_))));
    }
}
