//! `cargo run -p async-callback --bin client` (`-- --conns 1000 --duration 2` for load); see
//! the crate docs.
fn main() -> std::process::ExitCode {
    async_callback::client_main(std::env::args_os())
}
