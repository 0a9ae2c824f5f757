//! The bottom layer of io-models: what every model crate agrees on, and no I/O model of its own.
//!
//! Every section of the notes serves the same thing: a client sends bytes, the server sends
//! them back upper-cased (`conn.send(data.upper())`). This crate holds that service
//! ([`transform`]), the numbers everyone shares ([`limits`]), the command line every binary
//! parses ([`cli`]), the bookkeeping a load client keeps ([`load`]), the bounded output
//! buffer the event-loop servers keep per connection ([`pending`]), the notes' interactive
//! `>>: ` client ([`interactive`]), the listening socket ([`listen`]), the
//! `listening on` line ([`announce`](mod@announce)) and the length-header codec that section 七 uses
//! against sticky packets ([`framing`]).
//!
//! What is *not* here is how a socket is waited on: that is the whole difference between the
//! model crates, so each of them writes its own accept, read and write loops.

pub mod accept;
pub mod announce;
pub mod cli;
pub mod framing;
pub mod interactive;
pub mod limits;
pub mod listen;
pub mod load;
pub mod pending;
pub mod transform;

pub use announce::announce;
pub use transform::{upper, upper_in_place};

/// The one error type of the workspace, as in mini-redis: most failures here are I/O errors
/// or bad flags, and all a binary does with them is print them and exit non-zero.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns what a binary's `run` returned into its exit status, printing the error first.
///
/// `main` returning `Result` would print the error with `Debug`; a student should read
/// `server: Address already in use (os error 98)`, not a struct dump.
pub fn exit_code(program: &str, result: Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{program}: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs one line to stderr with a single `write`, so lines from several processes (the fork
/// server's children) or threads never interleave mid-line, as `eprintln!`'s piecewise
/// writes can.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log_line(::std::format_args!($($arg)*))
    };
}

#[doc(hidden)]
pub fn log_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = format!("{args}\n");
    // Nothing sensible can be done if stderr is gone; the server goes on serving.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
