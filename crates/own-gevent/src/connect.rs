//! `TcpStream::connect` for the client: gevent's patched `socket.connect`, so a thousand
//! connections are opened by one thread without waiting for each handshake in turn.
//!
//! Plumbing rather than runtime: std has no non-blocking connect, so this is the C call
//! through `libc`, then one wait for writability on the reactor, as in `net.rs`.

use crate::net::TcpStream;
use crate::reactor::Direction;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

impl TcpStream {
    /// Connects without blocking the thread: `connect` on a non-blocking socket returns
    /// `EINPROGRESS` at once, the handshake completes in the kernel, and the socket turns
    /// writable when it is done; `SO_ERROR` then says whether it worked.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: `socket` takes no pointers; a non-negative result is a new descriptor
        // that nothing else owns, so `OwnedFd` may own (and close) it.
        let fd = match unsafe { libc::socket(family, kind, 0) } {
            -1 => return Err(io::Error::last_os_error()),
            fd => unsafe { OwnedFd::from_raw_fd(fd) },
        };
        let stream = TcpStream(crate::net::Registered::new(std::net::TcpStream::from(fd))?);
        let (storage, len) = sockaddr(addr);
        // SAFETY: `storage` is a sockaddr of `len` bytes for `family`, alive for the call.
        let rc = unsafe {
            libc::connect(
                stream.0.socket.as_raw_fd(),
                (&raw const storage).cast(),
                len,
            )
        };
        if rc == -1 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(err);
            }
            stream.0.ready(Direction::Write).await?;
            if let Some(err) = stream.0.socket.take_error()? {
                return Err(err);
            }
        }
        Ok(stream)
    }
}

/// `addr` as the C structure `connect` takes.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid `sockaddr_storage` (a plain C struct).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: `sockaddr_storage` is larger than and aligned for any sockaddr.
            let sin = unsafe { &mut *(&raw mut storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(&raw mut storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
