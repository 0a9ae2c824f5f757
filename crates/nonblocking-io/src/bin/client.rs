//! `cargo run -p nonblocking-io --bin client`; see the crate docs.
fn main() -> std::process::ExitCode {
    nonblocking_io::client_main(std::env::args_os())
}
