//! Section 七: CPU-bound tasks in turn, then as `may` coroutines on one worker that yield after
//! every step; the same results, and the cost of switching for nothing.
//!
//! ```text
//! cargo run --release --example cpu_switching
//! cargo run --release --example cpu_switching -- --tasks 4 --steps 1000000
//! ```
//!
//! What to watch: the coroutine run makes one switch per step and takes longer, by about the
//! cost of one switch times their number. The code is `examples/src/cpu_switching.rs`.

fn main() -> std::process::ExitCode {
    protocol::exit_code("cpu_switching", examples::cpu_switching::example_main())
}
