//! Shared helpers for the workspace examples (`cargo run --example NAME` from the root).
//!
//! The examples themselves are the `[[example]]` targets listed in this package's
//! `Cargo.toml`; each names the section of the notes it belongs to.
