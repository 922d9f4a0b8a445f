//! Why a condition did not parse, and where (1-based character column). Messages never
//! repeat the condition text.

/// A condition that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("condition is empty")]
    Empty,
    /// `len` is the text's length, or that of its canonical form (spaces around the
    /// operator and after commas) when only that is too long.
    #[error("condition is {len} bytes long, more than the {max} allowed")]
    TooLong { len: usize, max: usize },
    #[error(
        "column {column}: expected a placeholder such as [STATUS] or a function len(...) / has(...)"
    )]
    ExpectedLeftOperand { column: usize },
    #[error(
        "column {column}: unknown placeholder (known: [STATUS], [RESPONSE_TIME], [BODY], [CERTIFICATE_EXPIRATION], [CONNECTED])"
    )]
    UnknownPlaceholder { column: usize },
    #[error("column {column}: placeholder [{name}] is not supported by bulwark's monitors")]
    UnsupportedPlaceholder { name: &'static str, column: usize },
    #[error("column {column}: placeholder is missing its closing ']'")]
    UnclosedPlaceholder { column: usize },
    #[error("column {column}: only [BODY] takes a JSON path")]
    PathNotAllowed { column: usize },
    #[error("column {column}: invalid JSON path: {reason}")]
    InvalidPath { column: usize, reason: &'static str },
    #[error("column {column}: JSON path is deeper than {max} segments")]
    PathTooDeep { column: usize, max: usize },
    #[error("column {column}: {function}() works only with [BODY]")]
    FunctionNeedsBody {
        function: &'static str,
        column: usize,
    },
    #[error("column {column}: has() needs a JSON path, such as has([BODY].errors)")]
    HasNeedsPath { column: usize },
    #[error("column {column}: {function}( is missing its closing ')'")]
    UnclosedFunction {
        function: &'static str,
        column: usize,
    },
    #[error("column {column}: expected an operator: ==, !=, <, <=, > or >=")]
    ExpectedOperator { column: usize },
    #[error("column {column}: expected a value after the operator")]
    ExpectedRightOperand { column: usize },
    #[error("column {column}: unexpected text after the operand")]
    TrailingText { column: usize },
    #[error("column {column}: {function}() works only with == and !=")]
    EqualityOnly {
        function: &'static str,
        column: usize,
    },
    #[error("column {column}: true and false work only with == and !=")]
    BooleanOrdering { column: usize },
    #[error("column {column}: any() has an empty item")]
    EmptyAnyItem { column: usize },
    #[error("column {column}: expected a number or a duration such as 300, 48h or 7d")]
    ExpectedNumber { column: usize },
    #[error("column {column}: expected true or false")]
    ExpectedBool { column: usize },
}
