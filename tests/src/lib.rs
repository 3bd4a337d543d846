//! Test harness: a Butler on a free loopback port with its own PostgreSQL database (cloned from a migrated
//! template), an HTTP client whose every response is checked against `openapi.yaml`, and an SSE reader.

pub mod database;
pub mod openapi;
pub mod sse;

use std::sync::{Arc, LazyLock};

use butler::config::Config;
use butler::startup::Application;
use butler::state::AppState;
use reqwest::{Method, StatusCode};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

pub use openapi::OpenApi;

static SPEC: LazyLock<Arc<OpenApi>> = LazyLock::new(|| Arc::new(OpenApi::load().expect("openapi.yaml loads")));

/// The contract, parsed once per test binary.
pub fn spec() -> Arc<OpenApi> {
    SPEC.clone()
}

/// A running Butler with its own database.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub database_name: String,
    pub state: AppState,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A response, already read and checked against the OpenAPI document.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

impl TestResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// One header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

/// The manifest path of a tenant's environments.
pub fn environments_path(tenant: &str) -> String {
    format!("/api/v1/tenants/{tenant}/jenkinsenvironments")
}

/// The path of one environment.
pub fn environment_path(tenant: &str, name: &str) -> String {
    format!("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}")
}

impl TestApp {
    /// Starts Butler on a fresh database with tenant `payments` (and `other`, for isolation checks).
    pub async fn spawn() -> Self {
        let database_name = database::fresh_database().await;
        let app = Self::spawn_on(&database_name).await;
        for tenant in ["payments", "other"] {
            butler::store::tenants::create(&app.db(), tenant, tenant).await.expect("tenant");
        }
        app
    }

    /// Starts another Butler process-equivalent on an existing database.
    pub async fn spawn_on(database_name: &str) -> Self {
        let url = database::url_for(database_name);
        let config = Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "BUTLER_LISTEN" => Some("127.0.0.1:0".to_owned()),
            "BUTLER_DATABASE_MAX_CONNECTIONS" => Some("8".to_owned()),
            _ => None,
        })
        .expect("test config");
        let app = Application::build(config).await.expect("app builds");
        let address = app.local_addr().expect("bound");
        let shutdown = app.shutdown_token();
        let state = app.state().clone();
        tokio::spawn(app.run());
        let test_app = Self {
            base_url: format!("http://{address}"),
            client: reqwest::Client::builder().build().expect("client"),
            database_name: database_name.to_owned(),
            state,
            shutdown,
        };
        test_app.wait_ready().await;
        test_app
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(response) = self.client.get(format!("{}/readyz", self.base_url)).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("butler did not become ready");
    }

    /// The app's own database connection.
    pub fn db(&self) -> DatabaseConnection {
        self.state.db.clone()
    }

    /// Sends a request and checks the answer against the OpenAPI document.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> TestResponse {
        let request = request.build().expect("request builds");
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let response = self.client.execute(request).await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body read");
        spec().check_response(&method, &path, status.as_u16(), &headers, &body);
        TestResponse { status, headers, body }
    }

    /// Starts a request to `path`.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base_url))
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path)).await
    }

    /// Sends JSON with `method`.
    pub async fn send_json(&self, method: Method, path: &str, body: &serde_json::Value) -> TestResponse {
        self.send(self.request(method, path).json(body)).await
    }

    /// POSTs a manifest to the tenant's collection.
    pub async fn create(&self, tenant: &str, manifest: &serde_json::Value) -> TestResponse {
        self.send_json(Method::POST, &environments_path(tenant), manifest).await
    }

    /// Sends a merge patch.
    pub async fn merge_patch(&self, tenant: &str, name: &str, patch: &serde_json::Value) -> TestResponse {
        let request = self
            .request(Method::PATCH, &environment_path(tenant, name))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string());
        self.send(request).await
    }
}

/// A minimal valid manifest; everything else defaults.
pub fn manifest(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "butler.dev/v1alpha1",
        "kind": "JenkinsEnvironment",
        "metadata": { "name": name, "labels": { "team": "checkout" } },
        "spec": {}
    })
}
