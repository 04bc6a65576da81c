//! A descriptor table: numbers to open resources, shared by every thread.
//!
//! An entry is cloned out of the table (entries are cheap handles, `Arc`s)
//! and the table's lock is released before any I/O, so a call that blocks
//! on one descriptor never stalls calls on others, and a descriptor closed
//! (or renumbered over) by one thread stays valid for a call another thread
//! already started on it, as on POSIX; the next call on that number fails.
//! What a close removes is dropped (and so closed in the system) after the
//! lock is released.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Why a table operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// No entry has that number.
    NotOpen,
    /// The table holds its maximum number of entries.
    Full,
}

/// Numbered entries, the lowest free number first.
pub struct Table<E> {
    entries: Mutex<BTreeMap<u32, E>>,
    max: usize,
}

impl<E: Clone> Table<E> {
    /// An empty table of at most `max` entries.
    pub fn new(max: usize) -> Table<E> {
        Table {
            entries: Mutex::new(BTreeMap::new()),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, E>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `entry` under `fd`, for the entries a run starts with.
    pub fn set(&self, fd: u32, entry: E) {
        self.lock().insert(fd, entry);
    }

    pub fn get(&self, fd: u32) -> Result<E, TableError> {
        self.lock().get(&fd).cloned().ok_or(TableError::NotOpen)
    }

    /// How many entries are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Adds an entry under the lowest free number.
    pub fn insert(&self, entry: E) -> Result<u32, TableError> {
        let mut entries = self.lock();
        if entries.len() >= self.max {
            return Err(TableError::Full);
        }
        let mut fd = 0;
        for used in entries.keys() {
            if *used != fd {
                break;
            }
            fd += 1;
        }
        entries.insert(fd, entry);
        Ok(fd)
    }

    /// Changes the entry under `fd` in place.
    pub fn update<R>(&self, fd: u32, f: impl FnOnce(&mut E) -> R) -> Result<R, TableError> {
        match self.lock().get_mut(&fd) {
            Some(entry) => Ok(f(entry)),
            None => Err(TableError::NotOpen),
        }
    }

    /// Removes `fd`; what it named is dropped after the lock is released.
    pub fn close(&self, fd: u32) -> Result<(), TableError> {
        let removed = self.lock().remove(&fd);
        match removed {
            Some(entry) => {
                drop(entry);
                Ok(())
            }
            None => Err(TableError::NotOpen),
        }
    }

    /// Closes every entry, when the run is over: connections and listeners
    /// close even while a thread the run could not stop holds the table.
    pub fn close_all(&self) {
        let entries = std::mem::take(&mut *self.lock());
        drop(entries);
    }

    /// `to` now names what `from` named; `from` is closed. Both must be
    /// open.
    pub fn renumber(&self, from: u32, to: u32) -> Result<(), TableError> {
        let replaced = {
            let mut entries = self.lock();
            if !entries.contains_key(&to) {
                return Err(TableError::NotOpen);
            }
            let entry = entries.remove(&from).ok_or(TableError::NotOpen)?;
            entries.insert(to, entry)
        };
        drop(replaced);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, OnceLock};

    /// An entry whose drop (where the system's close(2) happens for a real
    /// descriptor) records whether the table's lock was free.
    #[derive(Clone)]
    struct Probe {
        table: Arc<OnceLock<Arc<Table<Probe>>>>,
        lock_was_free: Arc<Mutex<Vec<bool>>>,
        _last: Arc<()>,
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            // Only the last clone stands for the descriptor itself.
            if Arc::strong_count(&self._last) == 1 {
                let free = self.table.get().unwrap().entries.try_lock().is_ok();
                self.lock_was_free.lock().unwrap().push(free);
            }
        }
    }

    #[test]
    fn what_close_renumber_and_close_all_remove_is_dropped_outside_the_lock() {
        let table = Arc::new(Table::new(8));
        let cell = Arc::new(OnceLock::new());
        let _ = cell.set(table.clone());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let probe = || Probe {
            table: cell.clone(),
            lock_was_free: seen.clone(),
            _last: Arc::new(()),
        };
        let a = table.insert(probe()).unwrap();
        let b = table.insert(probe()).unwrap();
        let c = table.insert(probe()).unwrap();
        table.close(a).unwrap();
        table.renumber(b, c).unwrap();
        table.close_all();
        assert_eq!(*seen.lock().unwrap(), [true, true, true]);
    }

    #[test]
    fn lowest_free_number_limit_close_renumber() {
        let t: Table<&str> = Table::new(3);
        assert_eq!(t.insert("a"), Ok(0));
        assert_eq!(t.insert("b"), Ok(1));
        assert_eq!(t.insert("c"), Ok(2));
        assert_eq!(t.insert("d"), Err(TableError::Full));
        assert_eq!(t.close(1), Ok(()));
        assert_eq!(t.close(1), Err(TableError::NotOpen));
        assert_eq!(t.insert("e"), Ok(1));
        assert_eq!(t.renumber(0, 2), Ok(()));
        assert_eq!(t.get(2), Ok("a"));
        assert_eq!(t.get(0), Err(TableError::NotOpen));
        assert_eq!(t.renumber(1, 0), Err(TableError::NotOpen));
        t.close_all();
        assert_eq!(t.len(), 0);
    }
}
