//! `cargo run -p coroutine-spawn --bin client -- --conns 1000 --duration 2`; see the crate docs.
fn main() -> std::process::ExitCode {
    coroutine_spawn::client_main(std::env::args_os())
}
