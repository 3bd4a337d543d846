//! AWS errors classified at the adapter boundary, so the reconciler decides on kinds, never on strings.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure an AWS call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The resource does not exist (deleting it is then done).
    NotFound,
    /// A create found the name or token taken (look it up instead).
    AlreadyExists,
    /// Slow down: retry with backoff.
    Throttled,
    /// The resource is busy or in the wrong state (in use, dependency violation): retry later.
    Conflict,
    /// AWS rejected the request as invalid: retrying the same request cannot help.
    Invalid,
    /// Missing permissions: a person must act.
    AccessDenied,
    /// Timeouts, 5xx, dropped connections: retry.
    Transient,
}

/// A classified AWS failure with the service's code and message (never credentials or signatures).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub kind: AwsErrorKind,
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

impl AwsError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Throttled | AwsErrorKind::Conflict | AwsErrorKind::Transient)
    }

    /// Butler's own failure in the middle of a pass (its database): transient, never dressed up as an AWS
    /// answer, with the whole cause chain.
    pub fn internal(operation: &'static str, error: &dyn std::error::Error) -> Self {
        Self {
            kind: AwsErrorKind::Transient,
            operation,
            code: "InternalError".into(),
            message: crate::telemetry::with_causes(error),
        }
    }

    /// An error raised by Butler's own checks at the boundary (an answer missing a field it must have).
    pub fn malformed(operation: &'static str, what: &str) -> Self {
        Self { kind: AwsErrorKind::Transient, operation, code: "MalformedResponse".into(), message: what.into() }
    }
}

/// Deleting what is already gone is success: turns `NotFound` into `Ok`.
pub(crate) fn gone_is_fine<T: Default>(result: Result<T, AwsError>) -> Result<T, AwsError> {
    match result {
        Err(error) if error.kind == AwsErrorKind::NotFound => Ok(T::default()),
        other => other,
    }
}

/// Maps an error code (and HTTP status) to a kind. Codes differ per service; these are the ones the services
/// Butler calls use (EC2 `InvalidGroup.NotFound`, EFS `FileSystemNotFound`, ECS `ClusterNotFoundException`, …).
pub(crate) fn kind_of(code: &str, status: Option<u16>) -> AwsErrorKind {
    let lower = code.to_ascii_lowercase();
    if lower.contains("throttl")
        || lower.contains("requestlimitexceeded")
        || lower == "toomanyrequestsexception"
        || lower.contains("slowdown")
        || lower.contains("ratelimit")
    {
        AwsErrorKind::Throttled
    } else if lower.contains("notfound")
        || lower.contains("nosuch")
        || lower.ends_with(".notfound")
        || lower == "servicenotfound"
        || lower == "namespacenotfound"
    {
        AwsErrorKind::NotFound
    } else if lower.contains("alreadyexists") || lower.contains("duplicate") || lower.contains("entityalreadyexists") {
        AwsErrorKind::AlreadyExists
    } else if lower.contains("accessdenied") || lower.contains("unauthorized") || lower.contains("authfailure") {
        AwsErrorKind::AccessDenied
    } else if lower.contains("inuse")
        || lower.contains("dependencyviolation")
        || lower.contains("resourceinuse")
        || lower.contains("incorrectstate")
        || lower.contains("incorrectfilesystemlifecyclestate")
        || lower.contains("scalingactivityinprogress")
        || lower.contains("clustercontains")
        || lower.contains("updateinprogress")
        || lower.contains("conflict")
    {
        AwsErrorKind::Conflict
    } else if lower.contains("invalid")
        || lower.contains("validation")
        || lower.contains("malformed")
        || lower.contains("limitexceeded")
        || lower.contains("quota")
    {
        AwsErrorKind::Invalid
    } else {
        match status {
            Some(status) if status >= 500 => AwsErrorKind::Transient,
            Some(404) => AwsErrorKind::NotFound,
            Some(409) => AwsErrorKind::Conflict,
            Some(400..=499) => AwsErrorKind::Invalid,
            _ => AwsErrorKind::Transient,
        }
    }
}

/// Classifies an SDK error from `operation`.
pub(crate) fn classify<E, R>(operation: &'static str, error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HasStatus,
{
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status_code();
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let message = service.err().message().unwrap_or_default().to_owned();
            AwsError { kind: kind_of(&code, status), operation, code, message }
        }
        SdkError::TimeoutError(_) => AwsError {
            kind: AwsErrorKind::Transient,
            operation,
            code: "Timeout".into(),
            message: "the call timed out".into(),
        },
        SdkError::DispatchFailure(failure) => AwsError {
            kind: AwsErrorKind::Transient,
            operation,
            code: "DispatchFailure".into(),
            message: format!("{:?}", failure.as_connector_error().map(|e| e.to_string())),
        },
        // An answer that does not parse: an emulator's unimplemented call (HTML 500) or a truncated reply.
        SdkError::ResponseError(response) => AwsError {
            kind: AwsErrorKind::Transient,
            operation,
            code: "ResponseError".into(),
            message: format!("unreadable answer (HTTP {:?})", response.raw().status_code()),
        },
        other => AwsError {
            kind: AwsErrorKind::Invalid,
            operation,
            code: "ConstructionFailure".into(),
            message: other.to_string(),
        },
    }
}

/// The HTTP status of a raw response, where there is one.
pub(crate) trait HasStatus {
    /// The status code.
    fn status_code(&self) -> Option<u16>;
}

impl HasStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status_code(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_the_services_butler_calls_are_classified() {
        assert_eq!(kind_of("InvalidGroup.NotFound", Some(400)), AwsErrorKind::NotFound);
        assert_eq!(kind_of("FileSystemNotFound", Some(404)), AwsErrorKind::NotFound);
        assert_eq!(kind_of("ClusterNotFoundException", Some(400)), AwsErrorKind::NotFound);
        assert_eq!(kind_of("FileSystemAlreadyExists", Some(409)), AwsErrorKind::AlreadyExists);
        assert_eq!(kind_of("InvalidGroup.Duplicate", Some(400)), AwsErrorKind::AlreadyExists);
        assert_eq!(kind_of("ThrottlingException", Some(400)), AwsErrorKind::Throttled);
        assert_eq!(kind_of("RequestLimitExceeded", Some(503)), AwsErrorKind::Throttled);
        assert_eq!(kind_of("DependencyViolation", Some(400)), AwsErrorKind::Conflict);
        assert_eq!(kind_of("FileSystemInUse", Some(409)), AwsErrorKind::Conflict);
        assert_eq!(kind_of("ResourceInUse", Some(400)), AwsErrorKind::Conflict);
        assert_eq!(kind_of("AccessDeniedException", Some(403)), AwsErrorKind::AccessDenied);
        assert_eq!(kind_of("UnauthorizedOperation", Some(403)), AwsErrorKind::AccessDenied);
        assert_eq!(kind_of("InvalidParameterValue", Some(400)), AwsErrorKind::Invalid);
        assert_eq!(kind_of("InternalFailure", Some(500)), AwsErrorKind::Transient);
        assert!(!AwsError {
            kind: AwsErrorKind::AccessDenied,
            operation: "x",
            code: String::new(),
            message: String::new()
        }
        .is_transient());
    }
}
