//! The process's descriptor limit (`RLIMIT_NOFILE`): one descriptor per connection is the
//! only per-client resource a multiplexing server holds in the kernel's eyes.
//!
//! The server's `--max-fds N` lowers it, so anyone can watch what happens when descriptors
//! run out (see [`crate::accept`]) without `ulimit` or `prlimit`. The load client raises its
//! own soft limit toward the hard one, so `--conns 10000` works where the default soft limit
//! is 1024. Production servers are given their limit by their service manager
//! (`LimitNOFILE=` in systemd) rather than setting it themselves.

use std::io;

fn get() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a pointer to a live one.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

fn set(limit: libc::rlimit) -> io::Result<()> {
    // SAFETY: `setrlimit` only reads the `rlimit` it is given a pointer to.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the soft limit to `n` descriptors (the server's `--max-fds`). The hard limit is kept,
/// so `n` above it is refused with an error that says so.
pub fn set_max_fds(n: u64) -> crate::Result<()> {
    let current = get()?;
    if n > current.rlim_max {
        return Err(format!(
            "--max-fds {n} is above this process's hard limit of {} descriptors",
            current.rlim_max
        )
        .into());
    }
    set(libc::rlimit {
        rlim_cur: n,
        rlim_max: current.rlim_max,
    })?;
    Ok(())
}

/// Raises the soft limit to at least `n` if the hard limit allows (else as far as it does).
/// Returns the soft limit in force afterwards.
pub fn raise_to(n: u64) -> io::Result<u64> {
    let current = get()?;
    if current.rlim_cur >= n {
        return Ok(current.rlim_cur);
    }
    let wanted = n.min(current.rlim_max);
    set(libc::rlimit {
        rlim_cur: wanted,
        rlim_max: current.rlim_max,
    })?;
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_to_the_current_limit_changes_nothing() {
        let before = get().unwrap();
        assert_eq!(raise_to(before.rlim_cur).unwrap(), before.rlim_cur);
        assert_eq!(get().unwrap().rlim_cur, before.rlim_cur);
    }

    #[test]
    fn a_limit_above_the_hard_one_is_refused() {
        let hard = get().unwrap().rlim_max;
        if hard < libc::RLIM_INFINITY {
            let err = set_max_fds(hard + 1).unwrap_err().to_string();
            assert!(err.contains("hard limit"), "{err}");
        }
    }
}
