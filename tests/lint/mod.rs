//! Tests of the lint helpers: the rules against `fixtures/lint`, the library
//! API, the `otel-log-lint` command, robustness on real and generated
//! sources, rule decisions found wrong in review, and the crate's own
//! sources.

mod api;
#[cfg(feature = "cli")]
mod cli;
mod fixtures;
mod robustness;
mod rules;
mod self_check;
mod support;
