//! The authenticated caller of a request, as the handlers extract it: what the authentication
//! middleware ([`super::authenticate`]) made of the bearer token.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use serde::Serialize;

use super::authenticate::Authentication;
use crate::error::ArmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PrincipalType {
    User,
    ServicePrincipal,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal_id: String,
    pub tenant_id: String,
    /// What systemData shows: the UPN or name, else the object id.
    pub display_name: String,
    pub principal_type: PrincipalType,
    pub groups: Vec<String>,
}

impl Caller {
    /// systemData's `createdByType`.
    pub fn system_data_type(&self) -> &'static str {
        match self.principal_type {
            PrincipalType::User => "User",
            PrincipalType::ServicePrincipal => "Application",
        }
    }
}

impl FromRequest for Caller {
    type Error = ArmError;
    type Future = Ready<Result<Self, Self::Error>>;

    /// The outcome of the authentication middleware, which validated the token (it may have
    /// to fetch keys, so it runs before the extractors, which are synchronous).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<Authentication>() {
            Some(Authentication(outcome)) => outcome.clone().map_err(ArmError::from),
            None => Err(ArmError::internal(
                &"the authentication middleware is not installed",
            )),
        })
    }
}
