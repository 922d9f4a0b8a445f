//! bulwark's configuration file: the raw model (one file per feature), loading with
//! file/line/key errors, validation into `Validated*` types, and [`Secret`].

pub mod admin;
pub mod auth;
pub mod breaker;
pub mod checks;
mod config;
pub mod duration;
pub mod limits;
pub mod listen;
mod load;
mod names;
pub mod problems;
pub mod routes;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod upstreams;
pub mod webhooks;

pub use config::{BulwarkConfig, DemoConfig, SecretResolver, ValidatedConfig};
pub use load::{LoadError, Loaded, load_file, load_str};
pub use problems::Problem;
pub use secret::Secret;
