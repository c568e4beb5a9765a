//! The HTTP edge of the engine: extractors that turn a request into a [`CallContext`], and
//! the responses of ARM's verbs.

use std::future::{Ready, ready};

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{
    FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, dev::Payload, web,
};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::engine::{CallContext, Engine, Preconditions, WriteOutcome, WriteResult};
use super::lro::OperationRef;
use super::read::{ListFilter, ListScope};
use super::registry::TypeDescriptor;
use crate::error::{ArmError, ErrorCode};
use crate::identity::Caller;
use crate::identity::origin::{request_origin, trusted_origin};

/// Request bodies above this are refused with 413, as ARM does.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The base of absolute URLs (`Location`, `Azure-AsyncOperation`, `nextLink`): the public
/// URL when configured (`KILN_PUBLIC_URL`), else one of the origins Kiln is bound to.
#[derive(Debug, Clone)]
pub struct PublicBase {
    pub url: Option<String>,
    pub origins: Vec<String>,
}

/// The correlation id of the request, set by the middleware.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// An authenticated ARM request: caller, query, base URL, correlation id, preconditions.
pub struct ArmRequest {
    pub caller: Caller,
    /// A well-formed W3C `traceparent`, if the client sent one.
    pub traceparent: Option<String>,
    query: Vec<(String, String)>,
    pub base_url: String,
    pub correlation_id: String,
    pub preconditions: Preconditions,
}

/// The value of query parameter `name` among `pairs`, matched case-insensitively
/// (`$skipToken`, `$skiptoken`), as ARM matches them.
pub fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What a paged list handler extracts (actix extracts a tuple in order): the request, the raw
/// request its `nextLink` is built from, the path and the engine.
pub type PagedCall<P> = (
    ArmRequest,
    HttpRequest,
    actix_web::web::Path<P>,
    actix_web::web::Data<Engine>,
);

impl ArmRequest {
    /// A query parameter, matched case-insensitively (`$skipToken`, `$skiptoken`).
    pub fn param(&self, name: &str) -> Option<&str> {
        query_param(&self.query, name)
    }

    pub fn api_version(&self) -> Result<&str, ArmError> {
        self.param("api-version")
            .filter(|v| !v.is_empty())
            .ok_or_else(ArmError::missing_api_version)
    }

    /// The api-version, once it is one that `full_type` (a platform endpoint's type) serves.
    pub fn version_for(&self, full_type: &str) -> Result<String, ArmError> {
        super::api_versions::check_param(full_type, self.param("api-version"))
    }

    /// The call context at one of `full_type`'s api-versions.
    pub fn context_for(&self, full_type: &str) -> Result<CallContext, ArmError> {
        Ok(self.context_unchecked(&self.version_for(full_type)?))
    }

    /// The call context for an operation on a type: checks the api-version against the type.
    pub fn context(&self, descriptor: &TypeDescriptor) -> Result<CallContext, ArmError> {
        let version = self.api_version()?;
        descriptor.check_api_version(version)?;
        Ok(self.context_unchecked(version))
    }

    /// The call context when the api-version was checked elsewhere.
    pub fn context_unchecked(&self, version: &str) -> CallContext {
        CallContext {
            caller: self.caller.clone(),
            api_version: version.to_owned(),
            base_url: self.base_url.clone(),
            correlation_id: self.correlation_id.clone(),
            traceparent: self.traceparent.clone(),
        }
    }

    /// `$top`, validated.
    pub fn top(&self) -> Result<Option<u64>, ArmError> {
        self.param("$top")
            .map(|t| {
                t.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ArmError::new(
                        ErrorCode::InvalidParameter,
                        "$top must be a positive integer.",
                    )
                })
            })
            .transpose()
    }

    /// The continuation token under any of the names clients use for it.
    pub fn skip_token(&self) -> Option<&str> {
        self.param("$skipToken").or_else(|| self.param("$skip"))
    }

    /// Lists one page under `scope` and answers it with an absolute nextLink.
    pub async fn list(
        &self,
        engine: &Engine,
        req: &HttpRequest,
        cx: &CallContext,
        scope: &ListScope,
        filter: &ListFilter,
        action: &str,
    ) -> Result<HttpResponse, ArmError> {
        let page = engine
            .list(cx, scope, filter, action, self.top()?, self.skip_token())
            .await?;
        Ok(list(
            page.items,
            page.next.map(|token| self.next_link(req, &token)),
        ))
    }

    /// The absolute URL of the next page: this request's path and query with the token replaced.
    pub fn next_link(&self, req: &HttpRequest, token: &str) -> String {
        let encode =
            |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let mut pairs: Vec<String> = self
            .query
            .iter()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("$skipToken") && !k.eq_ignore_ascii_case("$skip")
            })
            // ARM writes `$` in parameter names literally ($filter, $top).
            .map(|(k, v)| format!("{}={}", encode(k).replace("%24", "$"), encode(v)))
            .collect();
        pairs.push(format!("$skipToken={}", encode(token)));
        format!("{}{}?{}", self.base_url, req.path(), pairs.join("&"))
    }
}

/// ARM names never contain `/`, `\\` or control characters, and PostgreSQL text cannot hold NUL:
/// a URI that encodes one is refused before it reaches a lookup.
fn check_uri(req: &HttpRequest) -> Result<(), ArmError> {
    let refused = |text: &str| {
        text.as_bytes().windows(3).any(|w| {
            w[0] == b'%' && {
                let hex = [w[1].to_ascii_uppercase(), w[2].to_ascii_uppercase()];
                matches!(
                    hex,
                    [b'0' | b'1', _] | [b'7', b'F'] | [b'2', b'F'] | [b'5', b'C']
                )
            }
        })
    };
    let query_refused = |text: &str| {
        text.as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && matches!(w[1], b'0' | b'1') && w[2].is_ascii_hexdigit())
    };
    if refused(req.uri().path()) || req.uri().query().is_some_and(query_refused) {
        return Err(ArmError::new(
            ErrorCode::InvalidParameter,
            "The request URI encodes a character no ARM name or parameter may contain ('/', '\\' or a control character).",
        ));
    }
    Ok(())
}

/// `version-traceid-parentid-flags`, lower-case hex, ids not all zero (W3C Trace Context).
pub fn valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4
        && hex(parts[0], 2)
        && parts[0] != "ff"
        && hex(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && hex(parts[2], 16)
        && parts[2].bytes().any(|b| b != b'0')
        && hex(parts[3], 2)
}

/// Strings in a JSON body must not hold NUL, which PostgreSQL cannot store.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

impl FromRequest for ArmRequest {
    type Error = ArmError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = match Caller::from_request(req, payload).into_inner() {
            Ok(caller) => caller,
            Err(err) => return ready(Err(err)),
        };
        if let Err(err) = check_uri(req) {
            return ready(Err(err));
        }
        let query = url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
        let base_url = req.app_data::<web::Data<PublicBase>>().map_or_else(
            || request_origin(req),
            |b| trusted_origin(b.url.as_deref(), &b.origins, req),
        );
        let correlation_id = req
            .extensions()
            .get::<CorrelationId>()
            .map(|c| c.0.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let preconditions = Preconditions {
            if_match: header("if-match"),
            if_none_match: header("if-none-match"),
        };
        let traceparent = header("traceparent").filter(|t| valid_traceparent(t));
        ready(Ok(ArmRequest {
            caller,
            traceparent,
            query,
            base_url,
            correlation_id,
            preconditions,
        }))
    }
}

/// A JSON request body: `Null` when empty, an ARM error when too large, of the wrong media
/// type, or malformed.
pub struct JsonBody(pub Value);

fn too_large() -> ArmError {
    ArmError::new(
        ErrorCode::RequestBodyTooLarge,
        format!("The request body exceeds the maximum allowed size of {MAX_BODY_BYTES} bytes."),
    )
}

impl FromRequest for JsonBody {
    type Error = ArmError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared_len = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_len.is_some_and(|len| len > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ArmError::invalid_content(format!("The request body could not be read: {e}"))
                })?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody(Value::Null));
            }
            if let Some(ct) = content_type {
                let essence = ct.split(';').next().unwrap_or_default().trim();
                if essence != "application/json"
                    && !essence.ends_with("+json")
                    && essence != "text/json"
                {
                    return Err(ArmError::new(
                        ErrorCode::UnsupportedMediaType,
                        format!(
                            "The content media type '{essence}' is not supported. Only 'application/json' is supported."
                        ),
                    ));
                }
            }
            let value: Value = super::strict_json::from_slice(&body).map_err(|e| {
                ArmError::invalid_content(format!(
                    "The request content was invalid and could not be deserialized: '{e}' (line {}, column {}).",
                    e.line(),
                    e.column()
                ))
            })?;
            if holds_nul(&value) {
                return Err(ArmError::invalid_content(
                    "The request content was invalid: strings must not contain NUL characters.",
                ));
            }
            Ok(JsonBody(value))
        })
    }
}

fn with_operation_headers(builder: &mut HttpResponseBuilder, op: &OperationRef, base: &str) {
    builder
        .insert_header(("Location", op.result_url(base)))
        .insert_header(("Retry-After", "1"));
    if let Some(status) = op.status_url(base) {
        builder.insert_header(("Azure-AsyncOperation", status));
    }
}

/// A resource body with its ETag.
pub fn resource(status: StatusCode, etag: &str, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag))
        .json(body)
}

/// The answer to a PUT or PATCH: `done_status` when it finished, 202 with monitors when an
/// operation runs.
pub fn write(result: &WriteResult, done_status: StatusCode, base: &str) -> HttpResponse {
    match &result.outcome {
        WriteOutcome::Completed => resource(done_status, &result.etag, &result.resource),
        WriteOutcome::Accepted(op) => {
            let mut builder = HttpResponse::Accepted();
            builder.insert_header(("ETag", result.etag.as_str()));
            with_operation_headers(&mut builder, op, base);
            builder.json(&result.resource)
        }
    }
}

/// 202 with monitors and no body (DELETE, a running operation's Location).
pub fn accepted(op: &OperationRef, base: &str) -> HttpResponse {
    let mut builder = HttpResponse::Accepted();
    with_operation_headers(&mut builder, op, base);
    builder.finish()
}

/// `{"value": [...], "nextLink": ...}`; nextLink omitted on the last page.
pub fn list(items: Vec<Value>, next_link: Option<String>) -> HttpResponse {
    let mut body = serde_json::Map::new();
    body.insert("value".into(), Value::Array(items));
    if let Some(link) = next_link {
        body.insert("nextLink".into(), Value::String(link));
    }
    HttpResponse::Ok().json(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::valid_traceparent;

    #[test]
    fn traceparents_follow_w3c_trace_context() {
        assert!(valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(
            !valid_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            "upper case"
        );
        assert!(
            !valid_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "version ff"
        );
        assert!(
            !valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            "zero trace id"
        );
        assert!(
            !valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            "zero parent id"
        );
        assert!(
            !valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"),
            "missing flags"
        );
        assert!(!valid_traceparent("garbage"));
    }
}
