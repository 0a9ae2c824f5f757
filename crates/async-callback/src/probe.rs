//! Is io_uring usable here, and if not, what then?
//!
//! io_uring is new (Linux 5.1, 2019; its socket operations came later: SENDMSG and RECVMSG
//! in 5.3, ACCEPT and CONNECT in 5.5, SEND and RECV in 5.6, which is what we need), and it
//! is often switched off: container runtimes' default seccomp profiles block its three system
//! calls, and the `kernel.io_uring_disabled` sysctl (Linux 6.6) can forbid it for everyone
//! (2) or for all but one group (1). So we *probe* rather than assume, as io-uring's own
//! examples advise: create a small ring, ask the kernel which operations it supports, and
//! say plainly which piece is missing.

use crate::Backend;
use io_uring::{opcode, IoUring, Probe};
use std::fmt;

/// Why io_uring cannot be used, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

/// Every operation the server and the load client submit, with its name for the message.
const NEEDED: &[(u8, &str)] = &[
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Timeout::CODE, "TIMEOUT"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
];

/// Where Linux says whether io_uring is allowed (absent before 6.6: then it is allowed).
const DISABLED_SYSCTL: &str = "/proc/sys/kernel/io_uring_disabled";

// ANCHOR: check
/// Checks that this process may create a ring and that the kernel has every operation we use.
pub fn check() -> Result<(), Unavailable> {
    let disabled = std::fs::read_to_string(DISABLED_SYSCTL)
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok());
    let ring = IoUring::new(8).map_err(|err| explain_setup_error(&err, disabled))?;
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|err| {
        Unavailable(format!(
            "the kernel cannot list its io_uring operations ({err}); Linux 5.6 or later is needed"
        ))
    })?;
    if let Some((_, name)) = NEEDED.iter().find(|(code, _)| !probe.is_supported(*code)) {
        return Err(Unavailable(format!(
            "this kernel's io_uring lacks IORING_OP_{name}; Linux 5.6 or later is needed"
        )));
    }
    if !ring.params().is_feature_nodrop() {
        // Without NODROP a burst of completions beyond the queue's size would be lost.
        return Err(Unavailable(
            "this kernel's io_uring may drop completions (no IORING_FEAT_NODROP); Linux 5.5 or later is needed".into(),
        ));
    }
    Ok(())
}
// ANCHOR_END: check

/// Whether the running kernel is at least `major.minor`, for features the probe cannot ask
/// about (flags of an operation, rather than the operation itself).
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: `uname` fills the zeroed struct it is given and touches nothing else.
    let release = unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) != 0 {
            return false;
        }
        std::ffi::CStr::from_ptr(name.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    parse_release(&release) >= Some((major, minor))
}

/// `6.18.44-fc-v657` -> `(6, 18)`.
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>());
    Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
}

/// Turns `io_uring_setup`'s error into the likely reason.
fn explain_setup_error(err: &std::io::Error, disabled: Option<u8>) -> Unavailable {
    let why = match (err.raw_os_error(), disabled) {
        (Some(libc::EPERM), Some(2)) => {
            "kernel.io_uring_disabled is 2: io_uring is switched off for every process".to_string()
        }
        (Some(libc::EPERM), Some(1)) => "kernel.io_uring_disabled is 1: only members of \
             kernel.io_uring_group may use io_uring"
            .to_string(),
        (Some(libc::EPERM), _) => "not permitted: most likely a seccomp profile (a container's \
             default one) blocks io_uring_setup"
            .to_string(),
        (Some(libc::ENOSYS), _) => "the kernel has no io_uring (older than 5.1, built without \
             it, or a seccomp profile hides it)"
            .to_string(),
        _ => "the ring could not be created".to_string(),
    };
    Unavailable(format!("{why} (io_uring_setup: {err})"))
}

/// Set (to anything) in the environment, it makes [`check_multishot`] say no, so the
/// fallback to `--backend uring` can be seen (and tested) on a kernel that has everything.
pub const DENY_MULTISHOT_ENV: &str = "ASYNC_CALLBACK_DENY_MULTISHOT";

// ANCHOR: check_multishot
/// Checks what `--backend uring-multishot` needs beyond plain io_uring: multishot accept
/// (`IORING_ACCEPT_MULTISHOT`, Linux 5.19), provided buffer rings
/// (`IORING_REGISTER_PBUF_RING`, 5.19) and multishot receive (`IORING_RECV_MULTISHOT`, 6.0).
///
/// Multishot is a flag on the ACCEPT and RECV operations the probe already lists, and the
/// kernel ignores flags it does not know on some versions, so the probe cannot answer for
/// them: the kernel's version does. A buffer ring is a registration, so we try one.
pub fn check_multishot() -> Result<(), Unavailable> {
    if std::env::var_os(DENY_MULTISHOT_ENV).is_some() {
        return Err(Unavailable(format!(
            "{DENY_MULTISHOT_ENV} is set, so the probe answers as an older kernel would"
        )));
    }
    if !kernel_at_least(5, 19) {
        return Err(Unavailable(
            "multishot accept and provided buffer rings need Linux 5.19, multishot receive 6.0"
                .into(),
        ));
    }
    if !kernel_at_least(6, 0) {
        return Err(Unavailable("multishot receive needs Linux 6.0".into()));
    }
    let ring = IoUring::new(2).map_err(|err| explain_setup_error(&err, None))?;
    let bufs = crate::buf_ring::BufRing::new(1, 64)
        .map_err(|err| Unavailable(format!("no memory for a buffer ring: {err}")))?;
    // SAFETY: `bufs` outlives the registration: the ring is dropped before it (explicitly,
    // below), and no request ever uses the group.
    let registered = unsafe { bufs.register(&ring.submitter(), 0) };
    // Closing the ring unregisters the group; only then may the buffers go. No request was
    // ever submitted, so the kernel holds no pointer into them once the ring is gone.
    drop(ring);
    drop(bufs);
    registered.map_err(|err| {
        Unavailable(format!(
            "the kernel refused a provided buffer ring (IORING_REGISTER_PBUF_RING: {err}); \
             Linux 5.19 or later is needed"
        ))
    })
}
// ANCHOR_END: check_multishot

// ANCHOR: choose
/// Which backend to run: `requested`, or with no `--backend`, io_uring when `check` passes
/// and the pool otherwise, saying why on stderr in one line. `--backend uring-multishot`
/// needs `check` too, and falls back to `--backend uring` (one line) without multishot.
pub fn choose(
    requested: Option<Backend>,
    check: impl FnOnce() -> Result<(), Unavailable>,
) -> crate::Result<Backend> {
    choose_with(requested, check, check_multishot)
}

/// [`choose`], with the multishot check given (for tests).
pub fn choose_with(
    requested: Option<Backend>,
    check: impl FnOnce() -> Result<(), Unavailable>,
    check_multishot: impl FnOnce() -> Result<(), Unavailable>,
) -> crate::Result<Backend> {
    match requested {
        Some(Backend::Pool) => Ok(Backend::Pool),
        Some(Backend::UringMultishot) => match check() {
            Err(why) => {
                Err(format!("--backend uring-multishot: io_uring is unavailable: {why}").into())
            }
            Ok(()) => match check_multishot() {
                Ok(()) => Ok(Backend::UringMultishot),
                Err(why) => {
                    protocol::log!(
                        "io_uring multishot is unavailable: {why}; falling back to --backend uring"
                    );
                    Ok(Backend::Uring)
                }
            },
        },
        Some(Backend::Uring) => match check() {
            Ok(()) => Ok(Backend::Uring),
            Err(why) => Err(format!("--backend uring: io_uring is unavailable: {why}").into()),
        },
        None => match check() {
            Ok(()) => Ok(Backend::Uring),
            Err(why) => {
                protocol::log!("io_uring is unavailable: {why}; falling back to --backend pool");
                Ok(Backend::Pool)
            }
        },
    }
}
// ANCHOR_END: choose

#[cfg(test)]
mod tests {
    use super::*;

    fn missing() -> Result<(), Unavailable> {
        Err(Unavailable("no ring here".into()))
    }

    #[test]
    fn the_default_falls_back_and_an_explicit_uring_refuses() {
        assert_eq!(choose(None, || Ok(())).unwrap(), Backend::Uring);
        assert_eq!(choose(None, missing).unwrap(), Backend::Pool);
        let err = choose(Some(Backend::Uring), missing).unwrap_err();
        assert!(err.to_string().contains("no ring here"), "{err}");
        assert_eq!(
            choose(Some(Backend::Uring), || Ok(())).unwrap(),
            Backend::Uring
        );
        // Asking for the pool never probes.
        let never = || -> Result<(), Unavailable> { panic!("probed for the pool backend") };
        assert_eq!(choose(Some(Backend::Pool), never).unwrap(), Backend::Pool);
    }

    #[test]
    fn multishot_falls_back_to_plain_uring_and_needs_io_uring_itself() {
        let yes = || Ok(());
        let multishot = Some(Backend::UringMultishot);
        assert_eq!(
            choose_with(multishot, yes, yes).unwrap(),
            Backend::UringMultishot
        );
        assert_eq!(
            choose_with(multishot, yes, missing).unwrap(),
            Backend::Uring
        );
        let err = choose_with(multishot, missing, yes).unwrap_err();
        assert!(err.to_string().contains("no ring here"), "{err}");
        // Plain uring never asks about multishot.
        let never = || -> Result<(), Unavailable> { panic!("probed multishot for uring") };
        assert_eq!(
            choose_with(Some(Backend::Uring), yes, never).unwrap(),
            Backend::Uring
        );
    }

    #[test]
    fn a_kernel_from_6_0_with_io_uring_passes_the_multishot_probe() {
        // The probe really registers a buffer ring: if that were wrong (say, memory that is
        // not page-aligned), a new kernel would be told it lacks multishot.
        if check().is_err() || !kernel_at_least(6, 0) {
            println!("skipped: no io_uring, or a kernel older than 6.0");
            return;
        }
        if std::env::var_os(DENY_MULTISHOT_ENV).is_some() {
            assert!(check_multishot().is_err());
            return;
        }
        check_multishot().unwrap();
    }

    #[test]
    fn kernel_releases_parse() {
        assert_eq!(parse_release("6.18.44-fc-v657"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0-150-generic"), Some((5, 4)));
        assert_eq!(parse_release("garbage"), None);
        assert!(Some((5, 4)) < Some((5, 19)) && Some((6, 1)) > Some((5, 19)));
        // Whatever this machine runs, it is newer than the first Linux.
        assert!(kernel_at_least(1, 0));
    }

    #[test]
    fn setup_errors_are_explained() {
        let eperm = std::io::Error::from_raw_os_error(libc::EPERM);
        assert!(explain_setup_error(&eperm, Some(2))
            .0
            .contains("io_uring_disabled is 2"));
        assert!(explain_setup_error(&eperm, Some(1))
            .0
            .contains("io_uring_group"));
        assert!(explain_setup_error(&eperm, Some(0)).0.contains("seccomp"));
        let enosys = std::io::Error::from_raw_os_error(libc::ENOSYS);
        assert!(explain_setup_error(&enosys, None).0.contains("no io_uring"));
    }
}
