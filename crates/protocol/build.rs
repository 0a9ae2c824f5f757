//! Stops the build at once, with one clear message, on any operating system but Linux.
//!
//! The workspace is Linux-only: io_uring (`async-callback`, the lab's phases), `/proc` (every
//! measurement of a server's CPU, memory, threads and descriptors), `SO_TIMESTAMPNS` (the
//! kernel receive stamps of the phases page) and SIGIO ownership of a socket by one thread
//! (`F_SETOWN_EX` with `O_ASYNC`, in `examples/`) exist only there, or behave differently
//! elsewhere.
//!
//! Why a build script here rather than a `compile_error!` in `lib.rs`: every crate of the
//! workspace depends on `protocol`, and a build script with no dependencies of its own is
//! among the first things cargo compiles and runs. A `compile_error!` would show only once
//! `protocol`'s dependencies (clap, serde, ...) were built, and by then cargo, which builds
//! in parallel, would already have started crates such as `io-uring` that fail on macOS
//! with screens of errors about missing Linux system calls, burying the one line that says
//! why. Cargo checks `CARGO_CFG_TARGET_OS`, the system being built *for*, so cross-compiling
//! from a Mac to Linux still works.

use std::env;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Nothing here reads any file: run once, not after every edit of the crate.
    println!("cargo::rerun-if-changed=build.rs");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "\n\
         io-models needs Linux, and this build targets `{os}`.\n\
         \n\
         It uses io_uring, /proc, SO_TIMESTAMPNS and SIGIO owned by one thread (F_SETOWN_EX\n\
         + O_ASYNC), which only Linux has. Linux 3.2 or later runs the models and the lab;\n\
         the io_uring backend needs Linux 5.6 or later (older kernels fall back to the pool).\n\
         \n\
         - Windows: install WSL2 (`wsl --install`), clone the repository inside it and build\n\
         \x20 there. WSL2 runs a real Linux kernel; WSL1 does not, and is not enough.\n\
         - macOS and the BSDs: use a Linux virtual machine or container.\n\
         \n\
         See README.md, \"What it runs on\".\n"
    );
    ExitCode::FAILURE
}
