//! The origin (`scheme://host`) a request came to, and the one Kiln names back in absolute
//! URLs and identity documents.

use actix_web::HttpRequest;

/// The origin absolute URLs and identity documents name: the configured public URL, else the
/// request's origin when it is one Kiln is bound to (`origins`), else the first of those. The
/// `Host` header is never reflected as sent: a cache in front could hand a document or a
/// monitor URL pointing at another host to everyone.
pub fn trusted_origin(public_url: Option<&str>, origins: &[String], req: &HttpRequest) -> String {
    if let Some(url) = public_url {
        return url.to_owned();
    }
    let asked = request_origin(req);
    origins
        .iter()
        .find(|o| o.eq_ignore_ascii_case(&asked))
        .or(origins.first())
        .cloned()
        .unwrap_or(asked)
}

/// `scheme://host` of the request as the client addressed it.
pub fn request_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}
