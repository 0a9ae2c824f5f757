//! `cargo run -p async-callback --bin server` (io_uring; `-- --backend pool` for the pool),
//! then `nc 127.0.0.1 8080`; see the crate docs.
fn main() -> std::process::ExitCode {
    async_callback::server_main(std::env::args_os())
}
