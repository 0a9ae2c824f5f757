//! Unit tests of [`crate::executor`], kept apart so the runtime file stays short.

use super::*;
use crate::net::{TcpListener, TcpStream};
use std::io::Write;

#[test]
fn join_returns_the_value_from_inside_and_from_outside() {
    let inner = block_on(async { spawn(async { 6 * 7 }).await });
    assert_eq!(inner, Ok(42));
    assert_eq!(spawn(async { "joined" }).join(), Ok("joined"));
    let all = block_on(joinall((0..3).map(|i| spawn(async move { i * 10 }))));
    assert_eq!(all, [Ok(0), Ok(10), Ok(20)]);
}

#[test]
fn a_panicking_task_is_reported_and_the_others_go_on() {
    let results = block_on(async {
        let before = spawn(async {
            crate::sleep(Duration::from_millis(20)).await;
            "slept"
        });
        let boom = spawn(async {
            crate::sleep(Duration::from_millis(5)).await;
            panic!("boom");
        });
        let after = spawn(async { "ran" });
        (before.await, boom.await, after.await)
    });
    assert_eq!(results.0, Ok("slept"));
    assert_eq!(results.1, Err(JoinError("boom".into())));
    assert_eq!(results.2, Ok("ran"));
    // The runtime is still usable, and the panicked task left nothing behind.
    assert_eq!(spawn(async { 1 }).join(), Ok(1));
    assert_eq!(live_tasks(), 0);
}

/// A socket pair on this thread's reactor: a std writer and our reader.
fn pair() -> (std::net::TcpStream, TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let writer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (reader, _) = listener.accept().unwrap();
    (writer, TcpStream::from_std(reader).unwrap())
}

// ANCHOR: fairness_test
#[test]
fn a_reader_that_never_meets_would_block_still_yields_after_its_budget() {
    const BYTES: usize = 4 * BUDGET as usize;
    let (mut writer, mut reader) = pair();
    // Everything is in the socket before the reader starts: no read can say `WouldBlock`.
    writer.write_all(&[b'x'; BYTES]).unwrap();
    let reads = Rc::new(Cell::new(0));
    let seen_at = block_on(async {
        let counted = Rc::clone(&reads);
        let flood = spawn(async move {
            let mut one = [0u8; 1];
            while counted.get() < BYTES {
                reader.read(&mut one).await.unwrap();
                counted.set(counted.get() + 1);
            }
        });
        let reads = Rc::clone(&reads);
        let other = spawn(async move { reads.get() });
        let seen_at = other.await.unwrap();
        flood.await.unwrap();
        seen_at
    });
    // Without a budget the reader would make all its reads before `other` ran once.
    assert!(
        seen_at <= BUDGET as usize,
        "the other task waited for {seen_at} reads"
    );
}
// ANCHOR_END: fairness_test

#[test]
fn a_run_queue_that_never_empties_does_not_starve_readiness() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = TcpListener::from_std(listener).unwrap();
    let accepted = Rc::new(Cell::new(false));
    let spins = block_on(async {
        // Two tasks that never wait on anything: the run queue is never empty. The first
        // connects once it is spinning, so only the reactor can tell `accept` about it.
        let spinners: Vec<_> = (0..2)
            .map(|i| {
                let done = Rc::clone(&accepted);
                spawn(async move {
                    let (mut spins, mut client) = (0u64, None);
                    while !done.get() && spins < 10_000_000 {
                        spend_budget().await;
                        spins += 1;
                        if i == 0 && spins == 1000 {
                            client = Some(std::net::TcpStream::connect(addr).unwrap());
                        }
                    }
                    drop(client);
                    spins
                })
            })
            .collect();
        listener.accept().await.unwrap();
        accepted.set(true);
        joinall(spinners).await
    });
    for spun in spins {
        assert!(
            spun.unwrap() < 10_000_000,
            "accept waited for the spinners to give up"
        );
    }
}

#[test]
fn a_lone_busy_task_yields_to_the_reactor_after_each_budget() {
    // One task that never waits, and a socket that becomes readable while it spins: the
    // reader must run within about one budget of the data's arrival, not after the
    // executor's `TICK` polls of the spinner (61 budgets) as with an undeferred yield.
    let (mut writer, mut reader) = pair();
    let spins = Rc::new(Cell::new(0u64));
    let done = Rc::new(Cell::new(false));
    let (sent_at, read_at) = block_on(async {
        let (counted, stop) = (Rc::clone(&spins), Rc::clone(&done));
        // Bounded, in case the reader never runs: the assertion below then says so.
        let spinner = spawn(async move {
            while !stop.get() && counted.get() < 100_000_000 {
                spend_budget().await;
                counted.set(counted.get() + 1);
            }
        });
        let (spins_seen, finished) = (Rc::clone(&spins), Rc::clone(&done));
        let read = spawn(async move {
            let mut one = [0u8; 1];
            reader.read(&mut one).await.unwrap();
            finished.set(true);
            spins_seen.get()
        });
        // Let the reader register and the spinner get going, then send.
        crate::sleep(Duration::from_millis(5)).await;
        let sent_at = spins.get();
        writer.write_all(b"x").unwrap();
        let read_at = read.await.unwrap();
        spinner.await.unwrap();
        (sent_at, read_at)
    });
    assert!(
        sent_at > 0,
        "the spinner never ran before the data was sent"
    );
    assert!(
        read_at - sent_at <= 2 * u64::from(BUDGET),
        "the reader waited for {} spins after its data came",
        read_at - sent_at
    );
}
