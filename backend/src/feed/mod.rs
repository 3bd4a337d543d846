//! The change feed: one LISTEN connection per process turns committed changes into (1) an exact in-memory
//! cache of every environment's JSON, which serves GET-by-name, and (2) an ordered broadcast watch streams follow.
//!
//! The Kubernetes API server serves reads from its watch cache the same way. The cache is exact: it starts from a
//! consistent snapshot, then applies the change log in resourceVersion (= commit) order; this process's own
//! writes are applied at once (read-your-writes), and NOTIFY plus a short poll bring everyone else's.

mod listener;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::broadcast;

use crate::domain::object::JenkinsEnvironment;
use crate::store::changes::{ChangeType, Committed};

pub use listener::run;

/// One change as watchers see it.
#[derive(Debug, Clone)]
pub(crate) struct ChangeEvent {
    pub resource_version: i64,
    pub change_type: ChangeType,
    pub tenant: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The object serialized once, shared by every watcher and the cache.
    pub json: Bytes,
}

impl ChangeEvent {
    /// Serializes an object for the feed.
    pub fn new(resource_version: i64, change_type: ChangeType, object: &JenkinsEnvironment) -> Self {
        // Serializing a derived-Serialize struct of strings and numbers cannot fail.
        let json = serde_json::to_vec(object).unwrap_or_default();
        Self {
            resource_version,
            change_type,
            tenant: object.metadata.tenant.clone(),
            name: object.metadata.name.clone(),
            labels: object.metadata.labels.clone(),
            json: Bytes::from(json),
        }
    }
}

/// A cached object, or a tombstone that stops a late, older write from resurrecting a deleted one.
#[derive(Debug, Clone)]
struct CacheEntry {
    resource_version: i64,
    json: Option<Bytes>,
}

/// Broadcast buffer: a watcher this far behind is told it lagged and catches up from the database.
const BROADCAST_CAPACITY: usize = 4096;

/// An object in the ordered index lists are served from (tombstones kept, as in the cache).
#[derive(Debug, Clone)]
struct Indexed {
    resource_version: i64,
    labels: Arc<BTreeMap<String, String>>,
    json: Option<Bytes>,
}

/// A page served from memory.
pub struct CachedPage {
    pub items: Vec<Bytes>,
    /// The last name of this page when more follow.
    pub more_after: Option<String>,
    /// The change log position the cache reflects: a watch from here misses nothing (it may repeat this
    /// process's own newest writes, never skip another's).
    pub resource_version: i64,
}

/// The process-wide cache and broadcast.
pub struct Feed {
    cache: DashMap<(String, String), CacheEntry>,
    /// The same objects ordered by (tenant, name), for lists. Updated after `cache`, never while holding it.
    index: RwLock<BTreeMap<(String, String), Indexed>>,
    sender: broadcast::Sender<Arc<ChangeEvent>>,
    /// Highest resourceVersion applied from the change log (broadcast order).
    head: AtomicI64,
    ready: AtomicBool,
}

impl Default for Feed {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            cache: DashMap::new(),
            index: RwLock::new(BTreeMap::new()),
            sender,
            head: AtomicI64::new(0),
            ready: AtomicBool::new(false),
        }
    }
}

impl Feed {
    /// Whether the cache holds a full snapshot (until then reads go to the database).
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The cached JSON of one environment, if it exists.
    pub fn get(&self, tenant: &str, name: &str) -> Option<Bytes> {
        self.cache.get(&(tenant.to_owned(), name.to_owned())).and_then(|entry| entry.json.clone())
    }

    /// Subscribes to changes applied from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>> {
        self.sender.subscribe()
    }

    /// The highest resourceVersion broadcast so far.
    pub(crate) fn head(&self) -> i64 {
        self.head.load(Ordering::Acquire)
    }

    /// Applies this process's own committed write to the cache at once; the broadcast follows via the log.
    pub(crate) fn apply_local(&self, event: &ChangeEvent) {
        self.store(event);
    }

    /// Applies a committed write of `object`, if one was made (dry runs and no-op updates make none).
    pub(crate) fn publish(&self, object: &JenkinsEnvironment, committed: Option<&Committed>) {
        if let Some(committed) = committed {
            self.apply_local(&ChangeEvent::new(committed.resource_version, committed.change_type, object));
        }
    }

    fn store(&self, event: &ChangeEvent) {
        let json = (event.change_type != ChangeType::Deleted).then(|| event.json.clone());
        let key = (event.tenant.clone(), event.name.clone());
        {
            let mut entry = self.cache.entry(key.clone()).or_insert(CacheEntry { resource_version: 0, json: None });
            if entry.resource_version < event.resource_version {
                *entry = CacheEntry { resource_version: event.resource_version, json: json.clone() };
            }
        }
        // Each map keeps the newest version on its own, so the two never need to be locked together.
        let mut index = self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let newer = index.get(&key).is_none_or(|existing| existing.resource_version < event.resource_version);
        if newer {
            let labels = Arc::new(event.labels.clone());
            index.insert(key, Indexed { resource_version: event.resource_version, labels, json });
        }
    }

    /// A page of a tenant's environments by name after `after`, filtered, from memory; None until loaded.
    pub fn list(
        &self,
        tenant: &str,
        selector: &crate::domain::labels::LabelSelector,
        name: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Option<CachedPage> {
        if !self.is_ready() {
            return None;
        }
        // Read the position first: everything at or before it is in the index already.
        let resource_version = self.head();
        let index = self.index.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = (tenant.to_owned(), after.unwrap_or("").to_owned());
        let mut items = Vec::with_capacity(limit.min(1024));
        let mut last = None;
        let mut more_after = None;
        let range = index.range((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded));
        for ((entry_tenant, entry_name), entry) in range {
            if entry_tenant != tenant {
                break;
            }
            let Some(json) = &entry.json else { continue };
            if name.is_some_and(|wanted| wanted != entry_name) || !selector.matches(&entry.labels) {
                continue;
            }
            if items.len() == limit {
                more_after = last;
                break;
            }
            items.push(json.clone());
            last = Some(entry_name.clone());
        }
        Some(CachedPage { items, more_after, resource_version })
    }

    /// Applies a change from the log in order: cache, head, broadcast.
    fn apply_logged(&self, event: ChangeEvent) {
        self.store(&event);
        self.head.fetch_max(event.resource_version, Ordering::AcqRel);
        // No receivers is fine: nobody is watching.
        let _ = self.sender.send(Arc::new(event));
    }

    /// Replaces the cache with a snapshot taken at `head`.
    fn load_snapshot(&self, head: i64, objects: Vec<JenkinsEnvironment>) {
        let mut present = std::collections::HashSet::with_capacity(objects.len());
        for object in &objects {
            let resource_version = object.metadata.resource_version.parse().unwrap_or(0);
            let event = ChangeEvent::new(resource_version, ChangeType::Modified, object);
            present.insert((event.tenant.clone(), event.name.clone()));
            self.store(&event);
        }
        // Anything cached but absent from the snapshot was deleted at or before `head`.
        self.cache.retain(|key, entry| present.contains(key) || entry.resource_version > head);
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|key, entry| present.contains(key) || entry.resource_version > head);
        self.head.fetch_max(head, Ordering::AcqRel);
        self.ready.store(true, Ordering::Release);
    }
}
