//! The integration tests: one binary, one module per concern.

mod support;

mod hostile;
mod mapping;
mod process;
mod receiver_selftest;
#[cfg(feature = "sdk")]
mod sdk_interop;
mod trace_ids;
mod volume;
