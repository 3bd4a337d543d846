//! Pages cost a fixed, small number of database statements whatever the length of their lists (counted by
//! the process-wide statement counter behind `butler_db_queries_total`; one test in this binary, so nothing
//! else counts meanwhile).

use butler_tests::{manifest, TestApp, Who};

use reqwest::{Method, StatusCode};

/// A browser session's cookie for the payments admin.
async fn session_cookie(app: &TestApp) -> String {
    app.session_cookie(Who::PaymentsAdmin).await
}

async fn statements_for(app: &TestApp, cookie: &str, path: &str) -> u64 {
    let get = || app.client.get(format!("{}{path}", app.base_url)).header("cookie", cookie).send();
    // Warm the caches (identity, session) first: the figure is the steady state.
    assert_eq!(get().await.expect("page").status(), StatusCode::OK, "{path}");
    let before = butler::store::queries();
    let response = get().await.expect("page");
    assert_eq!(response.status(), StatusCode::OK);
    let _ = response.bytes().await;
    butler::store::queries() - before
}

#[tokio::test]
async fn list_and_detail_pages_cost_the_same_few_statements_for_few_rows_and_many() {
    let app = TestApp::spawn().await;
    let quotas = serde_json::json!({ "maxEnvironments": 1000, "maxInstances": 100000 });
    assert_eq!(app.send_json(Method::PATCH, "/api/v1/tenants/payments", &quotas).await.status, StatusCode::OK);
    for i in 0..3 {
        assert_eq!(app.create("payments", &manifest(&format!("few-{i}"))).await.status, StatusCode::CREATED);
    }
    let cookie = session_cookie(&app).await;
    let few = statements_for(&app, &cookie, "/t/payments/environments").await;
    for i in 0..120 {
        assert_eq!(app.create("payments", &manifest(&format!("many-{i:03}"))).await.status, StatusCode::CREATED);
    }
    let many = statements_for(&app, &cookie, "/t/payments/environments").await;
    assert_eq!(few, many, "the list page's statements do not grow with its rows");
    assert!(many <= 3, "list page: {many} statements");
    let detail = statements_for(&app, &cookie, "/t/payments/environments/many-001").await;
    // One more than before sign-in: the tenant's members (who can sign in to its Jenkins), one statement however
    // many there are; and one for its credentials (ids and types), however many.
    assert!(detail <= 7, "detail page: {detail} statements");
}
