//! The client: the notes' `>>: ` loop, or section 一's homework client (1000 threads each
//! running `client()`) as one task per connection, all on this one thread.
//!
//! Load mode reads like `blocking-io`'s load client with `.await` added: write the message,
//! read the reply by its length, check it byte for byte. Each round trip as a whole is
//! bounded by `--timeout` with our own [`timeout`](crate::timer::timeout).

use crate::executor::{block_on, joinall, spawn};
use crate::net::TcpStream;
use crate::timer::timeout;
use protocol::cli::{ClientMode, ClientOpts, LoadPlan};
use protocol::load::{reply_matches, Messages, Tally};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::Instant;

pub fn run(opts: &ClientOpts) -> crate::Result<()> {
    match opts.mode()? {
        // A person types on stdin, which is no socket of ours: a plain blocking client, with
        // no runtime at all (reading stdin inside a task would stop every other task).
        ClientMode::Interactive => Ok(protocol::interactive::connect(opts.addr)?),
        ClientMode::Load(plan) => {
            raise_fd_limit();
            load(opts.addr, &plan)
        }
    }
}

// ANCHOR: load
fn load(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let start = Instant::now();
    let total = block_on(async {
        let handles: Vec<_> = (0..plan.conns)
            .map(|conn| spawn(one_connection(addr, plan.clone(), conn as u64, start)))
            .collect();
        let mut total = Tally::new();
        for result in joinall(handles).await {
            match result {
                Ok(tally) => total.merge(&tally),
                Err(err) => {
                    eprintln!("{err}");
                    total.errors += 1;
                }
            }
        }
        total
    });
    total.summary(plan.conns, start.elapsed()).report(plan.json)
}
// ANCHOR_END: load

async fn one_connection(addr: SocketAddr, plan: LoadPlan, conn: u64, start: Instant) -> Tally {
    let mut tally = Tally::new();
    let mut stream = match timeout(plan.timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) | Err(err) => {
            eprintln!("conn {conn}: connect: {err}");
            tally.errors += 1;
            return tally;
        }
    };
    tally.established = 1;
    if let Err(err) = stream.set_nodelay(true) {
        eprintln!("conn {conn}: TCP_NODELAY: {err}");
    }
    let mut messages = Messages::new(plan.seed, conn);
    let (mut message, mut reply) = (vec![0; plan.size], vec![0; plan.size]);
    while !plan.finished(tally.rounds, start.elapsed()) {
        messages.fill(&mut message);
        let sent_at = Instant::now();
        let round = async {
            stream.write_all(&message).await?;
            read_exact(&mut stream, &mut reply).await
        };
        if let Err(err) = timeout(plan.timeout, round).await.and_then(|r| r) {
            eprintln!("conn {conn}: round {}: {err}", tally.rounds + 1);
            tally.errors += 1;
            break;
        }
        tally.record(
            sent_at.elapsed(),
            message.len(),
            reply_matches(&message, &reply),
        );
    }
    tally
}

/// Reads exactly `buf.len()` bytes: a reply is read by its length, however TCP split it.
pub async fn read_exact(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]).await? {
            0 => {
                let why = format!("the server closed after {got} of {} bytes", buf.len());
                return Err(io::Error::new(ErrorKind::UnexpectedEof, why));
            }
            n => got += n,
        }
    }
    Ok(())
}

/// Raises the soft descriptor limit to the hard one, so `--conns 10000` works where the
/// soft limit is 1024. If it cannot, the connections past the limit fail and are counted.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a pointer to a live one; `setrlimit`
    // only reads the one it is given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
