//! Jenkins credentials kept in AWS Secrets Manager: what a write may carry, and the tags the
//! aws-secrets-manager-credentials-provider plugin reads to turn a secret into a credential.
//!
//! Checked against jenkinsci/aws-secrets-manager-credentials-provider-plugin 376939a (2.222): `factory/Tags.java`
//! (`jenkins:credentials:` + `type`, `username`, `filename`), `factory/Type.java` (`string`, `usernamePassword`,
//! `sshUserPrivateKey`, `certificate`, `file`) and `factory/CredentialsFactory.java` (string, usernamePassword and
//! sshUserPrivateKey read SecretString; file and certificate read SecretBinary; the id is the secret's name after
//! the name transformations, the description the secret's Description).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::validation::FieldError;

/// The plugin's tag keys.
pub const TYPE_TAG: &str = "jenkins:credentials:type";
pub const USERNAME_TAG: &str = "jenkins:credentials:username";
pub const FILENAME_TAG: &str = "jenkins:credentials:filename";
/// Secrets Manager's cap on a secret's value.
pub const MAX_VALUE_BYTES: usize = 65_536;
/// A description longer than this is refused (Secrets Manager allows 2048 characters).
const MAX_DESCRIPTION: usize = 2048;

static ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$").expect("static regex"));
static USERNAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[^\s]{1,256}$").expect("static regex"));
static FILENAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_.-]{1,255}$").expect("static regex"));

/// Whether `id` may name a credential: it becomes part of a Secrets Manager name and a Jenkins credential id.
pub fn check_id(id: &str) -> Result<(), String> {
    if ID.is_match(id) {
        Ok(())
    } else {
        Err("must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit".to_owned())
    }
}

/// The kinds of credential Butler stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CredentialType {
    SecretText,
    UsernamePassword,
    SshPrivateKey,
    File,
}

impl CredentialType {
    /// The plugin's `jenkins:credentials:type` value.
    pub fn plugin_type(self) -> &'static str {
        match self {
            Self::SecretText => "string",
            Self::UsernamePassword => "usernamePassword",
            Self::SshPrivateKey => "sshUserPrivateKey",
            Self::File => "file",
        }
    }

    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretText => "secretText",
            Self::UsernamePassword => "usernamePassword",
            Self::SshPrivateKey => "sshPrivateKey",
            Self::File => "file",
        }
    }

    /// From the API's name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::SecretText, Self::UsernamePassword, Self::SshPrivateKey, Self::File]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// A credential write (`PUT …/credentials/{id}`): the type and the fields it takes. Values are write-only.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialInput {
    #[serde(rename = "type")]
    pub kind: CredentialType,
    #[serde(default)]
    pub description: String,
    /// secretText: the text.
    pub secret: Option<String>,
    /// usernamePassword, sshPrivateKey.
    pub username: Option<String>,
    /// usernamePassword.
    pub password: Option<String>,
    /// sshPrivateKey: the PEM (OpenSSH or PKCS) private key, unencrypted (the plugin passes no passphrase).
    pub private_key: Option<String>,
    /// file: the name Jenkins gives the file, and its content in base64.
    pub file_name: Option<String>,
    pub content_base64: Option<String>,
}

impl std::fmt::Debug for CredentialInput {
    // Never prints a value: a request logged by mistake must not carry the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialInput")
            .field("kind", &self.kind)
            .field("username", &self.username)
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

/// What Secrets Manager stores: the value (text or bytes) and the plugin's tags. (The description stays in Butler.)
pub struct SecretPayload {
    pub text: Option<String>,
    pub binary: Option<Vec<u8>>,
    pub tags: BTreeMap<String, String>,
}

impl std::fmt::Debug for SecretPayload {
    // The value stays out of any output, as in `CredentialInput`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretPayload").field("tags", &self.tags).finish_non_exhaustive()
    }
}

impl CredentialInput {
    /// The value and tags to store, or every field that is missing, extra or malformed.
    pub fn payload(&self) -> Result<SecretPayload, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut missing = |field: &str, value: &Option<String>| {
            if value.as_deref().is_none_or(str::is_empty) {
                errors.push(FieldError { field: field.to_owned(), message: "is required for this type".to_owned() });
            }
        };
        let allowed: &[&str] = match self.kind {
            CredentialType::SecretText => {
                missing("secret", &self.secret);
                &["secret"]
            }
            CredentialType::UsernamePassword => {
                missing("username", &self.username);
                missing("password", &self.password);
                &["username", "password"]
            }
            CredentialType::SshPrivateKey => {
                missing("username", &self.username);
                missing("privateKey", &self.private_key);
                &["username", "privateKey"]
            }
            CredentialType::File => {
                missing("fileName", &self.file_name);
                missing("contentBase64", &self.content_base64);
                &["fileName", "contentBase64"]
            }
        };
        let given = [
            ("secret", self.secret.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("privateKey", self.private_key.is_some()),
            ("fileName", self.file_name.is_some()),
            ("contentBase64", self.content_base64.is_some()),
        ];
        for (field, present) in given {
            if present && !allowed.contains(&field) {
                let message = format!("is not a field of a {} credential", self.kind.as_str());
                errors.push(FieldError { field: field.to_owned(), message });
            }
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            errors.push(FieldError { field: "description".into(), message: "must be at most 2048 characters".into() });
        }
        if let Some(username) = self.username.as_deref().filter(|u| !u.is_empty() && !USERNAME.is_match(u)) {
            let _ = username;
            errors.push(FieldError {
                field: "username".into(),
                message: "must be 1 to 256 characters, no spaces".into(),
            });
        }
        if let Some(key) = self.private_key.as_deref().filter(|k| !k.is_empty()) {
            if !(key.trim_start().starts_with("-----BEGIN ") && key.contains("PRIVATE KEY-----")) {
                let message = "must be a PEM private key (-----BEGIN … PRIVATE KEY-----)".to_owned();
                errors.push(FieldError { field: "privateKey".into(), message });
            } else if key.contains("ENCRYPTED") {
                let message = "must not be encrypted: the plugin passes no passphrase".to_owned();
                errors.push(FieldError { field: "privateKey".into(), message });
            }
        }
        if let Some(name) = self.file_name.as_deref().filter(|n| !n.is_empty() && !FILENAME.is_match(n)) {
            let _ = name;
            let message = "must be a file name: letters, digits, '.', '_' or '-'".to_owned();
            errors.push(FieldError { field: "fileName".into(), message });
        }
        let binary = match self.content_base64.as_deref().filter(|c| !c.is_empty()) {
            Some(content) => match base64::engine::general_purpose::STANDARD.decode(content.trim()) {
                Ok(bytes) => Some(bytes),
                Err(_) => {
                    errors.push(FieldError { field: "contentBase64".into(), message: "is not base64".into() });
                    None
                }
            },
            None => None,
        };
        let text = match self.kind {
            CredentialType::SecretText => self.secret.clone(),
            CredentialType::UsernamePassword => self.password.clone(),
            CredentialType::SshPrivateKey => self.private_key.clone(),
            CredentialType::File => None,
        };
        // JCasC substitutes again inside what a `${<id>}` resolves to: a value holding `${` could read the
        // controller's environment through the team's configuration.
        if text.as_deref().is_some_and(|t| t.contains("${")) {
            let field = allowed[allowed.len() - 1];
            errors.push(FieldError {
                field: field.into(),
                message: "must not contain ${ (JCasC would interpolate it)".into(),
            });
        }
        let size = text.as_ref().map_or(0, String::len) + binary.as_ref().map_or(0, Vec::len);
        if size > MAX_VALUE_BYTES {
            let field = if binary.is_some() { "contentBase64" } else { allowed[allowed.len() - 1] };
            errors.push(FieldError { field: field.into(), message: "must be at most 64 KiB (Secrets Manager)".into() });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut tags = BTreeMap::from([(TYPE_TAG.to_owned(), self.kind.plugin_type().to_owned())]);
        if let Some(username) = &self.username {
            tags.insert(USERNAME_TAG.to_owned(), username.clone());
        }
        if let Some(name) = &self.file_name {
            tags.insert(FILENAME_TAG.to_owned(), name.clone());
        }
        Ok(SecretPayload { text, binary, tags })
    }
}

/// Where `spec` uses credential `id`, if it does (a field path): such a credential cannot be deleted.
pub fn used_by(spec: &super::spec::JenkinsSpec, id: &str) -> Option<String> {
    if let Ok(document) = super::team_config::parse(&spec.configuration_as_code) {
        if super::team_config::referenced_credentials(&document).contains(id) {
            return Some(super::team_config::FIELD.to_owned());
        }
    }
    spec.seed_jobs
        .iter()
        .position(|seed| seed.credentials_id.as_deref() == Some(id))
        .map(|index| format!("spec.jenkins.seedJobs[{index}].credentialsId"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> CredentialInput {
        serde_json::from_value(json).expect("input")
    }

    #[test]
    fn each_type_carries_the_plugins_tags_and_value() {
        let payload = input(serde_json::json!({ "type": "usernamePassword", "username": "bot", "password": "pw" }))
            .payload()
            .expect("ok");
        assert_eq!(payload.tags[TYPE_TAG], "usernamePassword");
        assert_eq!(payload.tags[USERNAME_TAG], "bot");
        assert_eq!(payload.text.as_deref(), Some("pw"));
        let file = input(serde_json::json!({ "type": "file", "fileName": "settings.xml", "contentBase64": "PHg+" }))
            .payload()
            .expect("ok");
        assert_eq!((file.tags[TYPE_TAG].as_str(), file.binary.as_deref()), ("file", Some(&b"<x>"[..])));
        assert_eq!(file.tags[FILENAME_TAG], "settings.xml");
        assert!(file.text.is_none());
    }

    #[test]
    fn missing_and_foreign_fields_are_named() {
        let errors =
            input(serde_json::json!({ "type": "secretText", "password": "x" })).payload().expect_err("refused");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["secret", "password"]);
        let key = input(serde_json::json!({ "type": "sshPrivateKey", "username": "git", "privateKey": "nope" }));
        assert_eq!(key.payload().expect_err("refused")[0].field, "privateKey");
        assert!(check_id("github-token").is_ok());
        assert!(check_id("../x").is_err());
        assert!(check_id("JENKINS_ADMIN_PASSWORD").is_ok(), "a name only ever resolves under the environment's prefix");
    }

    #[test]
    fn debug_never_prints_a_value() {
        let shown = format!("{:?}", input(serde_json::json!({ "type": "secretText", "secret": "hunter2" })));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
