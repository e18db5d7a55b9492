//! An error wrapper that carries its concrete type name to `exception.type`.

use std::error::Error;
use std::fmt;

/// An error captured together with its concrete type name, so that the
/// record gets an `exception.type` attribute.
///
/// A `&dyn Error` field does not reveal its concrete type, and this crate
/// never guesses one: plain error fields get `exception.message` and
/// `exception.stacktrace` only. Wrap the error to add the type:
///
/// ```
/// use std::error::Error;
/// use otel_log_bridge::TypedError;
///
/// let err = "x".parse::<i32>().unwrap_err();
/// tracing::error!(error = &TypedError::new(&err) as &dyn Error, "bad input");
/// ```
///
/// The message and the `source()` chain are rendered when the wrapper is
/// made, so the wrapper owns no borrowed error; the chain still reaches
/// `exception.stacktrace` through [`TypedError::causes`].
#[derive(Clone, Debug)]
pub struct TypedError {
    type_name: &'static str,
    message: String,
    causes: Vec<String>,
}

impl TypedError {
    /// Captures `error`'s type name, message and source chain.
    pub fn new<E: Error + ?Sized>(error: &E) -> TypedError {
        let mut causes = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        TypedError {
            type_name: std::any::type_name::<E>(),
            message: error.to_string(),
            causes,
        }
    }

    /// The concrete type name, as `std::any::type_name` spells it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The messages of the wrapped error's sources, outermost first.
    pub fn causes(&self) -> &[String] {
        &self.causes
    }
}

impl fmt::Display for TypedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for TypedError {}
