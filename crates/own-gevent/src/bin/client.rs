//! `cargo run -p own-gevent --bin client -- --conns 1000 --duration 2`; see the crate docs.
fn main() -> std::process::ExitCode {
    own_gevent::client_main(std::env::args_os())
}
