//! `cargo run -p blocking-io --bin server -- --mode thread`; see the crate docs.
fn main() -> std::process::ExitCode {
    blocking_io::server_main(std::env::args_os())
}
