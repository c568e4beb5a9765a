//! Prometheus metrics: requests by route and status, latency, and the database pool.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool_size: Gauge,
    pool_idle: Gauge,
    /// Every connection pool of the process (the shared one and each HTTP worker's).
    pools: Arc<std::sync::Mutex<Vec<sea_orm::DatabaseConnection>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kiln");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(
                [
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]
                .into_iter(),
            )
        });
        let pool_size = Gauge::default();
        let pool_idle = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            pool_size,
            pool_idle,
            pools: Arc::default(),
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.into(),
                route: route.into(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.into(),
                route: route.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a pool in the database gauges.
    pub fn track_pool(&self, db: &sea_orm::DatabaseConnection) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.push(db.clone());
        }
    }

    /// Sets the pool gauges to the sums over every tracked pool.
    pub fn sample_pools(&self) {
        let (mut size, mut idle) = (0u64, 0u64);
        if let Ok(pools) = self.pools.lock() {
            for db in pools.iter() {
                let (s, i) = match db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => {
                        let pool = db.get_postgres_connection_pool();
                        (pool.size(), pool.num_idle())
                    }
                    sea_orm::DbBackend::Sqlite => {
                        let pool = db.get_sqlite_connection_pool();
                        (pool.size(), pool.num_idle())
                    }
                    _ => (0, 0),
                };
                size += u64::from(s);
                idle += u64::try_from(i).unwrap_or(0);
            }
        }
        self.pool_size.set(i64::try_from(size).unwrap_or(i64::MAX));
        self.pool_idle.set(i64::try_from(idle).unwrap_or(i64::MAX));
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
