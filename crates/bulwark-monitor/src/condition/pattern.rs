//! Gatus's `pat(...)` globs: `*` matches any run of characters, everything else matches
//! itself. Linear in the text (each literal piece is searched once, left to right), so a
//! large body cannot make a pattern slow.

/// Whether `text` matches `pattern` as a whole.
pub(super) fn matches(pattern: &str, text: &str) -> bool {
    let mut pieces: Vec<&str> = pattern.split('*').collect();
    if pieces.len() < 2 {
        return pattern == text;
    }
    let (Some(last), first) = (pieces.pop(), pieces.first().copied().unwrap_or("")) else {
        return false;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for middle in pieces.iter().skip(1).filter(|p| !p.is_empty()) {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}
