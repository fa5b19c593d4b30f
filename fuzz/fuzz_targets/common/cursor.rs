//! A cursor over the fuzz input: the targets that read it byte by byte (action bytes, lengths,
//! data) share it; past the end it yields nothing.

pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// The next byte, if any.
    pub fn byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.pos).copied();
        self.pos += usize::from(b.is_some());
        b
    }

    /// Up to `n` next bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let end = self.pos.saturating_add(n).min(self.bytes.len());
        let out = self.bytes[self.pos..end].to_vec();
        self.pos = end;
        out
    }
}
