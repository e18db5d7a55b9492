//! The integration tests: one binary, one module per concern.

mod support;

mod hostile;
mod mapping;
mod process;
mod receiver_selftest;
mod trace_ids;
mod volume;
