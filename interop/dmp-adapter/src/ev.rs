//! The event type every disruptor-mp ring of ours carries.

/// One event of `8 * W` bytes. Plain old data: `#[repr(C)]` over `u64`s, no padding, every bit
/// pattern valid, which is what a slot shared with another process (or another implementation)
/// must be.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Ev<const W: usize>(pub [u64; W]);

impl<const W: usize> Default for Ev<W> {
    fn default() -> Self {
        Ev([0; W])
    }
}

impl<const W: usize> Ev<W> {
    #[inline(always)]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `Ev` is `repr(C)` over `[u64; W]`: 8 * W initialised bytes, no padding.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), 8 * W) }
    }

    #[inline(always)]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; any byte pattern is a valid `[u64; W]`.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), 8 * W) }
    }
}
