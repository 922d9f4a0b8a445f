//! A generic HMAC scheme for providers without a scheme of their own: the signature is in
//! a configured header, optionally after a prefix (`sha256=`), hex or base64, computed with
//! SHA-1, SHA-256 or SHA-512 over a signed-payload template such as `{timestamp}.{body}`
//! when a timestamp header is configured, or over the body alone.

use base64::Engine as _;

use crate::crypto::{BASE64, check_tolerance, ct_eq, first_match, hmac, parse_timestamp};
use crate::{DEFAULT_TOLERANCE_SECS, SchemeError, SignatureError, SignedRequest, Verified};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// What the config file says about a generic HMAC webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacParams {
    pub header: String,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    /// Text before the signature in the header, such as `sha256=`.
    pub prefix: Option<String>,
    /// The header that carries a unix timestamp in seconds, which is then signed and
    /// checked against the tolerance.
    pub timestamp_header: Option<String>,
    /// What is signed, with `{timestamp}` and `{body}` placeholders. Defaults to
    /// `{timestamp}.{body}` with a timestamp header and `{body}` without.
    pub template: Option<String>,
    pub tolerance: u64,
}

impl HmacParams {
    /// Parameters with the defaults: no prefix, no timestamp, the body alone.
    pub fn new(header: &str, algorithm: Algorithm, encoding: Encoding) -> Self {
        HmacParams {
            header: header.to_string(),
            algorithm,
            encoding,
            prefix: None,
            timestamp_header: None,
            template: None,
            tolerance: DEFAULT_TOLERANCE_SECS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Timestamp,
    Body,
}

/// A validated generic HMAC scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacScheme {
    params: HmacParams,
    template: Vec<Part>,
}

fn check_header_name(name: &str) -> Result<(), SchemeError> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map(|_| ())
        .map_err(|_| SchemeError::BadHeaderName(name.to_string()))
}

fn parse_template(text: &str) -> Result<Vec<Part>, SchemeError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let literal_end = rest.find('{').unwrap_or(rest.len());
        if literal_end > 0 {
            parts.push(Part::Literal(rest[..literal_end].to_string()));
        }
        rest = &rest[literal_end..];
        if let Some(after) = rest.strip_prefix("{timestamp}") {
            parts.push(Part::Timestamp);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("{body}") {
            parts.push(Part::Body);
            rest = after;
        } else if !rest.is_empty() {
            return Err(SchemeError::BadTemplate(
                "only {timestamp} and {body} placeholders are known",
            ));
        }
    }
    if !parts.contains(&Part::Body) {
        return Err(SchemeError::BadTemplate("{body} must be signed"));
    }
    Ok(parts)
}

impl HmacScheme {
    pub fn new(params: HmacParams) -> Result<Self, SchemeError> {
        check_header_name(&params.header)?;
        if let Some(name) = &params.timestamp_header {
            check_header_name(name)?;
        }
        let default = if params.timestamp_header.is_some() {
            "{timestamp}.{body}"
        } else {
            "{body}"
        };
        let template = parse_template(params.template.as_deref().unwrap_or(default))?;
        let signs_timestamp = template.contains(&Part::Timestamp);
        if signs_timestamp && params.timestamp_header.is_none() {
            return Err(SchemeError::BadTemplate(
                "{timestamp} needs a timestamp header",
            ));
        }
        // An unsigned timestamp could be replaced by an attacker, so checking it would
        // give a false sense of replay protection.
        if !signs_timestamp && params.timestamp_header.is_some() {
            return Err(SchemeError::BadTemplate(
                "a timestamp header must be signed: add {timestamp}",
            ));
        }
        Ok(HmacScheme { params, template })
    }

    pub fn params(&self) -> &HmacParams {
        &self.params
    }

    pub(crate) fn verify(
        &self,
        request: &SignedRequest<'_>,
        secrets: &[&[u8]],
        now: u64,
    ) -> Result<Verified, SignatureError> {
        let p = &self.params;
        let value = request.required(&p.header)?;
        let encoded = match &p.prefix {
            Some(prefix) => value
                .strip_prefix(prefix.as_str())
                .ok_or_else(|| SignatureError::malformed(&p.header, "expected prefix missing"))?,
            None => value,
        };
        let signature = match p.encoding {
            Encoding::Hex => hex::decode(encoded).ok(),
            Encoding::Base64 => BASE64.decode(encoded).ok(),
        }
        .ok_or_else(|| {
            SignatureError::malformed(&p.header, "signature is not in the configured encoding")
        })?;
        let (ts_text, timestamp) = match &p.timestamp_header {
            Some(name) => {
                let text = request.required(name)?;
                let timestamp = parse_timestamp(name, text)?;
                check_tolerance(timestamp, now, p.tolerance)?;
                (text, Some(timestamp))
            }
            None => ("", None),
        };
        let signed: Vec<&[u8]> = self
            .template
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.as_bytes(),
                Part::Timestamp => ts_text.as_bytes(),
                Part::Body => request.body,
            })
            .collect();
        let secret_index = first_match(secrets, |secret| {
            ct_eq(&hmac(p.algorithm, secret, &signed), &signature)
        })?;
        Ok(Verified {
            event_id: None,
            timestamp,
            secret_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked() {
        assert!(parse_template("{timestamp}.{body}").is_ok());
        assert!(parse_template("v0:{timestamp}:{body}").is_ok());
        assert!(parse_template("{timestamp}").is_err());
        assert!(parse_template("{id}.{body}").is_err());
        assert!(parse_template("{body").is_err());
        let mut p = HmacParams::new("X-Sig", Algorithm::Sha256, Encoding::Hex);
        p.template = Some("{timestamp}.{body}".into());
        assert!(
            HmacScheme::new(p.clone()).is_err(),
            "timestamp header required"
        );
        p.template = None;
        p.timestamp_header = Some("X-Ts".into());
        assert!(HmacScheme::new(p.clone()).is_ok());
        p.template = Some("{body}".into());
        assert!(
            HmacScheme::new(p.clone()).is_err(),
            "timestamp must be signed"
        );
        p.header = "bad header".into();
        assert!(HmacScheme::new(p).is_err());
    }
}
