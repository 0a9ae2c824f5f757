//! The workspace examples (`cargo run --example NAME` from the root): what each one does lives
//! in a module here, and `examples/NAME.rs` is a thin `main` over it, so the tests in
//! `examples/tests/` can run the very same code over loopback, in-process.
//!
//! Section 七 of the notes (重点知识归纳, the summary) names topics the five model crates do
//! not show; each gets one small program:
//!
//! | example             | module                | the notes' topic                              |
//! |---------------------|-----------------------|-----------------------------------------------|
//! | `sticky_packets`    | [`sticky_packets`]    | 粘包 sticky packets, 自定义报头 custom header    |
//! | `udp_echo`          | [`udp_echo`]          | 基于udp协议的套接字 sockets over UDP             |
//! | `sigio_udp`         | `sigio_udp` (Linux)   | signal-driven I/O, the model the notes skip   |
//! | `producer_consumer` | [`producer_consumer`] | 生产者消费者模型 the producer-consumer model      |
//! | `cpu_switching`     | [`cpu_switching`]     | 单纯地切换 switching with no I/O is slower      |

pub mod cpu_switching;
pub mod producer_consumer;
#[cfg(target_os = "linux")]
pub mod sigio_udp;
pub mod sticky_packets;
pub mod udp_echo;

use std::mem::MaybeUninit;

/// Lends an initialised buffer to socket2's receive calls, which take `MaybeUninit` bytes so
/// that callers may pass uninitialised memory.
fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`. The danger of this cast is that the
    // callee could write uninitialised bytes into memory we later read as `u8`; socket2
    // documents that its `recv*` functions only pass the buffer to the kernel, which writes
    // real bytes, and never write uninitialised ones.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}
