//! A TCP proxy a test can cut: every connection through it is dropped at once and new ones are refused until it
//! is restored. Put in front of the shared PostgreSQL server, it is a database outage for one Butler only —
//! the server and every other test go on untouched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The proxy; stops when dropped.
pub struct Proxy {
    pub port: u16,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    /// A proxy in front of the PostgreSQL server holding test database `name`, and the URL of that database
    /// through it.
    pub async fn for_database(name: &str) -> (Self, String) {
        let direct = reqwest::Url::parse(&crate::database::url_for(name)).expect("database url");
        let upstream = format!("{}:{}", direct.host_str().expect("host"), direct.port().unwrap_or(5432));
        let upstream = tokio::net::lookup_host(upstream).await.expect("resolve").next().expect("address");
        let proxy = Self::start(upstream).await;
        let mut via_proxy = direct;
        via_proxy.set_port(Some(proxy.port)).expect("port");
        (proxy, via_proxy.into())
    }

    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("address").port();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (open_in, connections_in) = (open.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                if !open_in.load(Ordering::SeqCst) {
                    drop(client); // refused: the server is "down"
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections_in.lock().expect("lock").push(task.abort_handle());
            }
        })
        .abort_handle();
        Self { port, open, connections, accept }
    }

    /// The outage begins: open connections are dropped, new ones refused.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }

    /// The outage ends.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
