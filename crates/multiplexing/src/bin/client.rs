//! `cargo run -p multiplexing --bin client`; see the crate docs.
fn main() -> std::process::ExitCode {
    multiplexing::client_main(std::env::args_os())
}
