//! Test harness: a Butler on a free loopback port with its own PostgreSQL database (cloned from a migrated
//! template), an HTTP client whose every response is checked against `openapi.yaml`, and an SSE reader.

pub mod aws;
pub mod browser;
pub mod database;
pub mod emulated;
pub mod emulated_ingress;
pub mod fake_jenkins;
pub mod fakes;
pub mod fakes_compute;
pub mod fakes_ingress;
pub mod faulty_aws;
pub mod iam_eval;
pub mod openapi;
pub mod proxy;
pub mod replica;
pub mod scenarios;
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

/// The JWT secret every test app shares (replicas of one test must verify each other's tokens).
pub const JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-keys";
/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery staple";

/// The people (and what they may do) every test app starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// Platform admin: every tenant.
    Platform,
    PaymentsAdmin,
    PaymentsEditor,
    PaymentsViewer,
    /// Admin of the tenant `other` only.
    OtherAdmin,
}

impl Who {
    /// Every identity.
    pub const ALL: [Who; 5] =
        [Who::Platform, Who::PaymentsAdmin, Who::PaymentsEditor, Who::PaymentsViewer, Who::OtherAdmin];

    /// The identity's email.
    pub fn email(self) -> &'static str {
        match self {
            Who::Platform => "root@butler.test",
            Who::PaymentsAdmin => "admin@payments.test",
            Who::PaymentsEditor => "editor@payments.test",
            Who::PaymentsViewer => "viewer@payments.test",
            Who::OtherAdmin => "admin@other.test",
        }
    }
}

/// A running Butler with its own database.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub database_name: String,
    pub state: AppState,
    /// A JWT per identity.
    pub jwts: std::collections::HashMap<Who, String>,
    /// User ids per identity.
    pub user_ids: std::collections::HashMap<Who, uuid::Uuid>,
    /// Whose JWT `request` sends.
    pub default_identity: Who,
    shutdown: CancellationToken,
}

static PASSWORD_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn password_hash() -> String {
    PASSWORD_HASH
        .get_or_init(|| async {
            butler::auth::password::hash(secrecy::SecretString::from(PASSWORD.to_owned())).await.expect("hash")
        })
        .await
        .clone()
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
        let db = sea_orm::Database::connect(database::url_for(&database_name)).await.expect("connect");
        for tenant in ["payments", "other"] {
            butler::store::tenants::create(&db, tenant, tenant).await.expect("tenant");
        }
        let hash = password_hash().await;
        for who in Who::ALL {
            let user = butler::store::users::create(&db, who.email(), &hash, who == Who::Platform).await.expect("user");
            let membership = match who {
                Who::Platform => None,
                Who::PaymentsAdmin => Some(("payments", "admin")),
                Who::PaymentsEditor => Some(("payments", "editor")),
                Who::PaymentsViewer => Some(("payments", "viewer")),
                Who::OtherAdmin => Some(("other", "admin")),
            };
            if let Some((tenant, role)) = membership {
                butler::store::users::set_membership(&db, tenant, user.id, role).await.expect("membership");
            }
        }
        db.close().await.ok();
        Self::spawn_on(&database_name).await
    }

    /// Starts another Butler process-equivalent on an existing database.
    pub async fn spawn_on(database_name: &str) -> Self {
        Self::spawn_configured(database_name, false).await
    }

    /// Starts Butler with its reconciler running (against the AWS emulator), on a fresh database.
    pub async fn spawn_reconciling() -> Self {
        let plain = Self::spawn().await;
        let name = plain.database_name.clone();
        drop(plain);
        Self::spawn_configured(&name, true).await
    }

    /// Starts Butler on an existing database reached through `url` (a proxy a test can cut, say).
    pub async fn spawn_via(database_name: &str, url: &str) -> Self {
        Self::spawn_with(database_name, url.to_owned(), false).await
    }

    async fn spawn_configured(database_name: &str, reconcile: bool) -> Self {
        Self::spawn_with(database_name, database::url_for(database_name), reconcile).await
    }

    async fn spawn_with(database_name: &str, url: String, reconcile: bool) -> Self {
        let config = Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "BUTLER_LISTEN" => Some("127.0.0.1:0".to_owned()),
            "BUTLER_DATABASE_MAX_CONNECTIONS" => Some("8".to_owned()),
            "BUTLER_JWT_SECRET" => Some(JWT_SECRET.to_owned()),
            // API tests see the API alone; reconciler tests drive passes or start a runner themselves.
            "BUTLER_RECONCILE" => Some(reconcile.to_string()),
            "BUTLER_AWS_ENDPOINT_URL" => std::env::var("BUTLER_AWS_ENDPOINT_URL").ok(),
            // Benchmarks tune the runner.
            "BUTLER_RECONCILE_CONCURRENCY" => std::env::var(name).ok(),
            _ => None,
        })
        .expect("test config");
        let app = Application::build(config).await.expect("app builds");
        let address = app.local_addr().expect("bound");
        let shutdown = app.shutdown_token();
        let state = app.state().clone();
        tokio::spawn(app.run());
        let mut jwts = std::collections::HashMap::new();
        let mut user_ids = std::collections::HashMap::new();
        for who in Who::ALL {
            if let Some(user) = butler::store::users::find_by_email(&state.db, who.email()).await.expect("user lookup")
            {
                let (jwt, _) = state.jwt.issue(user.id, None, std::time::Duration::from_secs(3600)).expect("jwt");
                jwts.insert(who, jwt);
                user_ids.insert(who, user.id);
            }
        }
        let test_app = Self {
            base_url: format!("http://{address}"),
            client: reqwest::Client::builder().build().expect("client"),
            database_name: database_name.to_owned(),
            state,
            jwts,
            user_ids,
            default_identity: Who::Platform,
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

    /// A browser session's cookie (`name=value`) for `who`, signed in with their password.
    pub async fn session_cookie(&self, who: Who) -> String {
        let response = self
            .client
            .post(format!("{}/api/v1/auth/session", self.base_url))
            .json(&serde_json::json!({ "email": who.email(), "password": PASSWORD }))
            .send()
            .await
            .expect("sign in");
        let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("cookie").to_owned();
        cookie.split(';').next().unwrap_or_default().to_owned()
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

    /// Starts a request to `path` as the default identity (a platform admin unless changed).
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request_as(self.default_identity, method, path)
    }

    /// Starts a request as `who`.
    pub fn request_as(&self, who: Who, method: Method, path: &str) -> reqwest::RequestBuilder {
        let jwt = self.jwts.get(&who).cloned().unwrap_or_default();
        self.anonymous(method, path).bearer_auth(jwt)
    }

    /// Starts a request with no credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
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

impl TestApp {
    /// Creates an API token directly in the store; returns its id and secret.
    pub async fn api_token(&self, tenant: &str, name: &str, role: &str) -> (uuid::Uuid, String) {
        let secret = butler::auth::tokens::generate();
        let digest = butler::auth::tokens::digest(&secret);
        let row = butler::store::api_tokens::create(&self.db(), tenant, name, role, &digest, None, None)
            .await
            .expect("token stored");
        (row.id, secret)
    }

    /// Creates a user with the test password; returns its id.
    pub async fn user(&self, email: &str, tenant: Option<(&str, &str)>) -> uuid::Uuid {
        let hash = password_hash().await;
        let user = butler::store::users::create(&self.db(), email, &hash, false).await.expect("user");
        if let Some((tenant, role)) = tenant {
            butler::store::users::set_membership(&self.db(), tenant, user.id, role).await.expect("membership");
        }
        user.id
    }

    /// Audit entries, newest first, straight from the store.
    pub async fn audit(&self, tenant: Option<&str>) -> Vec<butler::store::audit::AuditRow> {
        let filter =
            butler::store::audit::AuditFilter { tenant: tenant.map(str::to_owned), limit: 1000, ..Default::default() };
        butler::store::audit::list(&self.db(), &filter).await.expect("audit")
    }
}
