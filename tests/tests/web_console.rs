//! The web console in real headless Chromium against a Butler reconciling onto the AWS emulator: sign in,
//! create an environment (one validation error corrected on the way, nothing typed lost), watch it become
//! Ready without a reload, edit it, delete it and watch it go; a viewer sees no edit or delete controls and is
//! refused if they write anyway; another tenant's environment is a 404 page; every page is screenshotted and
//! checked with axe-core.

use butler::aws::ec2::SdkEc2;
use butler::aws::emulator::ensure_network;
use butler_tests::aws::{fresh_account_with_role, REGION};
use butler_tests::browser::Browser;
use butler_tests::{manifest, TestApp, Who, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn reconciling_app() -> TestApp {
    let app = TestApp::spawn_reconciling().await;
    let (account, role) = fresh_account_with_role().await;
    let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
    // With ingress: every environment gets an HTTPS address on the profile's shared load balancer.
    let ingress = butler::aws::emulator::ensure_ingress(&account, "jenkins.example.test", &network.subnet_ids, 100)
        .await
        .expect("hosted zone and certificate");
    let profile = json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role,
                          "ingress": ingress });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    app
}

#[tokio::test]
async fn a_team_creates_watches_edits_and_deletes_an_environment_in_the_browser() {
    let app = reconciling_app().await;
    let browser = Browser::start(&app.base_url, "lifecycle", 1280, 1000).await;

    browser.goto("/t/payments/environments").await;
    browser.wait_for_path("/login").await;
    browser.check_page("01-sign-in").await;
    browser.sign_in(Who::PaymentsAdmin.email(), PASSWORD).await;
    browser.wait_for_path("/t/payments/environments").await;
    assert!(browser.text("[data-testid=who]").await.contains(Who::PaymentsAdmin.email()), "who is signed in");
    assert_eq!(browser.text("[data-testid=role]").await, "admin");
    browser.check_page("02-environments-empty").await;

    browser.click("a.button[href$='/environments/new']").await;
    browser.wait_for_path("/t/payments/environments/new").await;
    browser.check_page("03-create-form").await;
    browser.fill("#f-name", "Web_CI").await;
    browser.fill("#f-max", "3").await;
    browser.click("#environment-form button[type=submit]").await;
    let error = browser.find("#f-name ~ .field-error, .field:has(#f-name) .field-error").await;
    assert!(error.text().await.expect("text").contains("DNS label"), "the error is beside the name");
    assert_eq!(
        browser.find("#f-max").await.prop("value").await.expect("value").as_deref(),
        Some("3"),
        "nothing typed is lost"
    );
    browser.check_page("04-create-form-with-error").await;
    browser.fill("#f-name", "web-ci").await;
    browser.click("[data-dry-run]").await;
    browser.wait_for_contains("[data-flash]", "Check passed: the API accepts this environment.").await;
    assert!(browser.text("[data-flash]").await.contains("USD"), "the check shows the estimated cost per hour");
    browser.click("#environment-form button[type=submit]").await;
    browser.wait_for_path("/t/payments/environments/web-ci").await;

    // The page follows the reconciler by itself: no reload between Provisioning and Ready.
    browser.wait_for_text("[data-testid=phase]", "Ready", 90).await;
    assert!(browser.has("[data-condition=ControllerReady]").await);
    // Its HTTPS address, as a link, healthy behind the load balancer (IngressReady, followed live too).
    browser.wait_for_text("[data-testid=address-health]", "healthy", 30).await;
    assert!(browser.has("[data-condition=IngressReady]").await);
    let link = browser.find("[data-testid=jenkins-url]").await;
    let href = link.attr("href").await.expect("href").expect("a link");
    assert_eq!(href, "https://web-ci-payments-8.jenkins.example.test/");
    assert_eq!(link.text().await.expect("text"), href);
    assert!(browser.text(".outputs").await.contains("web-ci.payments.jenkins.local"));
    browser.check_page("05-detail-ready").await;

    browser.click("a.button[href$='/edit']").await;
    browser.wait_for_path("/t/payments/environments/web-ci/edit").await;
    assert_eq!(browser.find("#f-max").await.prop("value").await.expect("value").as_deref(), Some("3"), "prefilled");
    browser.check_page("06-edit-form").await;
    browser.fill("#f-max-agents", "25").await;
    browser.click("#environment-form button[type=submit]").await;
    browser.wait_for_path("/t/payments/environments/web-ci").await;
    assert!(browser.text("#manifest").await.contains("maxAgents: 25"));
    let stored = app.get("/api/v1/tenants/payments/jenkinsenvironments/web-ci").await.json();
    assert_eq!(stored["spec"]["agents"]["maxAgents"], 25);
    assert_eq!(stored["metadata"]["generation"], 2);

    browser.goto("/t/payments/environments").await;
    assert!(browser.text("table").await.contains("web-ci"));
    browser.check_page("07-environments-list").await;

    browser.goto("/t/payments/environments/web-ci/delete").await;
    assert!(browser.text(".notice").await.contains("kept"), "the page says JENKINS_HOME is kept (Retain)");
    browser.check_page("08-delete-confirm").await;
    browser.fill("#confirm-name", "wrong").await;
    browser.click("#delete-form button[type=submit]").await;
    browser.find(".field:has(#confirm-name) .field-error").await;
    browser.fill("#confirm-name", "web-ci").await;
    browser.click("#delete-form button[type=submit]").await;
    browser.wait_for_path("/t/payments/environments/web-ci").await;
    browser.check_page("09-detail-deleting").await;
    // The page follows the teardown until the environment is gone.
    for _ in 0..450 {
        if browser.has("[data-testid=gone]").await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(browser.has("[data-testid=gone]").await, "the page never said the environment is gone");
    assert_eq!(app.get("/api/v1/tenants/payments/jenkinsenvironments/web-ci").await.status, StatusCode::NOT_FOUND);
    browser.check_page("10-detail-gone").await;
}

#[tokio::test]
async fn a_viewer_cannot_change_anything_and_another_tenant_is_a_404() {
    let app = TestApp::spawn().await;
    assert_eq!(app.create("payments", &manifest("shared")).await.status, StatusCode::CREATED);
    assert_eq!(app.create("other", &manifest("secret")).await.status, StatusCode::CREATED);
    // A phone-sized window: the same pages must work there.
    let browser = Browser::start(&app.base_url, "viewer", 390, 844).await;
    browser.sign_in(Who::PaymentsViewer.email(), PASSWORD).await;
    browser.goto("/t/payments/environments").await;
    assert!(!browser.has("a.button[href$='/environments/new']").await, "no create control for a viewer");
    browser.check_page("01-list-as-viewer-phone").await;
    browser.goto("/t/payments/environments/shared").await;
    browser.find("[data-testid=phase]").await;
    assert!(!browser.has("a.button[href$='/edit']").await, "no edit control");
    assert!(!browser.has("a.button[href$='/delete']").await, "no delete control");
    browser.check_page("02-detail-as-viewer-phone").await;

    // Posting anyway (same session, CSRF token and all) is refused.
    let body = json!({ "apiVersion": "butler.dev/v1alpha1", "kind": "JenkinsEnvironment", "metadata": { "name": "sneaky" }, "spec": {} });
    assert_eq!(browser.fetch_status("POST", "/api/v1/tenants/payments/jenkinsenvironments", &body).await, 403);
    assert_eq!(
        browser.fetch_status("DELETE", "/api/v1/tenants/payments/jenkinsenvironments/shared", &json!(null)).await,
        403
    );
    browser.goto("/t/payments/environments/shared/edit").await;
    assert_eq!(browser.text("h1").await, "Not allowed");
    browser.check_page("03-edit-forbidden").await;

    browser.goto("/t/other/environments/secret").await;
    assert_eq!(browser.text("h1").await, "Not found");
    assert!(!browser.text("main").await.contains("secret"), "nothing of the other tenant shows");
    browser.check_page("04-other-tenant-404").await;
    browser.goto("/no/such/page").await;
    assert_eq!(browser.text("h1").await, "Not found");
}

#[tokio::test]
async fn tenant_and_platform_admin_pages_work_and_pass_the_accessibility_check() {
    let app = TestApp::spawn().await;
    let profile = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let browser = Browser::start(&app.base_url, "admin", 1280, 1000).await;
    browser.sign_in(Who::PaymentsAdmin.email(), PASSWORD).await;

    browser.goto("/t/payments/members").await;
    assert!(browser.text("table").await.contains(Who::PaymentsViewer.email()));
    browser.check_page("01-members").await;
    browser.goto("/t/payments/tokens").await;
    browser.fill("#t-name", "ci-bot").await;
    browser.click("form[data-show-token] button[type=submit]").await;
    browser.wait_for_contains("#new-token", "butler_").await;
    let token = browser.text("#new-token").await;
    assert!(token.starts_with("butler_"), "the token is shown once: {token}");
    browser.check_page("02-tokens-created").await;
    browser.goto("/t/payments/tokens").await;
    assert!(!browser.text("main").await.contains(&token), "never shown again");
    browser.goto("/t/payments/quotas").await;
    browser.check_page("03-quotas").await;

    browser.sign_in(Who::Platform.email(), PASSWORD).await;
    browser.goto("/admin/tenants").await;
    browser.fill("#n-name", "Bad Name").await;
    browser.click("form[data-url='/api/v1/tenants'] button[type=submit]").await;
    browser.find("form[data-url='/api/v1/tenants'] .errors:not(:empty)").await;
    browser.fill("#n-name", "newteam").await;
    browser.click("form[data-url='/api/v1/tenants'] button[type=submit]").await;
    browser.wait_for_contains("table", "newteam").await;
    browser.check_page("04-admin-tenants").await;
    browser.goto("/admin/users").await;
    browser.check_page("05-admin-users").await;
    browser.goto("/admin/cloudprofiles").await;
    assert!(browser.text("table").await.contains("vpc-0123456789abcdef0"));
    browser.check_page("06-admin-cloud-profiles").await;
    browser.goto("/admin/audit?action=tenant.create").await;
    assert!(browser.text("table").await.contains("newteam"));
    browser.check_page("07-admin-audit").await;

    // The cost pages, with samples from the meter (in-memory AWS: two instances, one of them Spot).
    let created = app.create("payments", &manifest("metered")).await.json();
    let uid = created["metadata"]["uid"].as_str().expect("uid").to_owned();
    let fake = butler_tests::fakes::FakeAws::default();
    for (id, spot) in [("i-1", false), ("i-2", true)] {
        fake.state().tagged_instances.push(butler::aws::ec2::TaggedInstance {
            id: id.into(),
            instance_type: "m5.large".into(),
            availability_zone: "eu-west-1a".into(),
            spot,
            environment_uid: uid.clone(),
        });
    }
    fake.state().spot_prices.insert(("m5.large".into(), "eu-west-1a".into()), 0.03);
    let five = std::time::Duration::from_secs(300);
    let meter = butler::cost::meter::Meter::new(app.db(), std::sync::Arc::new(fake), "test".into(), five);
    // Intervals after the environment was created (the meter's clock is given, not waited for).
    let now = chrono::Utc::now();
    for step in 1..=3 {
        meter.run_at(now + chrono::Duration::minutes(5 * step)).await.expect("meter").expect("metered");
    }
    browser.goto("/admin/costs").await;
    assert!(browser.has("svg.chart").await, "the daily chart is drawn");
    assert!(browser.text("table").await.contains("payments"));
    browser.check_page("08-admin-costs").await;
    browser.click("table a[href^='/t/payments/costs']").await;
    assert!(browser.text("table").await.contains("metered"));
    browser.check_page("09-tenant-costs").await;
    // The environments list and the detail page show what an environment costs now and this month.
    browser.goto("/t/payments/environments").await;
    assert!(browser.text("table").await.contains("USD/h"), "cost per hour in the list");
    browser.goto("/t/payments/environments/metered").await;
    assert!(browser.text("[data-testid=cost]").await.contains("this month"));

    // Everything above is reachable from the navigation.
    browser.goto("/admin/tenants").await;
    let nav = browser.text("nav[aria-label=Main]").await;
    for entry in ["Tenants", "Users", "Cloud profiles", "Audit log", "Costs"] {
        assert!(nav.contains(entry), "{entry} missing from {nav}");
    }
}
