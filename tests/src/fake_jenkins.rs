//! An in-memory Jenkins controller behind `butler::jenkins::ControllerApi`, the trait the real HTTP client
//! implements: builds that run until a test ends them, quiet-down, configuration reloads (accepted or refused),
//! and a controller that does not answer. Every call is counted.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use butler::jenkins::{ControllerApi, ControllerError, Endpoint};
use secrecy::ExposeSecret;

/// What the fake controller holds.
#[derive(Debug, Default)]
pub struct JenkinsState {
    /// Builds running now.
    pub running_builds: u32,
    /// In quiet-down (nothing new would start).
    pub quieting_down: bool,
    pub quiet_downs: u32,
    pub cancelled_quiet_downs: u32,
    /// Reloads accepted.
    pub reloads: u32,
    /// The reload token of the last accepted reload, as Butler sent it.
    pub last_reload_token: Option<String>,
    /// The admin password Butler authenticated with last.
    pub last_admin_password: Option<String>,
    /// A reload is refused with this message (a configuration Jenkins rejects).
    pub reject_configuration: Option<String>,
    /// Nothing answers (a controller Butler cannot reach).
    pub unreachable: bool,
}

/// The fake; clones share their state.
#[derive(Debug, Clone, Default)]
pub struct FakeJenkins {
    pub state: Arc<Mutex<JenkinsState>>,
}

impl FakeJenkins {
    /// Locks the state.
    pub fn state(&self) -> std::sync::MutexGuard<'_, JenkinsState> {
        self.state.lock().expect("fake jenkins")
    }

    fn answer(&self, jenkins: &Endpoint) -> Result<std::sync::MutexGuard<'_, JenkinsState>, ControllerError> {
        let mut state = self.state();
        if state.unreachable {
            return Err(ControllerError::Unreachable { url: jenkins.url.clone(), reason: "connection refused".into() });
        }
        if let Some(password) = &jenkins.admin_password {
            state.last_admin_password = Some(password.expose_secret().to_owned());
        }
        Ok(state)
    }
}

#[async_trait]
impl ControllerApi for FakeJenkins {
    async fn reload_configuration(&self, jenkins: &Endpoint) -> Result<(), ControllerError> {
        let mut state = self.answer(jenkins)?;
        if let Some(reason) = state.reject_configuration.clone() {
            return Err(ControllerError::Refused { what: "the configuration", reason });
        }
        state.reloads += 1;
        state.last_reload_token = jenkins.reload_token.as_ref().map(|t| t.expose_secret().to_owned());
        Ok(())
    }

    async fn quiet_down(&self, jenkins: &Endpoint, _message: &str) -> Result<(), ControllerError> {
        let mut state = self.answer(jenkins)?;
        state.quieting_down = true;
        state.quiet_downs += 1;
        Ok(())
    }

    async fn cancel_quiet_down(&self, jenkins: &Endpoint) -> Result<(), ControllerError> {
        let mut state = self.answer(jenkins)?;
        state.quieting_down = false;
        state.cancelled_quiet_downs += 1;
        Ok(())
    }

    async fn running_builds(&self, jenkins: &Endpoint) -> Result<u32, ControllerError> {
        Ok(self.answer(jenkins)?.running_builds)
    }
}
