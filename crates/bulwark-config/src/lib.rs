//! bulwark's configuration file: the raw model (one file per feature), loading with
//! file/line/key errors, validation into `Validated*` types, and [`Secret`].

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod breaker;
pub mod checks;
mod config;
pub mod duration;
pub mod limits;
pub mod listen;
mod load;
pub mod monitors;
mod names;
pub mod notifiers;
pub mod problems;
pub mod routes;
pub mod secret;
pub mod status_page;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod upstreams;
pub mod webhooks;

pub use config::{BulwarkConfig, DemoConfig, SecretResolver, ValidatedConfig};
pub use load::{
    ExtraCheck, LoadError, Loaded, load_file, load_file_checked, load_str, load_str_checked,
};
pub use problems::Problem;
pub use secret::Secret;
