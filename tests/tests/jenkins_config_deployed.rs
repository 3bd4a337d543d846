//! The Jenkins configuration an environment runs with is what `GET …/jenkins-config` returns and what its page
//! shows: all three come from one renderer fed with the environment's recorded outputs (the agents' security
//! group among them), read back here from the task definition ECS holds.

use butler_tests::emulated::World;
use butler_tests::{environment_path, manifest, Who};
use reqwest::StatusCode;

/// The generated JCasC in the controller's deployed task definition (the `BUTLER_CASC_YAML` variable).
async fn deployed_casc(world: &World, object: &serde_json::Value) -> String {
    let ecs = aws_sdk_ecs::Client::new(&world.account.config);
    let arn = object["status"]["outputs"]["taskDefinitionArn"].as_str().expect("task definition recorded");
    let described = ecs.describe_task_definition().task_definition(arn).send().await.expect("task definition");
    let container = &described.task_definition().expect("definition").container_definitions()[0];
    let variable = container.environment().iter().find(|v| v.name() == Some("BUTLER_CASC_YAML"));
    variable.and_then(|v| v.value()).expect("BUTLER_CASC_YAML").to_owned()
}

/// The text of the page's JCasC block, unescaped.
fn page_casc(html: &str) -> String {
    let start = html.find("JCasC (jenkins.yaml)</summary><pre tabindex=\"0\">").expect("JCasC block")
        + "JCasC (jenkins.yaml)</summary><pre tabindex=\"0\">".len();
    let end = start + html[start..].find("</pre>").expect("end of block");
    html[start..end]
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_api_and_the_page_show_exactly_the_configuration_the_reconciler_deployed() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let object = world.object("ci").await;
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    let deployed = deployed_casc(&world, &object).await;
    let group = object["status"]["outputs"]["agentsSecurityGroupId"].as_str().expect("agents' group recorded");
    assert!(deployed.contains(group), "the deployed configuration names the agents' group {group}");

    let api = world.app.get(&format!("{}/jenkins-config", environment_path("payments", "ci"))).await;
    assert_eq!(api.status, StatusCode::OK);
    assert_eq!(api.json()["casc"].as_str(), Some(deployed.as_str()), "GET …/jenkins-config differs from the deployed");

    let cookie = world.app.session_cookie(Who::PaymentsAdmin).await;
    let page = world.app.client.get(format!("{}/t/payments/environments/ci", world.app.base_url));
    let page = page.header("cookie", cookie).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page_casc(&page.text().await.expect("html")), deployed, "the page differs from the deployed");
}
