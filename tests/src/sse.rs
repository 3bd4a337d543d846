//! A small reader of server-sent events for watch tests.

use std::time::Duration;

use futures::StreamExt;

/// One SSE event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: serde_json::Value,
}

/// Reads events from a streaming response.
pub struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    /// Wraps a response whose body is `text/event-stream`.
    pub fn new(response: reqwest::Response) -> Self {
        Self { stream: response.bytes_stream().boxed(), buffer: String::new() }
    }

    /// The next event (comments and keep-alives skipped), or None if none comes within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_block(&block) {
                    return Some(event);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??.ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            event = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("id:") {
            id = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(SseEvent { event, id, data: serde_json::from_str(&data).expect("event data is JSON") })
}
