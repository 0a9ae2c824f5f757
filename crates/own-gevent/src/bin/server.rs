//! `cargo run -p own-gevent --bin server`; then `nc 127.0.0.1 8080`. See the crate docs.
fn main() -> std::process::ExitCode {
    own_gevent::server_main(std::env::args_os())
}
