//! Watch as server-sent events: ADDED/MODIFIED/DELETED with `id:` = resourceVersion, resumable from any
//! resourceVersion still in the change log (older ones get 410 Gone, as in Kubernetes).
//!
//! Order of operations matters: subscribe to the in-process broadcast first, then replay the log from the
//! database, then follow the broadcast, skipping what the replay already sent. Nothing committed after the
//! requested resourceVersion is missed, and nothing is sent twice.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::labels::LabelSelector;
use crate::domain::object::JenkinsEnvironment;
use crate::error::ApiError;
use crate::feed::ChangeEvent;
use crate::state::AppState;
use crate::store::changes::{self, ChangeType};
use crate::store::environments;

/// Changes read from the log per query while replaying.
const REPLAY_BATCH: u64 = 500;
/// Comment lines keep idle connections (and proxies) alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What a watch follows.
struct Filter {
    tenant: String,
    selector: LabelSelector,
    name: Option<String>,
}

impl Filter {
    fn matches(&self, event: &ChangeEvent) -> bool {
        event.tenant == self.tenant
            && self.name.as_ref().is_none_or(|name| *name == event.name)
            && self.selector.matches(&event.labels)
    }
}

/// Starts a watch of a tenant's environments from `from` (a resourceVersion), or from now after the current
/// state as ADDED events when `from` is absent.
pub(crate) async fn watch_environments(
    state: AppState,
    tenant: String,
    selector: LabelSelector,
    name: Option<String>,
    from: Option<&str>,
) -> Result<Response, ApiError> {
    let from = match from.filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("resourceVersion {text:?} is not one this server issued")))?,
        ),
    };
    let receiver = state.feed.subscribe();
    if let Some(from) = from {
        let compacted = changes::compacted_through(&state.db).await?;
        if from < compacted {
            return Err(ApiError::Gone(format!(
                "resourceVersion {from} is too old (history starts after {compacted}); list again and watch from \
                 the list's resourceVersion"
            )));
        }
    }
    let (sender, events) = mpsc::channel::<Event>(256);
    let filter = Filter { tenant, selector, name };
    tokio::spawn(async move {
        if let Err(error) = pump(&state, &filter, from, receiver, &sender).await {
            tracing::warn!(error = %format!("{error:#}"), tenant = %filter.tenant, "watch ended with an error");
        }
    });
    let stream = ReceiverStream::new(events).map(Ok::<_, Infallible>);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response())
}

fn sse_event(event: &ChangeEvent) -> Event {
    let object = String::from_utf8_lossy(&event.json);
    Event::default()
        .event(event.change_type.as_str())
        .id(event.resource_version.to_string())
        .data(format!(r#"{{"type":"{}","object":{object}}}"#, event.change_type.as_str()))
}

/// Feeds one watcher until it disconnects or the server shuts down.
async fn pump(
    state: &AppState,
    filter: &Filter,
    from: Option<i64>,
    mut receiver: broadcast::Receiver<Arc<ChangeEvent>>,
    sender: &mpsc::Sender<Event>,
) -> anyhow::Result<()> {
    let mut last = match from {
        Some(from) => from,
        None => send_current_state(state, filter, sender).await?,
    };
    last = replay(state, filter, last, sender).await?;
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return Ok(()),
            () = sender.closed() => return Ok(()),
            received = receiver.recv() => match received {
                Ok(event) if event.resource_version > last && event.tenant == filter.tenant => {
                    last = event.resource_version;
                    if filter.matches(&event) && sender.send(sse_event(&event)).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                // This watcher fell behind the broadcast buffer: the log still has everything.
                Err(broadcast::error::RecvError::Lagged(_)) => last = replay(state, filter, last, sender).await?,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// Sends every change of the tenant after `last` from the log; returns the new `last`.
async fn replay(state: &AppState, filter: &Filter, mut last: i64, sender: &mpsc::Sender<Event>) -> anyhow::Result<i64> {
    loop {
        let rows = changes::since(&state.db, last, Some(&filter.tenant), REPLAY_BATCH).await?;
        let count = rows.len() as u64;
        for row in rows {
            last = row.resource_version;
            let object: JenkinsEnvironment = serde_json::from_value(row.object)?;
            let event = ChangeEvent::new(row.resource_version, row.change_type, &object);
            if filter.matches(&event) && sender.send(sse_event(&event)).await.is_err() {
                return Ok(last);
            }
        }
        if count < REPLAY_BATCH {
            return Ok(last);
        }
    }
}

/// Sends the current objects as ADDED (pages of the list) and returns the snapshot's resourceVersion.
async fn send_current_state(state: &AppState, filter: &Filter, sender: &mpsc::Sender<Event>) -> anyhow::Result<i64> {
    let mut after: Option<String> = None;
    let mut snapshot = None;
    loop {
        let page =
            environments::list(&state.db, &filter.tenant, &filter.selector, after.as_deref(), REPLAY_BATCH).await?;
        // Pages after the first may see later writes; the first page's resourceVersion is the safe resume point.
        let resume_from = *snapshot.get_or_insert(page.resource_version);
        for object in &page.items {
            let resource_version = object.metadata.resource_version.parse().unwrap_or(resume_from);
            let event = ChangeEvent::new(resource_version, ChangeType::Added, object);
            if filter.matches(&event) && sender.send(sse_event(&event)).await.is_err() {
                return Ok(resume_from);
            }
        }
        match page.more_after {
            Some(next) => after = Some(next),
            None => return Ok(resume_from),
        }
    }
}
