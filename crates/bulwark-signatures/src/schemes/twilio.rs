//! Twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>` keyed with the auth token, over the
//! full URL followed by every form parameter as `<name><value>`, sorted by name (then
//! value). For JSON bodies Twilio adds `bodySHA256=<hex>` to the URL and signs the URL
//! alone. As in Twilio's SDKs, the URL is tried both with and without its default port,
//! because Twilio's own signing is inconsistent about it.

use base64::Engine as _;
use sha2::Digest as _;

use crate::Algorithm;
use crate::crypto::{BASE64, ct_eq, first_match, hmac};
use crate::{SignatureError, SignedRequest, Verified};

pub const HEADER: &str = "X-Twilio-Signature";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Twilio {}

impl Twilio {
    pub(crate) fn verify(
        &self,
        request: &SignedRequest<'_>,
        secrets: &[&[u8]],
    ) -> Result<Verified, SignatureError> {
        let signature = BASE64
            .decode(request.required(HEADER)?)
            .map_err(|_| SignatureError::malformed(HEADER, "signature is not base64"))?;
        let url = request.url.ok_or(SignatureError::MissingUrl)?;
        let params = match query_param(url, "bodySHA256") {
            Some(expected) => {
                let actual = hex::encode(sha2::Sha256::digest(request.body));
                if !ct_eq(actual.as_bytes(), expected.as_bytes()) {
                    return Err(SignatureError::NoMatch);
                }
                String::new()
            }
            None => sorted_params(request.form),
        };
        let (with_port, without_port) = port_variants(url);
        let secret_index = first_match(secrets, |secret| {
            [&with_port, &without_port].iter().fold(false, |hit, url| {
                let mac = hmac(
                    Algorithm::Sha1,
                    secret,
                    &[url.as_bytes(), params.as_bytes()],
                );
                hit | ct_eq(&mac, &signature)
            })
        })?;
        Ok(Verified {
            event_id: None,
            timestamp: None,
            secret_index,
        })
    }
}

/// `<name><value>` for every distinct parameter, sorted by name then value (Twilio's SDKs
/// sort and deduplicate both).
fn sorted_params(form: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = form.to_vec();
    pairs.sort_unstable();
    pairs.dedup();
    pairs.iter().flat_map(|(n, v)| [*n, *v]).collect()
}

/// The raw value of query parameter `name`, if present.
fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((n, v)) if n == name => Some(v),
            _ => None,
        })
}

/// The URL with its default port added and with any port removed.
fn port_variants(url: &str) -> (String, String) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), url.to_string());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let with_port = if host.len() == authority.len() {
        format!("{scheme}://{host}:{default_port}{tail}")
    } else {
        url.to_string()
    };
    let without_port = format!("{scheme}://{host}{tail}");
    (with_port, without_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variants_add_and_remove_the_port() {
        assert_eq!(
            port_variants("https://example.com/a?b=1"),
            (
                "https://example.com:443/a?b=1".to_string(),
                "https://example.com/a?b=1".to_string()
            )
        );
        assert_eq!(
            port_variants("http://example.com:8080"),
            (
                "http://example.com:8080".to_string(),
                "http://example.com".to_string()
            )
        );
        assert_eq!(
            port_variants("nonsense"),
            ("nonsense".into(), "nonsense".into())
        );
    }

    #[test]
    fn params_sort_by_name_then_value() {
        assert_eq!(
            sorted_params(&[("b", "2"), ("a", "9"), ("b", "1"), ("b", "1")]),
            "a9b1b2"
        );
    }
}
