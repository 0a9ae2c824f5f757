//! The model crates the lab links, by name: `lab serve blocking-io ...` runs
//! `blocking_io::server_main` in this process, exactly as the crate's own `server` binary.

use std::ffi::OsString;
use std::process::ExitCode;

/// A crate's `server_main` or `client_main`: arguments with the program name first.
pub type Main = fn(Vec<OsString>) -> ExitCode;

/// A model crate, as the lab knows it.
pub struct Model {
    /// The crate's package name.
    pub krate: &'static str,
    /// The section of the notes it mirrors.
    pub section: &'static str,
    pub server: Main,
    pub client: Main,
}

/// Every model crate, in the order of the notes.
pub const MODELS: &[Model] = &[
    Model {
        krate: "coroutine-spawn",
        section: "一, gevent's spawn/join on may coroutines",
        server: coroutine_spawn::server_main::<Vec<OsString>, OsString>,
        client: coroutine_spawn::client_main::<Vec<OsString>, OsString>,
    },
    Model {
        krate: "blocking-io",
        section: "二 and 三, blocking I/O",
        server: blocking_io::server_main::<Vec<OsString>, OsString>,
        client: blocking_io::client_main::<Vec<OsString>, OsString>,
    },
    Model {
        krate: "nonblocking-io",
        section: "四, non-blocking I/O",
        server: nonblocking_io::server_main::<Vec<OsString>, OsString>,
        client: nonblocking_io::client_main::<Vec<OsString>, OsString>,
    },
    Model {
        krate: "multiplexing",
        section: "五, IO multiplexing",
        server: multiplexing::server_main::<Vec<OsString>, OsString>,
        client: multiplexing::client_main::<Vec<OsString>, OsString>,
    },
    Model {
        krate: "async-callback",
        section: "六, asynchronous I/O: a pool with callbacks, and io_uring",
        server: async_callback::server_main::<Vec<OsString>, OsString>,
        client: async_callback::client_main::<Vec<OsString>, OsString>,
    },
    Model {
        krate: "own-gevent",
        section: "自己实现gevent: our own stackless runtime on 五's poller",
        server: own_gevent::server_main::<Vec<OsString>, OsString>,
        client: own_gevent::client_main::<Vec<OsString>, OsString>,
    },
    // Not a model of the notes: the bench's tokio yardstick, living in the lab
    // (crates/lab/src/baseline.rs). Its client is the bench's load generator.
    Model {
        krate: "baseline",
        section: "the yardstick: tokio, as production code would do it",
        server: crate::baseline::server_main,
        client: crate::baseline::client_main,
    },
];

/// Servers that are not a model of their own but keep every server's contract, so the lab
/// can run them as processes and check them: section 七's framed echo-upper server.
pub const EXAMPLE_SERVERS: &[(&str, Main)] =
    &[("sticky-packets", examples::sticky_packets::server_main)];

/// Which of a crate's two binaries to run.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    Server,
    Client,
}

/// Runs `krate`'s server or client with `args` (without the program name).
pub fn run(krate: &str, role: Role, args: Vec<OsString>) -> ExitCode {
    if let (Role::Server, Some(program)) = (role, crate::minimal::find(krate)) {
        return crate::minimal::server_main(program, args);
    }
    if let (Role::Server, Some((name, main))) = (
        role,
        EXAMPLE_SERVERS.iter().find(|(name, _)| *name == krate),
    ) {
        let mut argv = vec![OsString::from(*name)];
        argv.extend(args);
        return main(argv);
    }
    let Some(model) = MODELS.iter().find(|m| m.krate == krate) else {
        let known: Vec<_> = MODELS.iter().map(|m| m.krate).collect();
        eprintln!("lab: no model crate {krate:?}; known: {}", known.join(", "));
        return ExitCode::FAILURE;
    };
    let (program, main) = match role {
        Role::Server => ("server", model.server),
        Role::Client => ("client", model.client),
    };
    let mut argv = vec![OsString::from(program)];
    argv.extend(args);
    main(argv)
}
