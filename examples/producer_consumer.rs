//! The producer-consumer model (生产者消费者模型) over a bounded channel: section 七,
//! 并发编程 2.7.
//!
//! ```text
//! cargo run --example producer_consumer
//! cargo run --example producer_consumer -- --producers 3 --items 20 --capacity 2 --work-ms 5
//! cargo run --example producer_consumer -- --stop-after 5    # the consumer leaves early
//! ```
//!
//! What to watch: `channel full, waiting` lines (backpressure: the slow consumer sets the
//! pace), a queue that never holds more than `--capacity`, and a run that ends by itself when
//! the producers finish. The logic lives in `examples/src/producer_consumer.rs`.

use clap::Parser;
use examples::producer_consumer::{run, Config, Event};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Producers and a consumer over a bounded channel: backpressure, clean shutdown")]
struct Cli {
    #[arg(long, default_value_t = 2)]
    producers: usize,
    /// Items per producer.
    #[arg(long, default_value_t = 10)]
    items: usize,
    /// Items the channel holds before a producer blocks.
    #[arg(long, default_value_t = 4)]
    capacity: usize,
    /// Milliseconds the consumer spends per item.
    #[arg(long, default_value_t = 2)]
    work_ms: u64,
    /// The consumer stops after this many items (the producers must notice).
    #[arg(long)]
    stop_after: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = Config {
        producers: cli.producers,
        items: cli.items,
        capacity: cli.capacity,
        work: Duration::from_millis(cli.work_ms),
        late_consumer: false,
        consume_at_most: cli.stop_after,
    };
    protocol::exit_code("producer_consumer", demo(&config))
}

fn demo(config: &Config) -> protocol::Result<()> {
    println!(
        "{} producers x {} items -> channel of {} -> 1 consumer ({} ms per item)",
        config.producers,
        config.items,
        config.capacity,
        config.work.as_millis()
    );
    let report = run(config)?;
    for event in &report.events {
        println!("{}", describe(event, config.capacity));
    }
    println!(
        "\n=> measured: {} of {} sends found the channel full; the longest wait was {:.1} ms; \
         the queue never held more than {} (capacity {}); {} produced, {} consumed, \
         in order: {}, elapsed {:.1} ms",
        report.blocked_sends(),
        report.produced,
        report.max_wait().as_secs_f64() * 1e3,
        report.max_queued,
        config.capacity,
        report.produced,
        report.consumed.len(),
        if report.in_order() { "yes" } else { "NO" },
        report.elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}

fn describe(event: &Event, capacity: usize) -> String {
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    match event {
        Event::Full {
            at,
            producer,
            seq,
            queued,
        } => format!(
            "t={:7.2} ms  producer {producer}: item {seq}: channel full ({queued}/{capacity}), waiting",
            ms(at)
        ),
        Event::Resumed {
            at,
            producer,
            seq,
            waited,
        } => format!(
            "t={:7.2} ms  producer {producer}: item {seq} sent after waiting {:.2} ms",
            ms(at),
            ms(waited)
        ),
        Event::Finished { at, producer } => format!(
            "t={:7.2} ms  producer {producer}: done, drops its Sender",
            ms(at)
        ),
        Event::Abandoned { at, producer, sent } => format!(
            "t={:7.2} ms  producer {producer}: consumer gone, stops after {sent} items",
            ms(at)
        ),
        Event::Disconnected { at, consumed } => format!(
            "t={:7.2} ms  consumer: every Sender dropped, channel empty: stops after {consumed} items",
            ms(at)
        ),
    }
}
