//! Reading a config file: TOML parse, serde model, validation; every problem located by
//! key path and line. Error messages never quote values from the file, which may hold
//! something sensitive put in the wrong place.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{BulwarkConfig, SecretResolver, ValidatedConfig};
use crate::problems::Problem;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", InvalidDisplay(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
}

struct InvalidDisplay<'a>(&'a Path, &'a [Problem]);

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let (file, problems) = (self.0.display(), self.1);
        let s = if problems.len() == 1 { "" } else { "s" };
        write!(f, "config file {file} has {} problem{s}:", problems.len())?;
        for p in problems {
            write!(f, "\n  {file}:{p}")?;
        }
        Ok(())
    }
}

/// A loaded config and the warnings it raised (short issued secrets and the like).
#[derive(Debug)]
pub struct Loaded {
    pub config: ValidatedConfig,
    pub warnings: Vec<Problem>,
}

/// Checks that need crates above the config (monitor conditions, metric families): given
/// the validated config, returns `(key path, message)` for each problem, which is then
/// located and reported like any other.
pub type ExtraCheck<'a> = &'a dyn Fn(&ValidatedConfig) -> Vec<(String, String)>;

/// Reads, parses and validates `path`, resolving secrets from the process environment.
pub fn load_file(path: &Path) -> Result<Loaded, LoadError> {
    load_file_checked(path, &|_| Vec::new())
}

/// [`load_file`] plus the caller's own checks.
pub fn load_file_checked(path: &Path, extra: ExtraCheck<'_>) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let env = |name: &str| std::env::var(name).ok();
    load_str_checked(&text, path, &env, extra)
}

/// Parses and validates `text`; `file` only names it in messages.
pub fn load_str(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, LoadError> {
    load_str_checked(text, file, env, &|_| Vec::new())
}

/// [`load_str`] plus the caller's own checks.
pub fn load_str_checked(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    extra: ExtraCheck<'_>,
) -> Result<Loaded, LoadError> {
    let invalid = |problems| LoadError::Invalid {
        file: file.to_path_buf(),
        problems,
    };
    let table = DeTable::parse(text).map_err(|e| invalid(vec![syntax_problem(text, &e, None)]))?;
    let span = table.span();
    let tree = Spanned::new(span, DeValue::Table(table.into_inner()));
    let raw: BulwarkConfig =
        toml::from_str(text).map_err(|e| invalid(vec![syntax_problem(text, &e, Some(&tree))]))?;
    // Relative paths (secret files, data folder) are relative to the working directory,
    // as for most servers started from a shell or a unit file.
    let mut secrets = SecretResolver {
        base_dir: Path::new(""),
        env,
    };
    let (mut config, mut problems) = raw.validate(&mut secrets);
    if let Some(validated) = &config {
        for (path, message) in extra(validated) {
            problems.error(path, message);
        }
        if !problems.errors.is_empty() {
            config = None;
        }
    }
    for p in problems
        .errors
        .iter_mut()
        .chain(problems.warnings.iter_mut())
    {
        p.line = locate(text, &tree, &p.path);
    }
    match config {
        Some(config) => Ok(Loaded {
            config,
            warnings: problems.warnings,
        }),
        None => Err(invalid(problems.errors)),
    }
}

fn syntax_problem(text: &str, error: &toml::de::Error, tree: Option<&Spanned<DeValue>>) -> Problem {
    let span = error.span();
    let path = match (tree, &span) {
        (Some(tree), Some(span)) => {
            let mut segments = Vec::new();
            path_at(tree, span.start, &mut segments);
            segments.concat()
        }
        _ => String::new(),
    };
    Problem {
        path,
        line: span.map(|s| line_of(text, s.start)),
        message: scrub(error.message()),
    }
}

/// serde messages quote the offending value (`invalid type: string "..."`); drop it.
fn scrub(message: &str) -> String {
    if message.contains("untagged enum SecretRef") {
        return "expected \"${ENV_VAR}\" or { file = \"path\" }".into();
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("string \"") {
        out.push_str(&rest[..start + "string".len()]);
        let after = &rest[start + "string \"".len()..];
        rest = match after.find('"') {
            Some(end) => &after[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out.trim_end_matches('\n').to_string()
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

/// The dotted path of the deepest key or element whose span contains `offset`. Parents
/// are searched even when their own span does not contain it: a `[table]` header's span
/// covers only the header, not the keys below it.
fn path_at(node: &Spanned<DeValue>, offset: usize, out: &mut Vec<String>) -> bool {
    match node.get_ref() {
        DeValue::Table(table) => {
            for (key, value) in table.iter() {
                let dot = if out.is_empty() { "" } else { "." };
                out.push(format!("{dot}{}", key.get_ref()));
                if path_at(value, offset, out)
                    || contains(&key.span(), offset)
                    || contains(&value.span(), offset)
                {
                    return true;
                }
                out.pop();
            }
            false
        }
        DeValue::Array(array) => {
            for (i, value) in array.iter().enumerate() {
                out.push(format!("[{i}]"));
                if path_at(value, offset, out) || contains(&value.span(), offset) {
                    return true;
                }
                out.pop();
            }
            false
        }
        _ => false,
    }
}

/// Line of the value at a dotted path such as `routes[2].upstream`, or of its deepest
/// existing ancestor when the key itself is missing.
fn locate(text: &str, tree: &Spanned<DeValue>, path: &str) -> Option<usize> {
    let mut node = tree;
    let mut found = None;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        node = node.get_ref().get(key)?;
        found = Some(node.span().start);
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            let index: usize = index.parse().ok()?;
            match node.get_ref().get(index) {
                Some(child) => {
                    node = child;
                    found = Some(node.span().start);
                }
                None => return found.map(|o| line_of(text, o)),
            }
        }
    }
    found.map(|o| line_of(text, o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        let env = |name: &str| match name {
            "WEAK" => Some("changeme".to_string()),
            "SHORT" => Some("abcdefgh".to_string()),
            "PG" => Some("postgres://u:pw@db/x?sslpassword=Hunter2Secret".to_string()),
            _ => None,
        };
        match load_str(text, Path::new("test.toml"), &env) {
            Ok(_) => vec![],
            Err(LoadError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn unknown_keys_name_the_key_path_and_line() {
        let p = problems(
            "[listen]\npublic = \"127.0.0.1:1\"\n\n[[upstreams]]\nname = \"a\"\ntargets = [\"http://x:1\"]\ntimout = \"1s\"\n",
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, Some(7));
        assert_eq!(p[0].path, "upstreams[0].timout");
        assert!(
            p[0].message.contains("unknown field `timout`"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn validation_errors_are_located() {
        let text = "[[upstreams]]\nname = \"app\"\ntargets = [\"http://127.0.0.1:1\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"nope\"\n";
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "routes[0].upstream");
        assert_eq!(p[0].line, Some(7));
    }

    #[test]
    fn type_errors_do_not_quote_values() {
        let p = problems(
            "[[checks]]\nname = \"x\"\nkind = \"http\"\nexpect_status = \"hunter2-value\"\n",
        );
        assert_eq!(p.len(), 1);
        assert!(!p[0].message.contains("hunter2"), "{}", p[0].message);
        assert_eq!(p[0].line, Some(4));
    }

    #[test]
    fn weak_owned_secrets_are_refused_with_a_hint() {
        let text = "[[admin.tokens]]\nname = \"ops\"\ntoken = \"${WEAK}\"\nscopes = [\"read\"]\n\n[[admin.tokens]]\nname = \"ci\"\ntoken = \"${SHORT}\"\nscopes = [\"read\"]\n";
        let p = problems(text);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].path, "admin.tokens[0].token");
        assert_eq!(p[0].line, Some(3));
        assert!(p[0].message.contains("placeholder"));
        assert!(p[1].message.contains("openssl rand"));
        assert!(!p[1].message.contains("abcdefgh"));
    }

    #[test]
    fn postgres_urls_with_parameters_the_client_would_log_are_refused() {
        let p = problems("[[checks]]\nname = \"db\"\nkind = \"postgres\"\nurl = \"${PG}\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "checks[0].url");
        assert_eq!(p[0].line, Some(4));
        assert!(!p[0].message.contains("Hunter2"), "{}", p[0].message);
        assert!(!p[0].message.contains("sslpassword"), "{}", p[0].message);
    }

    #[test]
    fn bad_durations_name_the_key() {
        let p = problems("[timeouts]\nidle = \"30\"\n");
        assert_eq!(p[0].path, "timeouts.idle");
        assert_eq!(p[0].line, Some(2));
        assert!(p[0].message.contains("needs a unit"));
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let p = problems("[listen]\npublic = \n");
        assert_eq!(p[0].line, Some(2));
    }

    #[test]
    fn empty_file_is_a_valid_config_with_defaults() {
        assert!(problems("").is_empty());
    }
}
