//! An error wrapper that carries its concrete type name to `exception.type`.

use std::error::Error;
use std::fmt;

use crate::record::format_lossy;

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
/// Wrap the error itself, not a `dyn Error` that holds it: through a trait
/// object (`TypedError::new(boxed.as_ref())`) the concrete type is unknown,
/// and the wrapper then gives no `exception.type` rather than the trait
/// object's name. Nor does a wrapper of a `TypedError`: pass a
/// `TypedError` on as it is (it is `Clone`), not wrapped again.
///
/// The message and the `source()` chain are rendered when the wrapper is
/// made, so the wrapper owns no borrowed error; the chain still reaches
/// `exception.stacktrace` through [`TypedError::causes`], and other layers
/// and error reporters through the wrapper's own `source()`.
#[derive(Clone, Debug)]
pub struct TypedError {
    type_name: Option<&'static str>,
    message: String,
    causes: Vec<String>,
    /// The causes again, linked, for `source()`.
    chain: Option<Box<RenderedCause>>,
}

/// One of the wrapped error's causes, rendered: what the wrapper's
/// `source()` chain is made of.
#[derive(Clone, Debug)]
struct RenderedCause {
    message: String,
    next: Option<Box<RenderedCause>>,
}

impl fmt::Display for RenderedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for RenderedCause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.next
            .as_deref()
            .map(|cause| cause as &(dyn Error + 'static))
    }
}

impl TypedError {
    /// Captures `error`'s type name, message and source chain (at most
    /// 32 causes: a chain can loop).
    pub fn new<E: Error + ?Sized>(error: &E) -> TypedError {
        let mut causes = Vec::new();
        for_each_cause(error.source(), |cause| match cause {
            Some(cause) => causes.push(format_lossy(format_args!("{cause}"))),
            None => causes.push(CAUSES_LEFT_OUT.to_owned()),
        });
        let chain = causes.iter().rev().fold(None, |next, message| {
            Some(Box::new(RenderedCause {
                message: message.clone(),
                next,
            }))
        });
        TypedError {
            type_name: concrete_type_name(std::any::type_name::<E>()),
            message: format_lossy(format_args!("{error}")),
            causes,
            chain,
        }
    }

    /// The concrete type name, as `std::any::type_name` spells it; `None`
    /// when the error was wrapped through a trait object.
    pub fn type_name(&self) -> Option<&'static str> {
        self.type_name
    }

    /// The messages of the wrapped error's sources, outermost first. A
    /// chain longer than 32 (one that loops) ends with the line
    /// `… (further causes left out)` after the 32nd.
    pub fn causes(&self) -> &[String] {
        &self.causes
    }
}

/// How many causes of an error are followed: a `source()` chain can loop
/// (an error that is its own source), and following it would never end.
const MAX_CAUSES: usize = 32;

/// What stands for the causes beyond [`MAX_CAUSES`].
pub(crate) const CAUSES_LEFT_OUT: &str = "… (further causes left out)";

/// Calls `each` with the causes that `first` starts, outermost first, at
/// most [`MAX_CAUSES`] of them, then once with `None` if there are more.
pub(crate) fn for_each_cause<'e>(
    first: Option<&'e (dyn Error + 'static)>,
    mut each: impl FnMut(Option<&'e (dyn Error + 'static)>),
) {
    let mut causes =
        std::iter::successors(first, |&cause: &&'e (dyn Error + 'static)| cause.source());
    for cause in causes.by_ref().take(MAX_CAUSES) {
        each(Some(cause));
    }
    if causes.next().is_some() {
        each(None);
    }
}

/// The error's own type in `type_name`, with the references and smart
/// pointers around it taken off (`&app::MyError`,
/// `alloc::sync::Arc<std::io::error::Error>`): one error type gets one
/// `exception.type` however it was wrapped. `None` when what is inside is
/// a trait object (`&dyn core::error::Error`), which names no concrete
/// type. A type merely generic over a trait object
/// (`MyError<Box<dyn Error>>`) is a real type.
fn concrete_type_name(type_name: &'static str) -> Option<&'static str> {
    const REFERENCES: [&str; 2] = ["&mut ", "&"];
    const POINTERS: [&str; 4] = [
        "alloc::boxed::Box<",
        "alloc::sync::Arc<",
        "alloc::rc::Rc<",
        "core::pin::Pin<",
    ];
    let mut name = type_name;
    loop {
        if let Some(inner) = REFERENCES.iter().find_map(|r| name.strip_prefix(r)) {
            name = inner;
        } else if let Some(inner) = POINTERS
            .iter()
            .find_map(|pointer| name.strip_prefix(pointer)?.strip_suffix('>'))
        {
            name = inner;
        } else {
            break;
        }
    }
    // A wrapper of a wrapper would name this type, not the error's: the
    // wrapped one's type is not reachable without a `'static` bound that
    // borrowed errors do not meet, so none is given rather than a wrong one.
    (!name.starts_with("dyn ") && name != std::any::type_name::<TypedError>()).then_some(name)
}

impl fmt::Display for TypedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for TypedError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.chain
            .as_deref()
            .map(|cause| cause as &(dyn Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that is its own source.
    #[derive(Debug)]
    struct Looping;

    impl fmt::Display for Looping {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("looping")
        }
    }

    impl Error for Looping {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self)
        }
    }

    /// An error with a cause that has a cause of its own.
    #[derive(Debug)]
    struct Layered {
        message: &'static str,
        source: Option<Box<Layered>>,
    }

    impl fmt::Display for Layered {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.message)
        }
    }

    impl Error for Layered {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source
                .as_deref()
                .map(|cause| cause as &(dyn Error + 'static))
        }
    }

    fn source_messages(error: &dyn Error) -> Vec<String> {
        let mut messages = Vec::new();
        let mut next = error.source();
        while let Some(cause) = next {
            messages.push(cause.to_string());
            next = cause.source();
        }
        messages
    }

    /// Regression: the wrapper had no `source()`, so other layers and
    /// error reporters lost the chain, and so did a wrapper made of it.
    #[test]
    fn the_wrapper_keeps_the_source_chain_for_others_and_for_a_wrapper_of_it() {
        let error = Layered {
            message: "request failed",
            source: Some(Box::new(Layered {
                message: "connection reset",
                source: Some(Box::new(Layered {
                    message: "broken pipe",
                    source: None,
                })),
            })),
        };
        let typed = TypedError::new(&error);
        let expected = ["connection reset", "broken pipe"];
        assert_eq!(typed.causes(), expected);
        assert_eq!(source_messages(&typed), expected);
        let rewrapped = TypedError::new(&typed);
        assert_eq!(rewrapped.causes(), expected);
        assert_eq!(source_messages(&rewrapped), expected);
        // Regression: the wrapper's own type was given as the error's.
        assert!(typed
            .type_name()
            .is_some_and(|name| name.ends_with("Layered")));
        assert_eq!(rewrapped.type_name(), None);
    }

    /// Regression: following a `source()` chain that loops never ended.
    #[test]
    fn a_source_chain_that_loops_is_cut() {
        let typed = TypedError::new(&Looping);
        assert_eq!(typed.causes().len(), MAX_CAUSES + 1);
        assert_eq!(
            typed.causes().last().map(String::as_str),
            Some(CAUSES_LEFT_OUT)
        );
    }

    #[test]
    fn the_concrete_type_is_named_and_a_trait_object_is_not() {
        let error = "x".parse::<i32>().unwrap_err();
        assert_eq!(
            TypedError::new(&error).type_name(),
            Some("core::num::error::ParseIntError")
        );
        let boxed: Box<dyn Error + Send + Sync> = Box::new(error);
        let typed = TypedError::new(boxed.as_ref());
        assert_eq!(typed.type_name(), None);
        assert_eq!(typed.to_string(), "invalid digit found in string");
        // Regression: a reference or a smart pointer to a trait object was
        // named as such (`&dyn core::error::Error`).
        let reference: &dyn Error = boxed.as_ref();
        assert_eq!(TypedError::new(&reference).type_name(), None);
        let shared: std::sync::Arc<dyn Error> = std::sync::Arc::new("x".parse::<u8>().unwrap_err());
        assert_eq!(TypedError::new(&shared).type_name(), None);
        assert_eq!(
            concrete_type_name("app::Wrapped<alloc::boxed::Box<dyn core::error::Error>>"),
            Some("app::Wrapped<alloc::boxed::Box<dyn core::error::Error>>")
        );
    }

    /// Regression: an error wrapped through a reference or a smart pointer
    /// was named with it (`&core::num::error::ParseIntError`), so one
    /// error type came under several `exception.type` values.
    #[test]
    fn references_and_smart_pointers_around_the_error_are_not_named() {
        let error = "x".parse::<i32>().unwrap_err();
        let name = Some("core::num::error::ParseIntError");
        assert_eq!(TypedError::new(&&error).type_name(), name);
        let shared = std::sync::Arc::new(error.clone());
        assert_eq!(TypedError::new(&shared).type_name(), name);
        let boxed = Box::new(error);
        assert_eq!(TypedError::new(&boxed).type_name(), name);
    }
}
