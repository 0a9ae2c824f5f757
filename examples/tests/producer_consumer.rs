//! Section 七, the producer-consumer model: every item arrives once and in order, a full
//! channel blocks the producer, and the run ends by itself whichever side finishes first.

use examples::producer_consumer::{run, Config, Event};
use std::time::Duration;

fn config(producers: usize, items: usize, capacity: usize) -> Config {
    Config {
        producers,
        items,
        capacity,
        work: Duration::ZERO,
        late_consumer: false,
        consume_at_most: None,
    }
}

#[test]
fn every_item_arrives_once_in_order_and_the_run_ends_when_the_producers_finish() {
    let report = run(&config(3, 50, 4)).unwrap();
    assert_eq!(report.produced, 150);
    assert_eq!(report.consumed.len(), 150);
    assert!(report.in_order());
    assert!(report.max_queued <= 4, "{}", report.max_queued);
    let finished = report
        .events
        .iter()
        .filter(|e| matches!(e, Event::Finished { .. }))
        .count();
    assert_eq!(finished, 3);
    // The consumer's loop ended because the channel disconnected, after the last item.
    assert!(matches!(
        report.events.last(),
        Some(Event::Disconnected { consumed: 150, .. })
    ));
}

#[test]
fn a_full_channel_blocks_the_producer_until_the_consumer_makes_room() {
    let report = run(&Config {
        late_consumer: true,
        ..config(2, 20, 4)
    })
    .unwrap();
    // The first producer to block found exactly `capacity` items waiting: not one more.
    match report
        .events
        .iter()
        .find(|e| matches!(e, Event::Full { .. }))
    {
        Some(Event::Full { queued, .. }) => assert_eq!(*queued, 4),
        other => panic!("no producer ever blocked: {other:?}"),
    }
    // Every blocked send went through later, once the consumer took something.
    for event in &report.events {
        if let Event::Full { producer, seq, .. } = event {
            let resumed = report.events.iter().any(|e| {
                matches!(e, Event::Resumed { producer: p, seq: s, .. } if p == producer && s == seq)
            });
            assert!(resumed, "producer {producer} item {seq} never went through");
        }
    }
    assert!(report.max_queued <= 4);
    assert_eq!(report.consumed.len(), 40);
    assert!(report.in_order());
}

#[test]
fn a_rendezvous_channel_holds_nothing() {
    let report = run(&Config {
        late_consumer: true,
        ..config(2, 10, 0)
    })
    .unwrap();
    assert_eq!(report.max_queued, 0);
    assert!(report.blocked_sends() >= 1);
    assert_eq!(report.consumed.len(), 20);
    assert!(report.in_order());
}

#[test]
fn a_consumer_that_leaves_early_stops_every_producer() {
    let report = run(&Config {
        consume_at_most: Some(5),
        ..config(2, 100, 4)
    })
    .unwrap();
    assert_eq!(report.consumed.len(), 5);
    // Both producers noticed the consumer was gone and stopped; neither sent everything.
    let abandoned = report
        .events
        .iter()
        .filter(|e| matches!(e, Event::Abandoned { .. }))
        .count();
    assert_eq!(abandoned, 2);
    assert!(report.produced < 200);
    assert!(
        report.produced <= 5 + 4,
        "only what was taken or queued went in"
    );
}

#[test]
fn no_producer_is_refused() {
    assert!(run(&config(0, 10, 4)).is_err());
}
