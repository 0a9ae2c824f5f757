//! Unit tests of [`crate::reactor`], kept apart so the runtime file stays short.

use super::*;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_readable_socket_wakes_its_reader_once_then_stays_disarmed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    ours.set_nonblocking(true).unwrap();
    let reader = Arc::new(Count(AtomicUsize::new(0)));
    with(|r| {
        // SAFETY: `ours` stays open until `deregister` below.
        let key = unsafe { r.register(ours.as_raw_fd())? };
        r.wait_on(key, Direction::Read, &Waker::from(Arc::clone(&reader)))?;
        assert_eq!(r.turn(Some(Duration::ZERO))?, 0, "nothing to read yet");
        peer.write_all(b"x")?;
        assert_eq!(r.turn(Some(Duration::from_secs(5)))?, 1);
        // Oneshot, and the waker was taken: the same data does not wake anyone twice.
        assert_eq!(r.turn(Some(Duration::ZERO))?, 0);
        r.deregister(key, &ours);
        Ok(())
    })
    .unwrap();
    assert_eq!(reader.0.load(Ordering::SeqCst), 1);
}
