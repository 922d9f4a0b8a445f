//! JSON body checks for routes with `json`: nesting depth (counted without parsing, so a
//! deep document costs no recursion), then well-formedness. Pure.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonError {
    Malformed,
    TooDeep,
}

/// Checks `body`; returns the parsed document when `keep` (for screening).
pub fn check(
    body: &[u8],
    max_depth: usize,
    keep: bool,
) -> Result<Option<serde_json::Value>, JsonError> {
    if depth_exceeds(body, max_depth) {
        return Err(JsonError::TooDeep);
    }
    if keep {
        serde_json::from_slice(body)
            .map(Some)
            .map_err(|_| JsonError::Malformed)
    } else {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map(|_| None)
            .map_err(|_| JsonError::Malformed)
    }
}

/// True when arrays and objects nest deeper than `max` (`{}` is depth 1). Brackets in
/// strings do not count. On malformed input the count may be off; the parse then
/// refuses it anyway.
pub fn depth_exceeds(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_containers_not_brackets_in_strings() {
        assert!(!depth_exceeds(b"1", 0));
        assert!(depth_exceeds(b"[]", 0));
        assert!(!depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(!depth_exceeds(br#"["[[[[\"[[[["]"#, 1));
    }

    #[test]
    fn checks_say_which_problem() {
        assert_eq!(check(br#"{"a":1}"#, 4, false), Ok(None));
        assert_eq!(check(br#"{"a":1"#, 4, false), Err(JsonError::Malformed));
        assert_eq!(check(b"", 4, false), Err(JsonError::Malformed));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(check(deep.as_bytes(), 32, true), Err(JsonError::TooDeep));
        assert_eq!(
            check(br#"{"a":"b"}"#, 4, true),
            Ok(Some(serde_json::json!({"a":"b"})))
        );
    }

    proptest::proptest! {
        #[test]
        fn depth_agrees_with_the_parser(depth in 0usize..40, max in 1usize..40) {
            let doc = "[".repeat(depth) + &"]".repeat(depth);
            let result = check(doc.as_bytes(), max, false);
            if depth == 0 {
                proptest::prop_assert_eq!(result, Err(JsonError::Malformed));
            } else if depth > max {
                proptest::prop_assert_eq!(result, Err(JsonError::TooDeep));
            } else {
                proptest::prop_assert_eq!(result, Ok(None));
            }
        }
    }
}
