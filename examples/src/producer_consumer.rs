//! The producer-consumer model (生产者消费者模型): section 七, 并发编程 2.7 (and the
//! `Queue` of 2.5, 2.6 and 3.8 it is built on).
//!
//! Producers make items, consumers use them, and a queue between them lets each run at its
//! own pace. The notes' Python version uses `JoinableQueue` and daemon consumers; here the
//! queue is a **bounded** `crossbeam-channel`, which adds the point that matters in a server:
//! - **Backpressure.** When the consumer falls behind, the channel fills up and `send`
//!   blocks the producer until there is room. Memory stays bounded by the capacity, and the
//!   producer slows to the consumer's pace instead of piling up work (an unbounded queue
//!   would grow until the process dies). What to watch: the `channel full, waiting` lines,
//!   and that the queue never holds more than its capacity.
//! - **Clean shutdown without a sentinel.** The notes put a `None` in the queue per consumer
//!   to say "no more". A channel knows: when every `Sender` is dropped (every producer has
//!   finished), the consumer's `recv` returns `Err` after the last item, and its loop ends.
//!   The other way round, if the consumer goes away, each producer's next `send` fails and
//!   it stops: nobody blocks for ever.
//!
//! The same shape is inside every server here: the listen backlog between the kernel and
//! `accept`, the pool's job queue in `blocking-io`'s pool mode, and `Pending` in the event
//! loops, where "stop reading while the output is full" is this backpressure.

use crossbeam_channel::{bounded, unbounded, Receiver, SendTimeoutError, Sender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

/// How one run is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Producer threads.
    pub producers: usize,
    /// Items each producer makes.
    pub items: usize,
    /// Items the channel holds before `send` blocks (0 is a rendezvous: every send waits
    /// for the consumer to take it).
    pub capacity: usize,
    /// How long the consumer spends on each item: make it larger than the producers' pace
    /// and backpressure shows.
    pub work: Duration,
    /// The consumer starts only once a producer has found the channel full (a consumer that
    /// is late to start), so backpressure shows whatever the machine's speed.
    pub late_consumer: bool,
    /// The consumer stops after this many items and drops its end: the producers must then
    /// stop on their own.
    pub consume_at_most: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            producers: 2,
            items: 10,
            capacity: 4,
            work: Duration::from_millis(2),
            late_consumer: false,
            consume_at_most: None,
        }
    }
}

/// One item: who made it and its number in that producer's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub producer: usize,
    pub seq: usize,
}

/// Something that happened, with its time since the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A producer found the channel full (`queued` items in it) and is now blocked in `send`.
    Full {
        at: Duration,
        producer: usize,
        seq: usize,
        queued: usize,
    },
    /// That producer's item went in after waiting `waited`.
    Resumed {
        at: Duration,
        producer: usize,
        seq: usize,
        waited: Duration,
    },
    /// A producer sent all its items and dropped its `Sender`.
    Finished { at: Duration, producer: usize },
    /// A producer's `send` failed: the consumer is gone, so it stopped after `sent` items.
    Abandoned {
        at: Duration,
        producer: usize,
        sent: usize,
    },
    /// The consumer's `recv` reported that every producer is gone.
    Disconnected { at: Duration, consumed: usize },
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub config: Config,
    /// Items that went into the channel.
    pub produced: usize,
    /// Items the consumer took out, in the order it took them.
    pub consumed: Vec<Item>,
    /// The most items the consumer ever saw waiting in the channel.
    pub max_queued: usize,
    /// Every `Full`, `Resumed`, `Finished`, `Abandoned` and `Disconnected`, in time order.
    pub events: Vec<Event>,
    pub elapsed: Duration,
}

impl Report {
    /// Sends that found the channel full and blocked.
    pub fn blocked_sends(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Full { .. }))
            .count()
    }

    /// The longest a producer waited in one `send`.
    pub fn max_wait(&self) -> Duration {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Resumed { waited, .. } => Some(*waited),
                _ => None,
            })
            .max()
            .unwrap_or_default()
    }

    /// Whether each producer's items arrived in the order it sent them, with no gap.
    pub fn in_order(&self) -> bool {
        let mut next = vec![0; self.config.producers];
        self.consumed.iter().all(|item| {
            let ok = next.get(item.producer) == Some(&item.seq);
            if ok {
                next[item.producer] += 1;
            }
            ok
        })
    }
}

/// How long anything in a run may wait before the run is declared stuck.
const STUCK: Duration = Duration::from_secs(10);

// ANCHOR: producer
/// One producer: makes its items, sends each, and notices when `send` has to wait.
fn produce(id: usize, items: usize, tx: Sender<Item>, log: Sender<Event>, start: Instant) -> usize {
    for seq in 0..items {
        let item = Item { producer: id, seq };
        // `try_send` first, only to *see* the backpressure; `send` alone would block just
        // the same, silently.
        let item = match tx.try_send(item) {
            Ok(()) => continue,
            Err(TrySendError::Disconnected(_)) => {
                let _ = log.send(Event::Abandoned {
                    at: start.elapsed(),
                    producer: id,
                    sent: seq,
                });
                return seq;
            }
            Err(TrySendError::Full(item)) => item,
        };
        let _ = log.send(Event::Full {
            at: start.elapsed(),
            producer: id,
            seq,
            queued: tx.len(),
        });
        let blocked_at = Instant::now();
        // Blocks until the consumer makes room (bounded, so a stuck run fails instead of
        // hanging a test).
        match tx.send_timeout(item, STUCK) {
            Ok(()) => {
                let _ = log.send(Event::Resumed {
                    at: start.elapsed(),
                    producer: id,
                    seq,
                    waited: blocked_at.elapsed(),
                });
            }
            Err(SendTimeoutError::Disconnected(_)) | Err(SendTimeoutError::Timeout(_)) => {
                let _ = log.send(Event::Abandoned {
                    at: start.elapsed(),
                    producer: id,
                    sent: seq,
                });
                return seq;
            }
        }
    }
    let _ = log.send(Event::Finished {
        at: start.elapsed(),
        producer: id,
    });
    items
    // `tx` is dropped here: the last producer to finish disconnects the channel.
}
// ANCHOR_END: producer

// ANCHOR: run
/// Runs the producers on their own threads and the consumer on this one.
pub fn run(config: &Config) -> Result<Report, String> {
    if config.producers == 0 {
        return Err("at least one producer is needed".into());
    }
    let start = Instant::now();
    let (tx, rx) = bounded::<Item>(config.capacity);
    let (log, events) = unbounded::<Event>();

    let mut producers = Vec::with_capacity(config.producers);
    for id in 0..config.producers {
        let (tx, log, items) = (tx.clone(), log.clone(), config.items);
        let spawned = thread::Builder::new()
            .name(format!("producer-{id}"))
            .spawn(move || produce(id, items, tx, log, start));
        match spawned {
            Ok(handle) => producers.push(handle),
            Err(e) => return Err(format!("cannot start producer {id}: {e}")),
        }
    }
    // Our own copy must go too, or the channel never disconnects and `recv` waits for ever:
    // the classic way to make this model hang.
    drop(tx);

    let mut early_events = Vec::new();
    if config.late_consumer {
        early_events = wait_until_full(&events, config.producers)?;
    }
    let mut consumed = Vec::new();
    let mut max_queued = 0;
    loop {
        if config.consume_at_most.is_some_and(|n| consumed.len() >= n) {
            break; // dropping `rx` below tells every producer
        }
        max_queued = max_queued.max(rx.len());
        match rx.recv_timeout(STUCK) {
            Ok(item) => {
                consumed.push(item);
                thread::sleep(config.work); // the consumer's work on the item
            }
            // Every Sender is gone and the channel is empty: production is over.
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                let _ = log.send(Event::Disconnected {
                    at: start.elapsed(),
                    consumed: consumed.len(),
                });
                break;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                return Err(format!("no item for {STUCK:?}: the run is stuck"));
            }
        }
    }
    drop(rx);
    let mut produced = 0;
    for handle in producers {
        produced += handle
            .join()
            .map_err(|_| "a producer panicked".to_string())?;
    }
    drop(log);
    Ok(Report {
        config: config.clone(),
        produced,
        consumed,
        max_queued,
        events: early_events.into_iter().chain(events.iter()).collect(),
        elapsed: start.elapsed(),
    })
}
// ANCHOR_END: run

/// For a late consumer: reads the event log until some producer reports the channel full,
/// or every producer is done without ever filling it. Returns the events it read, which
/// come before anything still in the log.
fn wait_until_full(events: &Receiver<Event>, producers: usize) -> Result<Vec<Event>, String> {
    let deadline = Instant::now() + STUCK;
    let mut seen = Vec::new();
    let mut done = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events
            .recv_timeout(left)
            .map_err(|_| format!("no producer filled the channel in {STUCK:?}"))?;
        let full = matches!(event, Event::Full { .. });
        done += usize::from(matches!(
            event,
            Event::Finished { .. } | Event::Abandoned { .. }
        ));
        seen.push(event);
        if full || done == producers {
            return Ok(seen);
        }
    }
}
