//! What `/version` answers: the build this process runs, filled in by the binary from its
//! build-time environment.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct VersionInfo {
    pub version: String,
    pub commit: String,
    pub build_time: String,
    pub rustc: String,
}
