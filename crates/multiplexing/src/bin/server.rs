//! `cargo run -p multiplexing --bin server -- --backend polling`; see the crate docs.
//! Then `nc 127.0.0.1 8080`, or the client.
fn main() -> std::process::ExitCode {
    multiplexing::server_main(std::env::args_os())
}
