//! The integration tests: one binary, one module per concern.

mod support;

mod allocations;
#[cfg(feature = "grpc")]
mod collector;
#[cfg(all(feature = "fuzzing", feature = "lint", feature = "otlp"))]
mod fuzz_seeds;
mod hostile;
mod layers;
#[cfg(feature = "lint")]
mod lint;
mod mapping;
#[cfg(feature = "metrics")]
mod metrics;
mod nested;
#[cfg(feature = "grpc")]
mod otlp;
mod process;
mod properties;
mod receiver_selftest;
mod redaction;
mod regressions;
#[cfg(feature = "sdk")]
mod sdk_interop;
#[cfg(feature = "spool")]
mod spool;
mod storm;
mod trace_ids;
mod volume;
