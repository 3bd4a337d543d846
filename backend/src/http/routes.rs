//! A router builder that records every (method, path) it registers, so a test can hold the router against
//! `openapi.yaml` in both directions from the same source of truth.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::Router;

use crate::state::AppState;

/// The router being built and the routes registered on it.
pub struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl Default for RouteTable {
    fn default() -> Self {
        Self { router: Router::new(), routes: Vec::new() }
    }
}

macro_rules! verb {
    ($name:ident, $method:ident, $routing:ident) => {
        #[doc = concat!("Registers a ", stringify!($method), " handler.")]
        pub fn $name<H, T>(self, path: &'static str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.add(Method::$method, path, routing::$routing(handler))
        }
    };
}

impl RouteTable {
    verb!(get, GET, get);
    verb!(post, POST, post);
    verb!(put, PUT, put);
    verb!(patch, PATCH, patch);
    verb!(delete, DELETE, delete);

    fn add(mut self, method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        // axum merges method routers registered for the same path.
        self.router = self.router.route(path, handler);
        self.routes.push((method, path));
        self
    }

    /// The routes registered so far.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }

    /// The finished router.
    pub(crate) fn into_router(self) -> Router<AppState> {
        self.router
    }
}
