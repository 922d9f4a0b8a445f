//! Input screening: a short, hand-written list of patterns that common SQL-injection
//! and XSS payloads contain, matched on query values and JSON strings. Pure, no I/O.
//!
//! Defense in depth, not a WAF. It catches the payloads scanners and copy-pasted
//! exploits send; it does not parse SQL or HTML, and it is easy to evade on purpose:
//! double URL-encoding, HTML entities (`&#x3c;script`), Unicode look-alikes, payloads
//! split across parameters, or syntax the list does not name all pass. It can also
//! refuse honest text that looks like code (a forum post quoting `<script>`), which is
//! why it is per route and has a `log` mode. The app must still use parameterised
//! queries and escape its output.
//!
//! Every value is lower-cased, SQL block comments (`/* … */`) become a space and runs of
//! whitespace one space, before the rules below run. The rules:
//!
//! | rule | category | matches |
//! |---|---|---|
//! | `union_select` | SQL | `union select`, `union all select`, `union distinct select` |
//! | `quote_boolean` | SQL | a quote, then `or`/`and`/`\|\|`/`&&`, then a digit, quote or `(`, and a comparison (`=`, `<`, `>`, ` like `) within 24 bytes: `' or 1=1`, `"or"a"="a` |
//! | `tautology` | SQL | `or N=N` with the same number on both sides |
//! | `quote_comment` | SQL | a quote followed by `--` (the rest of the query cut off) |
//! | `stacked_query` | SQL | `;` then `drop table`, `drop database`, `delete from`, `insert into`, `truncate table`, `shutdown`, `exec `, `select ` |
//! | `time_delay` | SQL | `sleep(N`, `pg_sleep(N`, `benchmark(N` (spaces allowed), `waitfor delay`, `dbms_pipe.receive_message` |
//! | `schema_probe` | SQL | `information_schema`, `xp_cmdshell`, `load_file(`, `into outfile`, `into dumpfile`, `@@version` |
//! | `script_tag` | XSS | `<script`, `</script` |
//! | `script_url` | XSS | `javascript:`, `vbscript:`, `data:text/html` (whitespace inside ignored, as browsers do) |
//! | `event_handler` | XSS | a tag (`<` and a letter) with an `on…=` attribute: `<img src=x onerror=…>`, `<svg/onload=…>` |
//! | `dangerous_tag` | XSS | `<iframe`, `<object`, `<embed`, `<base`, `<frameset` |

use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    SqlInjection,
    Xss,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::SqlInjection => "sql_injection",
            Category::Xss => "xss",
        }
    }
}

/// Which rule matched; never the input itself (it goes to no log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    pub category: Category,
    pub rule: &'static str,
}

/// Screens every name and value of a query string (URL-decoded once, `+` as space).
pub fn screen_query(query: &str) -> Option<Finding> {
    form_urlencoded::parse(query.as_bytes()).find_map(|(k, v)| screen(&k).or_else(|| screen(&v)))
}

/// Screens every string in a JSON document, object keys included.
pub fn screen_json(value: &serde_json::Value) -> Option<Finding> {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s) => {
                if let Some(f) = screen(s) {
                    return Some(f);
                }
            }
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if let Some(f) = screen(k) {
                        return Some(f);
                    }
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    None
}

/// Screens one value.
pub fn screen(value: &str) -> Option<Finding> {
    // Nothing below can match without one of these bytes, or a letter pair of the
    // keyword rules: skip the common short, plain value quickly.
    if value.len() < 4 {
        return None;
    }
    let spaced = normalize(value);
    sql(&spaced).or_else(|| xss(&spaced))
}

fn found(category: Category, rule: &'static str) -> Option<Finding> {
    Some(Finding { category, rule })
}

/// Lower case, `/* … */` as a space, whitespace runs as one space.
fn normalize(value: &str) -> Cow<'_, str> {
    let plain = !value
        .bytes()
        .any(|b| b.is_ascii_uppercase() || b.is_ascii_whitespace() || b == b'/');
    if plain {
        return Cow::Borrowed(value);
    }
    let lower = value.to_ascii_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut rest = lower.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
            push_space(&mut out);
            continue;
        }
        let c = rest.chars().next().expect("rest is not empty");
        if c.is_ascii_whitespace() {
            push_space(&mut out);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

fn push_space(out: &mut String) {
    if !out.ends_with(' ') {
        out.push(' ');
    }
}

fn sql(s: &str) -> Option<Finding> {
    let sql = |rule| found(Category::SqlInjection, rule);
    if ["union select", "union all select", "union distinct select"]
        .iter()
        .any(|p| s.contains(p))
    {
        return sql("union_select");
    }
    if quote_boolean(s) {
        return sql("quote_boolean");
    }
    if tautology(s) {
        return sql("tautology");
    }
    if ["'--", "' --", "\"--", "\" --"]
        .iter()
        .any(|p| s.contains(p))
    {
        return sql("quote_comment");
    }
    if stacked_query(s) {
        return sql("stacked_query");
    }
    if call_with_number(s, "sleep")
        || call_with_number(s, "benchmark")
        || s.contains("waitfor delay")
        || s.contains("dbms_pipe.receive_message")
    {
        return sql("time_delay");
    }
    if [
        "information_schema",
        "xp_cmdshell",
        "load_file(",
        "into outfile",
        "into dumpfile",
        "@@version",
    ]
    .iter()
    .any(|p| s.contains(p))
    {
        return sql("schema_probe");
    }
    None
}

/// `sleep(5)`, `pg_sleep (5)`, `benchmark(1000000, …)`: the function with a number.
fn call_with_number(s: &str, name: &str) -> bool {
    let b = s.as_bytes();
    s.match_indices(name).any(|(at, _)| {
        let i = skip_spaces(b, at + name.len());
        b.get(i) == Some(&b'(') && b.get(skip_spaces(b, i + 1)).is_some_and(u8::is_ascii_digit)
    })
}

/// `' or 1=1`, `"and"x"="x`, `' || '1`: a quote closing a string, a boolean operator,
/// and the start of another operand.
fn quote_boolean(s: &str) -> bool {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c != b'\'' && c != b'"' {
            continue;
        }
        let mut j = skip_spaces(b, i + 1);
        let word = |w: &[u8]| b[j..].starts_with(w);
        let op_len = if word(b"or") {
            2
        } else if word(b"and") {
            3
        } else if word(b"||") || word(b"&&") {
            2
        } else {
            continue;
        };
        let symbolic = b[j] == b'|' || b[j] == b'&';
        j += op_len;
        // `order`, `android`: the keyword must end there.
        if !symbolic
            && b.get(j)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            continue;
        }
        j = skip_spaces(b, j);
        let operand = b
            .get(j)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'\'' | b'"' | b'('));
        // …and a comparison soon after, which text quoting words rarely has.
        let window = &b[j.min(b.len())..(j + 24).min(b.len())];
        let compares = window.iter().any(|c| matches!(c, b'=' | b'<' | b'>'))
            || window.windows(6).any(|w| w == b" like ");
        if operand && compares {
            return true;
        }
    }
    false
}

/// `or 1=1`, `or 2 = 2`.
fn tautology(s: &str) -> bool {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(at) = s[from..].find("or ") {
        let start = from + at;
        from = start + 3;
        if start > 0 && b[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let (left, i) = digits(b, skip_spaces(b, from));
        let i = skip_spaces(b, i);
        if left.is_empty() || b.get(i) != Some(&b'=') {
            continue;
        }
        let (right, _) = digits(b, skip_spaces(b, i + 1));
        if left == right {
            return true;
        }
    }
    false
}

fn stacked_query(s: &str) -> bool {
    const FOLLOWERS: [&str; 8] = [
        "drop table",
        "drop database",
        "delete from",
        "insert into",
        "truncate table",
        "shutdown",
        "exec ",
        "select ",
    ];
    let b = s.as_bytes();
    s.match_indices(';').any(|(i, _)| {
        let rest = &s[skip_spaces(b, i + 1)..];
        FOLLOWERS.iter().any(|f| rest.starts_with(f))
    })
}

fn xss(s: &str) -> Option<Finding> {
    let xss = |rule| found(Category::Xss, rule);
    if s.contains("<script") || s.contains("</script") {
        return xss("script_tag");
    }
    if s.contains(':') {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if ["javascript:", "vbscript:", "data:text/html"]
            .iter()
            .any(|p| compact.contains(p))
        {
            return xss("script_url");
        }
    }
    if !s.contains('<') {
        return None;
    }
    if ["<iframe", "<object", "<embed", "<base", "<frameset"]
        .iter()
        .any(|p| s.contains(p))
    {
        return xss("dangerous_tag");
    }
    if event_handler(s) {
        return xss("event_handler");
    }
    None
}

/// A tag, then an `on<letters>=` attribute after a space, `/` or quote.
fn event_handler(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(tag) = b
        .windows(2)
        .position(|w| w[0] == b'<' && w[1].is_ascii_alphabetic())
    else {
        return false;
    };
    let mut i = tag + 2;
    while let Some(at) = s[i..].find("on") {
        let start = i + at;
        i = start + 2;
        if !matches!(b[start - 1], b' ' | b'/' | b'"' | b'\'') {
            continue;
        }
        let mut j = start + 2;
        let letters = j;
        while b.get(j).is_some_and(u8::is_ascii_alphabetic) {
            j += 1;
        }
        if j > letters && b.get(skip_spaces(b, j)) == Some(&b'=') {
            return true;
        }
    }
    false
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i.min(b.len())
}

fn digits(b: &[u8], from: usize) -> (&[u8], usize) {
    let mut end = from;
    while b.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    (&b[from.min(b.len())..end.max(from.min(b.len()))], end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Option<&'static str> {
        screen(s).map(|f| f.rule)
    }

    #[test]
    fn common_sql_injection_payloads_are_found() {
        for (payload, want) in [
            (
                "1 UNION SELECT username, password FROM users",
                "union_select",
            ),
            ("1/**/union/**/all/**/select/**/1", "union_select"),
            ("admin' OR '1'='1", "quote_boolean"),
            ("' or 1=1 --", "quote_boolean"),
            ("x\"or\"a\"=\"a", "quote_boolean"),
            ("' || '1'='1", "quote_boolean"),
            ("1 or 1=1", "tautology"),
            ("admin'--", "quote_comment"),
            ("1; DROP TABLE users", "stacked_query"),
            ("1;select pg_sleep(5)", "stacked_query"),
            ("1 AND SLEEP(5)", "time_delay"),
            ("1' waitfor delay '0:0:5", "time_delay"),
            ("1 and extractvalue(1, (select @@version))", "schema_probe"),
            (
                "select table_name from information_schema.tables",
                "schema_probe",
            ),
        ] {
            let f = screen(payload).unwrap_or_else(|| panic!("missed {payload}"));
            assert_eq!(
                (f.category, f.rule),
                (Category::SqlInjection, want),
                "{payload}"
            );
        }
    }

    #[test]
    fn common_xss_payloads_are_found() {
        for (payload, want) in [
            ("<script>alert(1)</script>", "script_tag"),
            ("<ScRiPt src=//evil.example>", "script_tag"),
            ("javascript:alert(document.cookie)", "script_url"),
            ("java\tscript:alert(1)", "script_url"),
            ("data:text/html;base64,PHNjcmlwdD4=", "script_url"),
            ("<img src=x onerror=alert(1)>", "event_handler"),
            ("<svg/onload=alert(1)>", "event_handler"),
            ("<body onload = alert(1)>", "event_handler"),
            ("<iframe src=//evil.example>", "dangerous_tag"),
        ] {
            let f = screen(payload).unwrap_or_else(|| panic!("missed {payload}"));
            assert_eq!((f.category, f.rule), (Category::Xss, want), "{payload}");
        }
    }

    #[test]
    fn ordinary_text_passes() {
        for text in [
            "O'Reilly and Sons",
            "rock 'n' roll or jazz",
            "it's 'order' and 'android'",
            "price < 100 and online = true",
            "SELECT your plan; we bill monthly",
            "a union of states selects a president",
            "I need sleep (lots of it)",
            "color: '#fff'",
            "john.doe@example.com",
            "2 + 2 = 4 or 5",
            "https://example.com/path?x=1",
            "<b>bold</b> and <i>one</i>",
            "café — 1/2 /* a comment */",
        ] {
            assert_eq!(rule(text), None, "{text}");
        }
    }

    #[test]
    fn queries_are_decoded_once_and_names_count() {
        assert_eq!(
            screen_query("q=1%27%20OR%20%271%27%3D%271&page=2").map(|f| f.rule),
            Some("quote_boolean")
        );
        assert_eq!(
            screen_query("%3Cscript%3E=1").map(|f| f.rule),
            Some("script_tag")
        );
        assert_eq!(screen_query("q=hello+world&page=2"), None);
        // Double encoding is not decoded twice: a documented gap.
        assert_eq!(screen_query("q=%253Cscript%253E"), None);
    }

    #[test]
    fn json_strings_and_keys_are_screened() {
        let v: serde_json::Value = serde_json::from_str(r#"{"a":[1,{"b":"<script>x"}]}"#).unwrap();
        assert_eq!(screen_json(&v).map(|f| f.rule), Some("script_tag"));
        let v: serde_json::Value = serde_json::from_str(r#"{"' or 1=1 --":1}"#).unwrap();
        assert!(screen_json(&v).is_some());
        let v: serde_json::Value = serde_json::from_str(r#"{"name":"O'Brien"}"#).unwrap();
        assert_eq!(screen_json(&v), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = screen(&s);
            let _ = screen_query(&s);
        }
    }
}
