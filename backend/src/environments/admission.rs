//! Admission: turns a manifest (and the current object, for updates) into the next object, or says why not.

use std::collections::BTreeMap;

use super::OperationError;
use crate::domain::manifest::EnvironmentManifest;
use crate::domain::object::JenkinsEnvironment;
use crate::domain::spec::JenkinsEnvironmentSpec;
use crate::domain::validation::{self, FieldError, MetaInput};
use crate::domain::{API_VERSION, AWS_RESOURCES_FINALIZER, KIND};

/// What a client may change, after defaulting and validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Admitted {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub finalizers: Vec<String>,
    pub spec: JenkinsEnvironmentSpec,
    pub warnings: Vec<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> OperationError {
    OperationError::Invalid(vec![FieldError { field: field.to_owned(), message: message.into() }])
}

/// Admits a manifest for `tenant`: `name_in_path` is the URL's name (replace, patch), `current` the stored
/// object (replace, patch). Checks identity, preconditions, finalizer rules, defaults and validation.
pub(crate) fn admit(
    tenant: &str,
    name_in_path: Option<&str>,
    manifest: EnvironmentManifest,
    current: Option<&JenkinsEnvironment>,
) -> Result<Admitted, OperationError> {
    if let Some(api_version) = &manifest.api_version {
        if api_version != API_VERSION {
            return Err(invalid("apiVersion", format!("must be {API_VERSION}")));
        }
    }
    if let Some(kind) = &manifest.kind {
        if kind != KIND {
            return Err(invalid("kind", format!("must be {KIND}")));
        }
    }
    let meta = manifest.metadata;
    if let Some(body_tenant) = &meta.tenant {
        if body_tenant != tenant {
            return Err(invalid("metadata.tenant", format!("is {body_tenant:?} but the URL names tenant {tenant:?}")));
        }
    }
    let name = match (name_in_path, meta.name) {
        (Some(path), Some(body)) if path != body => {
            return Err(invalid("metadata.name", format!("is {body:?} but the URL names {path:?}")))
        }
        (Some(path), _) => path.to_owned(),
        (None, Some(body)) => body,
        (None, None) => return Err(invalid("metadata.name", "is required")),
    };
    if let Some(current) = current {
        check_preconditions(current, meta.uid.as_deref(), meta.resource_version.as_deref())?;
    }
    let finalizers = next_finalizers(current, meta.finalizers)?;
    let admitted = Admitted {
        name,
        labels: meta.labels.unwrap_or_default(),
        annotations: meta.annotations.unwrap_or_default(),
        finalizers,
        spec: manifest.spec,
        warnings: Vec::new(),
    };
    if let Some(current) = current {
        if current.metadata.deletion_timestamp.is_some() && current.spec != admitted.spec {
            return Err(OperationError::Conflict(format!(
                "jenkinsenvironment {:?} is being deleted; its spec can no longer change",
                current.metadata.name
            )));
        }
    }
    let review = validation::review(
        &MetaInput {
            tenant,
            name: &admitted.name,
            labels: &admitted.labels,
            annotations: &admitted.annotations,
            finalizers: &admitted.finalizers,
        },
        &admitted.spec,
    );
    if !review.errors.is_empty() {
        return Err(OperationError::Invalid(review.errors));
    }
    Ok(Admitted { warnings: review.warnings, ..admitted })
}

fn check_preconditions(
    current: &JenkinsEnvironment,
    uid: Option<&str>,
    resource_version: Option<&str>,
) -> Result<(), OperationError> {
    if let Some(uid) = uid {
        if uid != current.metadata.uid.to_string() {
            return Err(OperationError::Conflict(format!(
                "metadata.uid {uid} does not match the stored object ({}): it was deleted and created again",
                current.metadata.uid
            )));
        }
    }
    if let Some(resource_version) = resource_version {
        if resource_version != current.metadata.resource_version {
            return Err(OperationError::Conflict(format!(
                "the object has been modified (resourceVersion {resource_version} is stale, the stored one is {}); \
                 read it again and apply your change to the latest version",
                current.metadata.resource_version
            )));
        }
    }
    Ok(())
}

/// Finalizers after a write: Butler's own is added on create and can only be removed by Butler (the reconciler,
/// once AWS is clean); while deleting, none may be added.
fn next_finalizers(
    current: Option<&JenkinsEnvironment>,
    requested: Option<Vec<String>>,
) -> Result<Vec<String>, OperationError> {
    let Some(current) = current else {
        let mut finalizers = requested.unwrap_or_default();
        if !finalizers.iter().any(|f| f == AWS_RESOURCES_FINALIZER) {
            finalizers.insert(0, AWS_RESOURCES_FINALIZER.to_owned());
        }
        return Ok(finalizers);
    };
    let Some(requested) = requested else { return Ok(current.metadata.finalizers.clone()) };
    let had_ours = current.metadata.finalizers.iter().any(|f| f == AWS_RESOURCES_FINALIZER);
    if had_ours && !requested.iter().any(|f| f == AWS_RESOURCES_FINALIZER) {
        return Err(invalid(
            "metadata.finalizers",
            format!("{AWS_RESOURCES_FINALIZER} is managed by Butler: it goes once the AWS resources are deleted"),
        ));
    }
    if !had_ours && requested.iter().any(|f| f == AWS_RESOURCES_FINALIZER) {
        return Err(invalid("metadata.finalizers", format!("{AWS_RESOURCES_FINALIZER} is set by Butler only")));
    }
    if current.metadata.deletion_timestamp.is_some() {
        if let Some(added) = requested.iter().find(|f| !current.metadata.finalizers.contains(f)) {
            return Err(invalid(
                "metadata.finalizers",
                format!("cannot add {added} while the object is being deleted"),
            ));
        }
    }
    Ok(requested)
}
