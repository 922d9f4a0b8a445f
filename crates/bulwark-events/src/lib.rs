//! Bus events: the closed set of state changes the rest of bulwark reacts to (metrics,
//! the audit log, and later alerts), and the bus that carries them.
//!
//! Not to be confused with telemetry events (`events.rs` in each feature), which are
//! typed log + metric pairs. A bus event is something that *changed*.

mod bus;
mod event;
pub mod subscribers;
pub mod time;

pub use bus::{Bus, Subscriber};
pub use event::{BusEvent, Envelope, ViolationKind};
