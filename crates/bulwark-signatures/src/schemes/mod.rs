//! One file per provider scheme. Each parses its own headers, rebuilds the signed payload
//! from the raw body, and compares in constant time against every configured secret.

pub mod github;
pub mod hmac;
pub mod shopify;
pub mod slack;
pub mod standard;
pub mod stripe;
pub mod token;
pub mod twilio;
