//! What a scheme sees of an HTTP request: raw body, headers, and for Twilio the URL and
//! form parameters.

/// A case-insensitive header lookup. Implemented for `http::HeaderMap` (what the proxy
/// holds) and for a slice of name/value pairs (tests, fuzzing).
pub trait Headers {
    /// The first value of header `name`, compared case-insensitively.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

impl Headers for http::HeaderMap {
    fn get(&self, name: &str) -> Option<&[u8]> {
        // `HeaderMap::get(&str)` lowercases the name itself; an invalid name finds nothing.
        http::HeaderMap::get(self, name).map(http::HeaderValue::as_bytes)
    }
}

impl Headers for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    }
}

impl Headers for Vec<(&str, &str)> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        Headers::get(self.as_slice(), name)
    }
}

impl<const N: usize> Headers for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&[u8]> {
        Headers::get(self.as_slice(), name)
    }
}

/// One incoming webhook request, borrowed.
#[derive(Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The body exactly as received: signatures are over bytes, never re-serialised JSON.
    pub body: &'a [u8],
    pub headers: &'a dyn Headers,
    /// The full URL the provider called (scheme, host, path, query); Twilio signs it.
    pub url: Option<&'a str>,
    /// Decoded `application/x-www-form-urlencoded` body parameters; Twilio signs them.
    pub form: &'a [(&'a str, &'a str)],
}

impl<'a> SignedRequest<'a> {
    pub fn new(body: &'a [u8], headers: &'a dyn Headers) -> Self {
        SignedRequest {
            body,
            headers,
            url: None,
            form: &[],
        }
    }

    pub fn with_url(mut self, url: &'a str) -> Self {
        self.url = Some(url);
        self
    }

    pub fn with_form(mut self, form: &'a [(&'a str, &'a str)]) -> Self {
        self.form = form;
        self
    }

    /// The header as text, or `None` when absent.
    pub(crate) fn header(&self, name: &str) -> Result<Option<&'a str>, crate::SignatureError> {
        match self.headers.get(name) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(|s| Some(s.trim()))
                .map_err(|_| crate::SignatureError::malformed(name, "not UTF-8")),
        }
    }

    /// The header as text; missing is an error.
    pub(crate) fn required(&self, name: &str) -> Result<&'a str, crate::SignatureError> {
        self.header(name)?
            .ok_or_else(|| crate::SignatureError::MissingHeader(name.to_string()))
    }
}
