//! The team's Jenkins in real headless Chromium: the configuration editor with one error corrected (shown beside
//! the field, nothing stored until it is right), a credential added (its value never filled back in, never on the
//! page), and a restart-needing change seen draining while the in-memory Jenkins has builds running. Every page is
//! screenshotted and checked with axe-core.

use butler_tests::browser::Browser;
use butler_tests::emulated::World;
use butler_tests::{environment_path, manifest, Who, PASSWORD};
use reqwest::StatusCode;

const SECRET: &str = "ghp_typed-in-the-browser-never-shown";

#[tokio::test]
async fn a_team_edits_its_configuration_adds_a_credential_and_sees_a_change_drain() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    assert_eq!(world.object("ci").await["status"]["phase"], "Ready");
    world.jenkins.state().running_builds = 3;

    let browser = Browser::start(&world.app.base_url, "jenkins", 1280, 1100).await;
    browser.sign_in(Who::PaymentsAdmin.email(), PASSWORD).await;
    browser.goto("/t/payments/environments/ci/edit").await;

    // A key Butler owns: the error is beside the editor and nothing is stored.
    browser.fill("#f-casc", "jenkins:\n  numExecutors: 4\n").await;
    browser.click("#environment-form button[type=submit]").await;
    browser.wait_for_contains(".field:has(#f-casc) .field-error", "cannot be overridden").await;
    let error = browser.text(".field:has(#f-casc) .field-error").await;
    assert!(error.contains("builds run on agents"), "{error}");
    assert_eq!(browser.path().await, "/t/payments/environments/ci/edit", "still on the form");
    browser.check_page("01-configuration-error").await;
    assert_eq!(world.object("ci").await["metadata"]["generation"], 1, "nothing stored");

    // Corrected: saved, and the change (without a public URL, a new task definition) waits for the builds.
    browser.fill("#f-casc", "jenkins:\n  mode: EXCLUSIVE\n").await;
    browser.click("#environment-form button[type=submit]").await;
    browser.wait_for_path("/t/payments/environments/ci").await;
    let stored = world.object("ci").await;
    assert_eq!(stored["spec"]["jenkins"]["configurationAsCode"], "jenkins:\n  mode: EXCLUSIVE");
    world.reconciler.reconcile_once("payments", "ci").await.expect("pass");
    browser.wait_for_contains("[data-testid=rollout]", "draining: 3 build(s) running, 30 min left").await;
    assert!(world.jenkins.state().quieting_down, "Jenkins is in quiet-down");
    browser.check_page("02-draining").await;

    // A credential: added through the form, listed by id and type, its value nowhere on the page afterwards.
    browser.click("#credentials details summary").await;
    browser.fill("#c-id", "github-token").await;
    browser.fill("#c-description", "GitHub, read-only").await;
    browser.fill("#c-secret", SECRET).await;
    browser.click("#credential-form button[type=submit]").await;
    browser.wait_for_contains("[data-testid=credentials]", "github-token").await;
    assert!(browser.text("[data-testid=credentials]").await.contains("secretText"));
    let value = browser.find("#c-secret").await.prop("value").await.expect("value");
    assert_eq!(value.as_deref(), Some(""), "the value is never filled back in");
    let source = browser.client.source().await.expect("source");
    assert!(!source.contains(SECRET), "the page never carries the value");
    browser.check_page("03-credential-added").await;
    let listed = world.app.get(&format!("{}/credentials", environment_path("payments", "ci"))).await.json();
    assert_eq!(listed["items"][0]["description"], "GitHub, read-only");

    // The builds finish: the change rolls and the pending change leaves the page.
    world.jenkins.state().running_builds = 0;
    world.converge("ci").await;
    browser.goto("/t/payments/environments/ci").await;
    assert!(!browser.has("[data-testid=rollout]").await, "no pending change once rolled");
}
