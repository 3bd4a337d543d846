//! The real controller client, over HTTP(S). Checked against jenkinsci/configuration-as-code-plugin 58646eb6
//! (`TokenReloadAction`: `POST /reload-configuration-as-code/?casc-reload-token=…`, an unprotected root action
//! exempt from the crumb only at exactly that path, answering 200 with `{"status":"error"}` when the
//! configuration fails) and jenkinsci/jenkins ff9430ee (`Jenkins.doQuietDown(block, timeout, message, …)`,
//! `doCancelQuietDown`, `Computer` executors and one-off executors; a POST authenticated with a password needs a
//! crumb from `/crumbIssuer/api/json` and the session it was issued in).

use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;

use super::{ControllerApi, ControllerError, Endpoint};

/// How long one call to a controller may take.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The admin user Butler configures (JCasC local realm, or oic-auth's escape hatch).
const ADMIN: &str = "admin";

/// A client for real controllers.
#[derive(Debug, Default, Clone)]
pub struct HttpController;

/// The error without the URL reqwest puts in it (a query may carry a token).
fn unreachable(jenkins: &Endpoint, error: reqwest::Error) -> ControllerError {
    let error = error.without_url();
    ControllerError::Unreachable { url: jenkins.url.clone(), reason: crate::telemetry::with_causes(&error) }
}

/// A client with its own cookie jar: the crumb Jenkins issues is bound to the session cookie of that request.
fn session() -> Result<reqwest::Client, ControllerError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ControllerError::Refused { what: "a client", reason: e.to_string() })
}

fn password(jenkins: &Endpoint) -> Result<&str, ControllerError> {
    jenkins
        .admin_password
        .as_ref()
        .map(ExposeSecret::expose_secret)
        .ok_or(ControllerError::Refused { what: "a call", reason: "no admin password is known".into() })
}

async fn refused(what: &'static str, response: reqwest::Response) -> ControllerError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let reason = format!("HTTP {status}: {}", body.chars().take(300).collect::<String>());
    ControllerError::Refused { what, reason }
}

/// POSTs `path` as the admin with a crumb of the same session.
async fn admin_post(jenkins: &Endpoint, path: &str, what: &'static str) -> Result<(), ControllerError> {
    let client = session()?;
    let password = password(jenkins)?;
    let crumb = client
        .get(format!("{}crumbIssuer/api/json", jenkins.url))
        .basic_auth(ADMIN, Some(password))
        .send()
        .await
        .map_err(|e| unreachable(jenkins, e))?;
    let mut request = client.post(format!("{}{path}", jenkins.url)).basic_auth(ADMIN, Some(password));
    // No crumb issuer (CSRF protection off) is a 404: the POST goes without.
    if crumb.status().is_success() {
        let crumb: serde_json::Value = crumb.json().await.map_err(|e| unreachable(jenkins, e))?;
        if let (Some(field), Some(value)) = (crumb["crumbRequestField"].as_str(), crumb["crumb"].as_str()) {
            request = request.header(field, value);
        }
    }
    let response = request.send().await.map_err(|e| unreachable(jenkins, e))?;
    // Jenkins answers both with a redirect to its root page.
    if response.status().is_success() || response.status().is_redirection() {
        Ok(())
    } else {
        Err(refused(what, response).await)
    }
}

#[async_trait]
impl ControllerApi for HttpController {
    async fn reload_configuration(&self, jenkins: &Endpoint) -> Result<(), ControllerError> {
        let token = jenkins
            .reload_token
            .as_ref()
            .ok_or(ControllerError::Refused { what: "a reload", reason: "no reload token is known".into() })?;
        let client = session()?;
        // The trailing slash matters: the crumb exclusion matches the path exactly. The token goes in the form
        // body (Stapler reads it as the same parameter), never in a URL a log or an error could show.
        let response = client
            .post(format!("{}reload-configuration-as-code/", jenkins.url))
            .form(&[("casc-reload-token", token.expose_secret())])
            .send()
            .await
            .map_err(|e| unreachable(jenkins, e))?;
        if !response.status().is_success() {
            return Err(refused("the reload", response).await);
        }
        let body = response.text().await.unwrap_or_default();
        // A configuration error still answers 200, with a JSON body saying so.
        if let Ok(answer) = serde_json::from_str::<serde_json::Value>(&body) {
            if answer["status"] == "error" {
                let reason = answer["message"].as_str().unwrap_or("configuration error").to_owned();
                return Err(ControllerError::Refused { what: "the configuration", reason });
            }
        }
        Ok(())
    }

    async fn quiet_down(&self, jenkins: &Endpoint, message: &str) -> Result<(), ControllerError> {
        let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("message", message).finish();
        admin_post(jenkins, &format!("quietDown?{query}"), "quiet-down").await
    }

    async fn cancel_quiet_down(&self, jenkins: &Endpoint) -> Result<(), ControllerError> {
        admin_post(jenkins, "cancelQuietDown", "the end of quiet-down").await
    }

    async fn running_builds(&self, jenkins: &Endpoint) -> Result<u32, ControllerError> {
        let client = session()?;
        // Pipelines run on one-off (flyweight) executors, which busyExecutors does not count.
        let tree = "computer[executors[currentExecutable[url]],oneOffExecutors[currentExecutable[url]]]";
        let response = client
            .get(format!("{}computer/api/json", jenkins.url))
            .query(&[("tree", tree)])
            .basic_auth(ADMIN, Some(password(jenkins)?))
            .send()
            .await
            .map_err(|e| unreachable(jenkins, e))?;
        if !response.status().is_success() {
            return Err(refused("the build count", response).await);
        }
        let answer: serde_json::Value = response.json().await.map_err(|e| unreachable(jenkins, e))?;
        Ok(count_running(&answer))
    }
}

/// Executors (of every kind, on every computer) with a build running.
fn count_running(answer: &serde_json::Value) -> u32 {
    let busy = |executors: &serde_json::Value| {
        executors.as_array().map_or(0, |list| list.iter().filter(|e| !e["currentExecutable"].is_null()).count())
    };
    let computers = answer["computer"].as_array().map(Vec::as_slice).unwrap_or_default();
    let total: usize = computers.iter().map(|c| busy(&c["executors"]) + busy(&c["oneOffExecutors"])).sum();
    u32::try_from(total).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_builds_count_agents_and_flyweight_executors() {
        let answer = serde_json::json!({ "computer": [
            { "executors": [], "oneOffExecutors": [{ "currentExecutable": { "url": "job/a/1/" } }] },
            { "executors": [{ "currentExecutable": { "url": "job/b/7/" } }, { "currentExecutable": null }],
              "oneOffExecutors": [] }
        ] });
        assert_eq!(count_running(&answer), 2);
        assert_eq!(count_running(&serde_json::json!({})), 0);
    }
}
