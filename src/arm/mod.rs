//! The generic ARM engine: ids, envelope, api-versions, LROs, paging, ETags. Resource types
//! plug in through [`declaration`] and [`registry`]; nothing here names a type.
//!
//! [`engine`] is the in-process API (writes in `engine/write.rs` and `engine/delete.rs`,
//! reads in [`read`]); [`routes`] and [`openapi`] are generated from the declarations;
//! [`hooks`] is what runs inside a removal's transaction (wired at startup);
//! [`provisioning`] is the contract a provisioned type implements.

pub mod api_versions;
pub mod contract;
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
pub mod schema;
pub mod strict_json;
