//! Names of the process metrics, the ones every Prometheus client library exports, so
//! the usual dashboards work unchanged.

pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
/// Whole seconds: the `metrics` crate's counters hold integers.
pub const PROCESS_CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
pub const PROCESS_START_TIME_SECONDS: &str = "process_start_time_seconds";

pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_gauge!(
        PROCESS_RESIDENT_MEMORY_BYTES,
        Unit::Bytes,
        "Resident memory size in bytes."
    );
    describe_counter!(
        PROCESS_CPU_SECONDS_TOTAL,
        Unit::Seconds,
        "Total user and system CPU time spent in seconds (whole seconds)."
    );
    describe_gauge!(
        PROCESS_OPEN_FDS,
        Unit::Count,
        "Number of open file descriptors."
    );
    describe_gauge!(
        PROCESS_START_TIME_SECONDS,
        Unit::Seconds,
        "Start time of the process since the Unix epoch in seconds."
    );
}
