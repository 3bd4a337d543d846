//! Real headless Chromium through chromedriver (WebDriver, driven with fantoccini): sign in, find, type,
//! click, wait for what a person would wait for, save a screenshot of each page, and run axe-core on it
//! (no serious or critical violation allowed).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

/// A browser session and the chromedriver serving it (stopped on drop).
pub struct Browser {
    pub client: Client,
    driver: Child,
    base_url: String,
    screenshots: PathBuf,
    axe: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser is chromedriver's child: stop it first, or it outlives a test that panicked mid-session.
        let _ = Command::new("pkill").args(["-TERM", "-P", &self.driver.id().to_string()]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// Where the screenshots go: `<workspace>/.dev/test-output/screenshots/<test>/`.
fn screenshot_dir(test: &str) -> PathBuf {
    let root = std::env::var("BUTLER_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(".dev").join("test-output"));
    let dir = root.join("screenshots").join(test);
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

impl Browser {
    /// A headless Chromium at phone or desktop size, for `base_url`; `test` names the screenshot folder.
    pub async fn start(base_url: &str, test: &str, width: u32, height: u32) -> Self {
        Self::start_with_args(base_url, test, width, height, &[]).await
    }

    /// As `start`, with more Chromium arguments (a proxy standing in for a site the test plays).
    pub async fn start_with_args(base_url: &str, test: &str, width: u32, height: u32, extra: &[String]) -> Self {
        let chromedriver = std::env::var("BUTLER_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium = std::env::var("BUTLER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let axe_path = std::env::var("BUTLER_AXE_JS").expect("BUTLER_AXE_JS: run the tests through ./dev/test");
        let axe = std::fs::read_to_string(&axe_path).expect("axe-core");
        // Two TLS backends are linked in (the AWS SDK's and reqwest's); the WebDriver client needs one chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (./dev/test installs it)");
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
        ];
        args.extend(extra.iter().cloned());
        let capabilities = serde_json::json!({ "goog:chromeOptions": { "binary": chromium, "args": args } });
        let capabilities = capabilities.as_object().cloned().expect("object");
        let mut last_error = String::new();
        for _ in 0..100 {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        base_url: base_url.to_owned(),
                        screenshots: screenshot_dir(test),
                        axe,
                    };
                }
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer: {last_error}");
    }

    /// Opens a path of the site.
    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base_url)).await.expect("navigate");
    }

    /// Opens an absolute URL (another site's link into Butler).
    pub async fn goto_url(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The current path.
    pub async fn path(&self) -> String {
        self.client.current_url().await.expect("url").path().to_owned()
    }

    /// Waits for an element.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
    }

    /// Whether an element is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Replaces a field's text.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Text of an element.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Text of an element now, if it is there (a page replacing itself may take it away mid-read).
    pub async fn try_text(&self, css: &str) -> Option<String> {
        self.client.find(Locator::Css(css)).await.ok()?.text().await.ok()
    }

    /// Waits until `css`'s text contains `needle`, reading again across reloads.
    pub async fn wait_for_contains(&self, css: &str, needle: &str) {
        for _ in 0..100 {
            if self.try_text(css).await.is_some_and(|text| text.contains(needle)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never contained {needle:?}");
    }

    /// Waits until the path is `path`.
    pub async fn wait_for_path(&self, path: &str) {
        for _ in 0..200 {
            if self.path().await == path {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never reached {path}; at {}", self.path().await);
    }

    /// Waits until `css`'s text is `expected` (the page updates itself; nothing reloads it).
    pub async fn wait_for_text(&self, css: &str, expected: &str, seconds: u64) {
        let mut seen = String::new();
        for _ in 0..seconds * 5 {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                seen = element.text().await.unwrap_or_default();
                if seen.trim() == expected {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{css} never said {expected:?} (last: {seen:?})");
    }

    /// Signs in through the sign-in page.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.client.delete_all_cookies().await.ok();
        self.goto("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("#login button[type=submit]").await;
        for _ in 0..100 {
            if self.path().await != "/login" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("sign-in as {email} did not leave the sign-in page");
    }

    /// Saves a screenshot as `<name>.png` and checks the page with axe-core: no serious or critical violation.
    pub async fn check_page(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.screenshots.join(format!("{name}.png")), png).expect("save screenshot");
        self.client.execute(&self.axe, vec![]).await.expect("inject axe-core");
        let result = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   axe.run(document, { resultTypes: ["violations"] })
                      .then(r => done(r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
                                      .map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(" ")).join(", ")})`)))
                      .catch(e => done([`axe failed: ${e}`]));"#,
                vec![],
            )
            .await
            .expect("axe-core runs");
        let violations: Vec<String> = serde_json::from_value(result).unwrap_or_default();
        assert!(violations.is_empty(), "{name}: accessibility violations: {violations:#?}");
    }

    /// Runs `fetch` in the page (same session, same cookies) and returns the status.
    pub async fn fetch_status(&self, method: &str, path: &str, body: &serde_json::Value) -> u16 {
        let result = self
            .client
            .execute_async(
                r#"const [method, path, body, done] = arguments;
                   const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
                   fetch(path, { method, credentials: "same-origin",
                                 headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
                                 body: JSON.stringify(body) })
                     .then(r => done(r.status)).catch(() => done(0));"#,
                vec![method.into(), path.into(), body.clone()],
            )
            .await
            .expect("fetch in page");
        u16::try_from(result.as_u64().unwrap_or(0)).unwrap_or(0)
    }
}
