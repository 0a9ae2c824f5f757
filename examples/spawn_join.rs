//! Section 一 of the notes: `spawn(f1)`, `spawn(f2)`, `spawn(f3)`, then `join` them, on `may`
//! coroutines; first with the cooperative sleep, then with `std::thread::sleep`.
//!
//! `cargo run --example spawn_join` (add `-- --unit-ms 200` for a shorter run). Watch the
//! order (f2 wakes before f1, before f3) and the two totals: about 5 units, then about 10.
//! The code is in `crates/coroutine-spawn/src/spawn_join.rs`.
fn main() -> std::process::ExitCode {
    coroutine_spawn::spawn_join::example_main(std::env::args_os())
}
