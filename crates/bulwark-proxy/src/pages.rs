//! Pages bulwark serves itself on the public listener (the status page), ahead of the
//! routes. The proxy only knows that some paths belong to them; what they show is
//! rendered by whoever implements [`PublicPages`] (the binary).

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};

use crate::proxy::ResponseBody;

/// A page's answer: status, content type and body.
pub struct Page {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
}

pub trait PublicPages: Send + Sync {
    /// The page at `path`, or `None` when the path is not one of these pages (the
    /// request then goes through the routes as usual). Called for GET and HEAD only.
    fn page(&self, path: &str) -> Option<Page>;
}

/// The response for `page`; HEAD gets the headers only. Pages are public and change
/// every few seconds, so caches may keep them briefly.
pub(crate) fn respond(method: &Method, page: Page) -> Response<ResponseBody> {
    let length = page.body.len();
    let body = if method == Method::HEAD {
        ResponseBody::empty()
    } else {
        ResponseBody::full(page.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = page.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(page.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=10"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // No scripts, styles only inline, images from anywhere over https (the logo).
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: data: 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    response
}
