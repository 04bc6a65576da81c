//! Files and directories, reached only through preopened directories.
//!
//! Directories are cap-std `Dir`s: paths resolve beneath them only, so
//! `..`, absolute paths and symlinks cannot reach outside a preopen; such an
//! attempt fails with a `PermissionDenied` error that carries no OS code. A
//! read-only preopen (and everything opened through it) refuses writes with
//! `EPERM`. Errors are the system's (`io::Error`); the interface above
//! converts them once, at its edge.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use cap_fs_ext::{DirExt, FollowSymlinks, MetadataExt, OpenOptionsFollowExt, OpenOptionsSyncExt};
use cap_std::fs::{Dir, FileType, OpenOptions};

use super::wait::EndSignal;

pub(crate) use cap_fs_ext::SystemTimeSpec;

/// A directory to preopen: the host path, the name the guest sees it by,
/// and whether the guest may change anything beneath it.
#[derive(Clone, Debug)]
pub(crate) struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

impl Preopen {
    /// Opens the host directory.
    pub fn open(&self) -> io::Result<OpenDir> {
        let dir = Dir::open_ambient_dir(&self.host, cap_std::ambient_authority())?;
        Ok(OpenDir::new(dir, Some(self.guest.clone()), self.writable))
    }
}

/// An open file.
pub(crate) struct OpenFile {
    pub file: std::fs::File,
    /// A FIFO or a character device: read and written as a stream, with
    /// no position; the system descriptor is non-blocking and calls wait in
    /// the host's poll.
    pub stream: bool,
    /// The file position, shared by every thread using the descriptor.
    pub position: Mutex<u64>,
    /// `fdflags::append`, switched under the position lock.
    append: AtomicBool,
    /// `fdflags::nonblock`: recorded and reported; regular files are
    /// always ready, so it changes nothing, as on POSIX.
    nonblocking: AtomicBool,
    /// As opened; they cannot change.
    pub sync: SyncFlags,
}

impl OpenFile {
    pub fn is_append(&self) -> bool {
        self.append.load(Ordering::Relaxed)
    }

    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    pub fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    /// The position, locked: reads and writes through the descriptor from
    /// several threads each get their own range.
    pub fn position(&self) -> std::sync::MutexGuard<'_, u64> {
        self.position.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Switches the system's O_APPEND, so appending writes stay atomic
    /// whoever else writes.
    pub fn set_append(&self, on: bool) -> io::Result<()> {
        let _position = self.position();
        let flags = rustix::fs::fcntl_getfl(&self.file)?;
        let flags = if on {
            flags | rustix::fs::OFlags::APPEND
        } else {
            flags - rustix::fs::OFlags::APPEND
        };
        rustix::fs::fcntl_setfl(&self.file, flags)?;
        self.append.store(on, Ordering::Relaxed);
        Ok(())
    }
}

/// The most bytes of directory entries an open directory keeps while a
/// reader goes through it, and the most one scan of the directory holds:
/// 256 KiB (at most 1 GiB over the 4096 descriptors a run may hold by
/// default). An entry counts its name and twice the size of its record
/// (a vector's spare room included).
pub const DIR_PAGE_BYTES: usize = 256 << 10;

/// An open directory.
pub(crate) struct OpenDir {
    pub dir: Dir,
    /// The name of a preopened directory, for `fd_prestat_*`.
    pub preopen: Option<String>,
    pub writable: bool,
    /// The page of the listing a reader is going through (see
    /// [`OpenDir::read_entries`]).
    page: Mutex<Option<Page>>,
    /// How many scans of the directory were made.
    pub listings: AtomicUsize,
}

/// A stretch of a directory's listing (`.` and `..` first, the other
/// names in byte order), at most [`DIR_PAGE_BYTES`] of it.
struct Page {
    /// The index of the first entry in the listing; an entry's cookie is
    /// its index plus one.
    first: u64,
    entries: Vec<DirEntry>,
    /// Whether the scan left out names after the last entry.
    more: bool,
}

impl Page {
    fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// The bytes the page holds.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<DirEntry>()
            + self
                .entries
                .iter()
                .map(|e| e.name.capacity())
                .sum::<usize>()
    }
}

impl OpenDir {
    pub fn new(dir: Dir, preopen: Option<String>, writable: bool) -> OpenDir {
        OpenDir {
            dir,
            preopen,
            writable,
            page: Mutex::new(None),
            listings: AtomicUsize::new(0),
        }
    }

    /// Calls `each` with the index and entry of the listing from index
    /// `from` on, in order, until it returns `false` or the listing ends.
    ///
    /// The listing is read a page at a time and only one page is kept:
    /// going on right after the kept page builds the next one with one scan
    /// of the directory (the smallest names after the page's last name that
    /// fit), so a reader going through the directory scans it once per
    /// page; starting anywhere else scans again from the start (from 0, a
    /// fresh listing, as `rewinddir` promises). A directory that changes
    /// while it is read may show a later name that was created and miss one
    /// that was removed; every name that stays is listed once.
    pub fn read_entries(
        &self,
        from: u64,
        mut each: impl FnMut(u64, &DirEntry) -> bool,
    ) -> io::Result<()> {
        let mut kept = self.page.lock().unwrap_or_else(|e| e.into_inner());
        let reusable = matches!(&*kept, Some(p) if from != 0 && p.first <= from && from <= p.end());
        if !reusable {
            // The old page goes first: never more than one page is held.
            *kept = None;
            *kept = Some(self.first_page()?);
        }
        let mut at = from;
        loop {
            let page = kept.as_ref().expect("kept above");
            if at < page.end() {
                let skip = (at - page.first) as usize;
                for (i, entry) in page.entries.iter().enumerate().skip(skip) {
                    if !each(page.first + i as u64, entry) {
                        return Ok(());
                    }
                }
                at = page.end();
            }
            if !page.more {
                return Ok(());
            }
            // A page with names left after it ends with a name (a scan
            // keeps at least one).
            let first = page.end();
            let last = page.entries.last().map(|e| e.name.clone());
            *kept = None;
            let (entries, more) = self.scan(last.as_deref(), DIR_PAGE_BYTES)?;
            *kept = Some(Page {
                first,
                entries,
                more,
            });
        }
    }

    /// The bytes the kept page of the listing holds.
    #[cfg(test)]
    pub fn page_bytes(&self) -> usize {
        let page = self.page.lock().unwrap_or_else(|e| e.into_inner());
        page.as_ref().map_or(0, Page::bytes)
    }

    /// `.`, `..` and the first names.
    fn first_page(&self) -> io::Result<Page> {
        let own = self.dir.dir_metadata()?;
        let mut entries = vec![
            DirEntry {
                name: b".".to_vec(),
                ino: own.ino(),
                file_type: Some(own.file_type()),
            },
            DirEntry {
                name: b"..".to_vec(),
                ino: 0,
                file_type: Some(own.file_type()),
            },
        ];
        let budget = DIR_PAGE_BYTES - entries.iter().map(DirEntry::cost).sum::<usize>();
        let (rest, more) = self.scan(None, budget)?;
        entries.extend(rest);
        entries.shrink_to_fit();
        Ok(Page {
            first: 0,
            entries,
            more,
        })
    }

    /// One scan of the directory: the smallest names greater than `after`
    /// (all names when `None`) whose entries fit in `budget` bytes, in
    /// order, and whether names were left out. The kept entries are a
    /// max-heap by name: when they outgrow the budget the greatest goes.
    fn scan(&self, after: Option<&[u8]>, budget: usize) -> io::Result<(Vec<DirEntry>, bool)> {
        use std::os::unix::fs::DirEntryExt;
        self.listings.fetch_add(1, Ordering::Relaxed);
        let mut kept = std::collections::BinaryHeap::new();
        let mut bytes = 0;
        let mut more = false;
        for entry in self.dir.entries()? {
            let entry = entry?;
            let name: OsString = entry.file_name();
            let name = name.as_bytes();
            if after.is_some_and(|after| name <= after) {
                continue;
            }
            // Once something was left out, only names before the greatest
            // kept one can still belong to this page.
            if more
                && kept
                    .peek()
                    .is_some_and(|top: &ByName| name > &top.0.name[..])
            {
                continue;
            }
            let entry = DirEntry {
                name: name.to_vec(),
                ino: entry.ino(),
                file_type: entry.file_type().ok(),
            };
            bytes += entry.cost();
            kept.push(ByName(entry));
            while bytes > budget && kept.len() > 1 {
                let ByName(out) = kept.pop().expect("not empty");
                bytes -= out.cost();
                more = true;
            }
        }
        let mut entries: Vec<DirEntry> = kept.into_sorted_vec().into_iter().map(|e| e.0).collect();
        entries.shrink_to_fit();
        Ok((entries, more))
    }

    /// Fails with `EPERM` unless the guest may change what is beneath.
    pub fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(
                rustix::io::Errno::PERM.raw_os_error(),
            ))
        }
    }
}

/// What [`open`] opened.
pub(crate) enum Opened {
    File(OpenFile),
    Dir(OpenDir),
}

/// A path the guest gave, as a relative path beneath a directory.
pub(crate) fn guest_path(path: &str) -> io::Result<&Path> {
    if path.contains('\0') {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    Ok(Path::new(path))
}

/// The synchronised-I/O flags a file is opened with (`O_SYNC`,
/// `O_DSYNC`, `O_RSYNC`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SyncFlags {
    pub sync: bool,
    pub dsync: bool,
    pub rsync: bool,
}

/// What `path_open` asks for.
pub(crate) struct OpenRequest {
    pub follow: bool,
    pub directory: bool,
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub read: bool,
    pub write: bool,
    pub append: bool,
    pub nonblocking: bool,
    pub sync: SyncFlags,
}

fn os_error(errno: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.raw_os_error())
}

/// Opens a file or directory beneath `parent`.
///
/// The system is asked for what the call needs, whatever the rights of
/// the new descriptor say (they decide what the guest may then do):
/// creating or truncating a file needs write access, so the file is opened
/// for writing then; a file that exists but cannot be written is opened
/// read-only when only its creation was asked. `O_APPEND` with `O_TRUNC`,
/// which POSIX allows, is set after opening.
pub(crate) fn open(
    parent: &OpenDir,
    path: &Path,
    req: &OpenRequest,
    end: &EndSignal,
) -> io::Result<Opened> {
    let changes = req.write || req.append || req.create || req.truncate;
    if changes {
        parent.check_writable()?;
    }
    let subdir = |dir: Dir| OpenDir::new(dir, None, parent.writable);
    if req.directory {
        if changes {
            return Err(os_error(rustix::io::Errno::ISDIR));
        }
        let dir = if req.follow {
            parent.dir.open_dir(path)
        } else {
            parent.dir.open_dir_nofollow(path)
        }?;
        return Ok(Opened::Dir(subdir(dir)));
    }
    let writes = req.write || req.append;
    let os_write = changes;
    let options = |create: bool, os_write: bool| {
        let mut options = OpenOptions::new();
        options
            .read(req.read || !os_write)
            .write(os_write)
            .append(req.append && !req.truncate)
            .truncate(req.truncate)
            .follow(if req.follow {
                FollowSymlinks::Yes
            } else {
                FollowSymlinks::No
            });
        options
            .sync(req.sync.sync)
            .dsync(req.sync.dsync)
            .rsync(req.sync.rsync)
            // A FIFO's open would wait for its other end inside open(2),
            // where the end of the run cannot reach it.
            .nonblock(true);
        if req.exclusive {
            options.create_new(create);
        } else {
            options.create(create);
        }
        options
    };
    let mut opened = parent.dir.open_with(path, &options(req.create, os_write));
    // A FIFO opened for writing with no reader yet: wait for one (unless
    // the program asked not to), a few milliseconds at a time, until the run
    // ends.
    while !req.nonblocking
        && matches!(&opened, Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()))
    {
        if end.sleep(std::time::Duration::from_millis(5)) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        opened = parent.dir.open_with(path, &options(req.create, os_write));
    }
    if let Err(e) = &opened {
        let denied = e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_some();
        if denied && req.create && !writes && !req.truncate && !req.exclusive {
            // It exists and cannot be written: open it as it is.
            if let Ok(file) = parent.dir.open_with(path, &options(false, false)) {
                opened = Ok(file);
            }
        }
    }
    match opened {
        Ok(file) => {
            let file = file.into_std();
            let meta = file.metadata()?;
            if meta.is_dir() {
                if writes {
                    return Err(os_error(rustix::io::Errno::ISDIR));
                }
                return Ok(Opened::Dir(subdir(Dir::from_std_file(file))));
            }
            if meta.file_type().is_fifo() && !os_write && !req.nonblocking {
                wait_for_a_writer(&file, end)?;
            }
            let opened = OpenFile {
                file,
                stream: !meta.is_file(),
                position: Mutex::new(0),
                append: AtomicBool::new(false),
                nonblocking: AtomicBool::new(req.nonblocking),
                sync: req.sync,
            };
            if req.append {
                opened.set_append(true)?;
            }
            Ok(Opened::File(opened))
        }
        // Opening a directory for reading without O_DIRECTORY, as
        // `open(dir, O_RDONLY)` does.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error()) && !writes => {
            Ok(Opened::Dir(subdir(parent.dir.open_dir(path)?)))
        }
        Err(e) => Err(e),
    }
}

/// What a blocking open of a FIFO for reading waits for, as open(2) would
/// wait inside the system (where the end of the run cannot reach it): the
/// FIFO was opened non-blocking, so this waits in the host's poll until it
/// can be read (a writer wrote) or is hung up (a writer came and went).
/// On Linux, a FIFO's read end that never had a writer polls as nothing at
/// all, so the wait lasts until a writer comes or the run ends. Unlike
/// open(2), it also waits while a writer that has the FIFO open has not
/// written yet.
fn wait_for_a_writer(fifo: &std::fs::File, end: &EndSignal) -> io::Result<()> {
    end.wait_readable(fifo, None).map(drop)
}

/// One entry of a directory listing.
pub(crate) struct DirEntry {
    /// The name's bytes, as the system gives them.
    pub name: Vec<u8>,
    pub ino: u64,
    /// `None` when the entry vanished or cannot be examined.
    pub file_type: Option<FileType>,
}

impl DirEntry {
    /// What the entry counts for against [`DIR_PAGE_BYTES`].
    fn cost(&self) -> usize {
        self.name.len() + 2 * std::mem::size_of::<DirEntry>()
    }
}

/// A directory entry ordered by its name alone.
struct ByName(DirEntry);

impl PartialEq for ByName {
    fn eq(&self, other: &ByName) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for ByName {}

impl PartialOrd for ByName {
    fn partial_cmp(&self, other: &ByName) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByName {
    fn cmp(&self, other: &ByName) -> std::cmp::Ordering {
        self.0.name.cmp(&other.0.name)
    }
}

/// Sets the times of what `path` names beneath `dir`.
pub(crate) fn set_times(
    dir: &Dir,
    path: &Path,
    atime: Option<SystemTimeSpec>,
    mtime: Option<SystemTimeSpec>,
    follow: bool,
) -> io::Result<()> {
    if follow {
        dir.set_times(path, atime, mtime)
    } else {
        dir.set_symlink_times(path, atime, mtime)
    }
}
