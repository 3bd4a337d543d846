//! The controller's own HTTP interface, as the reconciler needs it: reload the configuration (JCasC's token
//! reload), quiet-down and its cancel, and how many builds run. One trait; `http::HttpController` talks to a real
//! Jenkins, tests put an in-memory controller behind the same trait.

pub mod http;

use async_trait::async_trait;
use secrecy::SecretString;

/// Where a controller answers and how Butler authenticates to it.
#[derive(Clone)]
pub struct Endpoint {
    /// The environment, `tenant/name` (for logs and fakes).
    pub environment: String,
    /// Jenkins' root URL, ending in `/`.
    pub url: String,
    /// The configuration-as-code reload token (`CASC_RELOAD_TOKEN` in the controller).
    pub reload_token: Option<SecretString>,
    /// The local `admin`'s password (quiet-down and the build count need Overall/Manage and Read).
    pub admin_password: Option<SecretString>,
}

impl std::fmt::Debug for Endpoint {
    // Never prints a token or a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("environment", &self.environment).field("url", &self.url).finish()
    }
}

/// Why a call to the controller failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    /// No answer (connection refused, timeout, DNS): it may come back.
    #[error("Jenkins at {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
    /// It answered, but refused what was sent (its words).
    #[error("Jenkins refused {what}: {reason}")]
    Refused { what: &'static str, reason: String },
}

impl ControllerError {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// What the reconciler asks of a running controller.
#[async_trait]
pub trait ControllerApi: Send + Sync {
    /// Makes Jenkins read its configuration sources again and apply them (no restart). A configuration Jenkins
    /// rejects is `Refused` with its message.
    async fn reload_configuration(&self, jenkins: &Endpoint) -> Result<(), ControllerError>;
    /// Puts Jenkins into quiet-down: running builds go on, nothing new starts.
    async fn quiet_down(&self, jenkins: &Endpoint, message: &str) -> Result<(), ControllerError>;
    /// Ends quiet-down (a pending restart was withdrawn).
    async fn cancel_quiet_down(&self, jenkins: &Endpoint) -> Result<(), ControllerError>;
    /// How many builds run now (on agents and the controller's flyweight executors).
    async fn running_builds(&self, jenkins: &Endpoint) -> Result<u32, ControllerError>;
}
