//! The controller's last log lines, read live from its CloudWatch log group on the emulator: through the API
//! (editors and admins, bounded, oldest first, the newest stream) and on the environment page in Chromium.

use butler_tests::browser::Browser;
use butler_tests::emulated::{names_of, World};
use butler_tests::{environment_path, manifest, Who, PASSWORD};
use reqwest::{Method, StatusCode};

async fn write_lines(world: &World, group: &str, stream: &str, lines: &[&str], start_ms: i64) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.account.config);
    logs.create_log_stream().log_group_name(group).log_stream_name(stream).send().await.expect("stream");
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start_ms + i64::try_from(i).expect("small"))
                .message(*line)
                .build()
                .expect("event")
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("put");
}

#[tokio::test]
async fn the_controllers_last_lines_are_on_the_api_and_the_page() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let (names, _) = names_of(&world.object("ci").await);
    let path = format!("{}/controller-log", environment_path("payments", "ci"));

    // No stream yet: an empty tail, not an error.
    let empty = world.app.get(&path).await;
    assert_eq!(empty.status, StatusCode::OK, "{:?}", empty.json());
    assert_eq!(empty.json()["logGroup"], names.controller_log_group());
    assert_eq!(empty.json()["lines"], serde_json::json!([]));

    // An old task's stream, then the running one's: the tail is the newest stream's last lines, oldest first.
    let now = chrono::Utc::now().timestamp_millis();
    write_lines(&world, &names.controller_log_group(), "jenkins/jenkins/old", &["old task line"], now - 60_000).await;
    let current: Vec<String> = (1..=60).map(|i| format!("INFO jenkins line {i}")).collect();
    let refs: Vec<&str> = current.iter().map(String::as_str).collect();
    write_lines(&world, &names.controller_log_group(), "jenkins/jenkins/new", &refs, now).await;

    let tail = world.app.get(&format!("{path}?lines=5")).await;
    assert_eq!(tail.status, StatusCode::OK);
    let body = tail.json();
    let messages: Vec<String> = body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        messages,
        [
            "INFO jenkins line 56",
            "INFO jenkins line 57",
            "INFO jenkins line 58",
            "INFO jenkins line 59",
            "INFO jenkins line 60"
        ]
    );

    // Bounds and roles: a clear 400 outside 1..=500; viewers cannot read it, editors can.
    for bad in ["0", "501", "many"] {
        let refused = world.app.get(&format!("{path}?lines={bad}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "lines={bad}");
        assert!(refused.json()["detail"].as_str().unwrap_or_default().contains("lines"), "{:?}", refused.json());
    }
    let viewer = world.app.send(world.app.request_as(Who::PaymentsViewer, Method::GET, &path)).await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    let editor = world.app.send(world.app.request_as(Who::PaymentsEditor, Method::GET, &path)).await;
    assert_eq!(editor.status, StatusCode::OK);

    // The page shows the default 50 lines to an editor.
    let browser = Browser::start(&world.app.base_url, "controller-log", 1280, 1000).await;
    browser.sign_in(Who::PaymentsEditor.email(), PASSWORD).await;
    browser.goto("/t/payments/environments/ci").await;
    let shown = browser.text("#controller-log").await;
    assert!(shown.contains("INFO jenkins line 60") && shown.contains("INFO jenkins line 11"), "{shown}");
    assert!(!shown.contains("INFO jenkins line 10\n") && !shown.contains("old task line"), "{shown}");
    browser.check_page("01-detail-with-controller-log").await;
}
