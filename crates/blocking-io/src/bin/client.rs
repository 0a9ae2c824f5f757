//! `cargo run -p blocking-io --bin client`; see the crate docs.
fn main() -> std::process::ExitCode {
    blocking_io::client_main(std::env::args_os())
}
