//! The lab: the top layer of io-models, linking every model crate.
//!
//! - [`models`]: run any crate's `server` or `client` main by crate name.
//! - [`baseline`]: the tokio echo-upper server every model is measured against.
//! - [`bench`]: `cargo lab bench`, its load generator, tables and charts.
//! - [`variants`]: the one table of server variants that demos, tests and the benchmark read.
//! - [`process`]: start a variant as its own process on port 0 and learn its address.
//! - [`procfs`]: what Linux says about a process (CPU time, memory, threads, children).
//! - [`scenarios`]: what every server must survive, as functions the tests call.
//! - [`syscalls`]: a running process's system calls counted with `perf stat`.
//! - [`minimal`]: the notes' servers as minimal Rust (`crates/*/examples/notes_*.rs`).
//! - [`late_reader`]: a client that reads late, and how many reply bytes it got back.
//! - [`check`]: `cargo lab check ADDR`, the scenarios against a student's own server.
//! - [`demo`]: `cargo lab demo-all`.
//! - [`docs`]: `cargo lab docs`, the book's build and its checks.
//! - [`phases`]: `cargo lab phases`, each model's wait data and copy data timed with the
//!   kernel's receive timestamps (Linux only).

pub mod baseline;
pub mod bench;
pub mod check;
pub mod demo;
pub mod docs;
pub mod late_reader;
pub mod minimal;
pub mod models;
pub mod parity;
#[cfg(target_os = "linux")]
pub mod phases;
pub mod process;
pub mod procfs;
pub mod scenarios;
pub mod syscalls;
pub mod variants;

pub use protocol::Result;
