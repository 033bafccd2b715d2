//! Keeping stdout for our own lines while disruptor-mp prints.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};

/// Quirk: disruptor-mp prints progress text to stdout ("Framework coordinating startup...",
/// "Discovery completed..."), even from the producer's gating path. While this lives, file
/// descriptor 1 points at stderr and [`StdoutToStderr::original`] is a duplicate of the
/// original stdout, for the program's own (JSON) lines; dropping it points fd 1 back.
pub struct StdoutToStderr(Option<File>);

impl StdoutToStderr {
    pub fn new() -> Self {
        // SAFETY: plain descriptor calls; the duplicate is owned by the `File`.
        unsafe {
            let saved = libc::dup(1);
            if saved >= 0 && libc::dup2(2, 1) >= 0 {
                return StdoutToStderr(Some(File::from_raw_fd(saved)));
            }
            if saved >= 0 {
                libc::close(saved);
            }
        }
        StdoutToStderr(None)
    }

    /// The original stdout: the duplicate, or (when the redirect failed and fd 1 is still
    /// stdout) a duplicate of fd 1.
    pub fn original(&self) -> std::io::Result<File> {
        match &self.0 {
            Some(f) => f.try_clone(),
            // SAFETY: dup of fd 1; the new descriptor is owned by the `File`.
            None => match unsafe { libc::dup(1) } {
                fd if fd >= 0 => Ok(unsafe { File::from_raw_fd(fd) }),
                _ => Err(std::io::Error::last_os_error()),
            },
        }
    }
}

impl Default for StdoutToStderr {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            // SAFETY: restores fd 1 from our duplicate.
            unsafe { libc::dup2(f.as_raw_fd(), 1) };
        }
    }
}
