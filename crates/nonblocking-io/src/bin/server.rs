//! `cargo run -p nonblocking-io --bin server` (add `--naive` or `--sleep-ms 1`); see the crate docs.
fn main() -> std::process::ExitCode {
    nonblocking_io::server_main(std::env::args_os())
}
