//! Names of routes, upstreams and checks appear in metric labels and logs, so they are
//! kept to a small, safe alphabet.

use crate::problems::Problems;

pub(crate) fn check_name(name: &str, path: &str, problems: &mut Problems) {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        problems.error(
            path,
            "names use 1-64 characters from a-z, A-Z, 0-9, '-', '_', '.'",
        );
    }
}
