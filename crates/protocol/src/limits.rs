//! The numbers every crate shares, each with the reason it has the value it has.

/// Where every server of the notes binds: port 8080 on the loopback address. Loopback only:
/// nothing in this project should be reachable from another machine.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The notes' `recv(1024)`. Servers read at most this much per call, as the notes do, so that
/// a large message visibly takes several reads: the sticky-packet lesson in plain sight.
pub const READ_SIZE: usize = 1024;

/// The buffer a load client reads replies into. Larger than [`READ_SIZE`] because a load
/// client wants few system calls per reply; a reply still may need several reads.
pub const LOAD_BUF_SIZE: usize = 64 * 1024;

/// The most reply bytes an event-loop server keeps for one connection before it stops reading
/// from it. A client that sends and never reads would otherwise grow the server's memory
/// without bound; with this bound it only fills its own socket buffers and waits.
pub const MAX_PENDING: usize = 64 * 1024;

/// How long the listen queue is. std's `TcpListener::bind` uses 128; the lab opens hundreds of
/// connections at once, and a full queue turns into one-second SYN retries, not errors.
pub const BACKLOG: i32 = 1024;
