//! The client: the notes' `>>: ` loop, or a load client on the same completion model.
//!
//! Interactive mode is the same in every crate (one person, one socket, nothing to overlap).
//! Load mode drives every connection from one thread on io_uring ([`crate::uring_client`]);
//! where io_uring is unavailable it falls back, as the server does, to the notes' pool with
//! a callback per connection ([`crate::pool_client`]).

use crate::Backend;
use protocol::cli::{ClientMode, ClientOpts};

pub fn run(opts: &ClientOpts, backend: Option<Backend>) -> crate::Result<()> {
    match opts.mode()? {
        ClientMode::Interactive => Ok(protocol::interactive::connect(opts.addr)?),
        ClientMode::Load(plan) => match crate::probe::choose(backend, crate::probe::check)? {
            // Multishot is the server's business: the load client's one receive per
            // connection is always in flight with its own buffer, so plain io_uring it is.
            Backend::Uring | Backend::UringMultishot => crate::uring_client::run(opts.addr, &plan),
            Backend::Pool => crate::pool_client::run(opts.addr, &plan),
        },
    }
}
