//! Thread ids: in [1, 2^29), unique among live threads.

use std::collections::HashSet;

/// One past the largest thread id.
pub const MAX_TID: u32 = 1 << 29;

#[derive(Default)]
pub struct Tids {
    next: u32,
    live: HashSet<u32>,
}

impl Tids {
    /// How many ids are live.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// A free id, the lowest after the last one handed out, wrapping.
    pub fn alloc(&mut self) -> Option<u32> {
        if self.live.len() as u32 >= MAX_TID - 1 {
            return None;
        }
        loop {
            self.next = if self.next + 1 >= MAX_TID {
                1
            } else {
                self.next + 1
            };
            if self.live.insert(self.next) {
                return Some(self.next);
            }
        }
    }

    pub fn free(&mut self, tid: u32) {
        self.live.remove(&tid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_are_unique_and_wrap() {
        let mut t = Tids::default();
        assert_eq!(t.alloc(), Some(1));
        assert_eq!(t.alloc(), Some(2));
        t.free(1);
        t.next = MAX_TID - 2;
        assert_eq!(t.alloc(), Some(MAX_TID - 1));
        // Wraps past 2^29 - 1 to 1 (free again), skipping the live 2.
        assert_eq!(t.alloc(), Some(1));
        assert_eq!(t.alloc(), Some(3));
    }
}
