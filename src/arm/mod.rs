//! The generic ARM engine: ids, envelope, api-versions, errors, LROs, paging, ETags. Resource
//! types plug in through [`registry`]; nothing here names a type.

pub mod declaration;
pub mod engine;
pub mod envelope;
pub mod hooks;
pub mod http;
pub mod id;
pub mod lro;
pub mod middleware;
pub mod openapi;
pub mod operations;
pub mod provisioning;
pub mod read;
pub mod registry;
pub mod routes;
pub mod rows;
pub mod strict_json;
