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
use std::sync::{Arc, Mutex};

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

/// An open directory.
pub(crate) struct OpenDir {
    pub dir: Dir,
    /// The name of a preopened directory, for `fd_prestat_*`.
    pub preopen: Option<String>,
    pub writable: bool,
    /// The listing a reader is going through, taken when it starts (cookie
    /// 0), so that reading a directory in many calls lists it once.
    listing: Mutex<Option<Arc<Vec<DirEntry>>>>,
    /// How many listings were taken.
    pub listings: AtomicUsize,
}

impl OpenDir {
    pub fn new(dir: Dir, preopen: Option<String>, writable: bool) -> OpenDir {
        OpenDir {
            dir,
            preopen,
            writable,
            listing: Mutex::new(None),
            listings: AtomicUsize::new(0),
        }
    }

    /// The entries, `.` and `..` first, the rest sorted by name: a fresh
    /// listing when `restart` (or none was taken), else the one being read.
    pub fn entries(&self, restart: bool) -> io::Result<Arc<Vec<DirEntry>>> {
        let mut listing = self.listing.lock().unwrap_or_else(|e| e.into_inner());
        match &*listing {
            Some(entries) if !restart => Ok(entries.clone()),
            _ => {
                let entries = Arc::new(list(self)?);
                self.listings.fetch_add(1, Ordering::Relaxed);
                *listing = Some(entries.clone());
                Ok(entries)
            }
        }
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
    match end.wait_for(fifo, rustix::event::PollFlags::IN) {
        Ok(()) => Ok(()),
        Err(super::wait::WaitError::Ended) => Err(io::ErrorKind::Interrupted.into()),
        Err(super::wait::WaitError::Os(e)) => Err(e),
    }
}

/// One entry of a directory listing.
pub(crate) struct DirEntry {
    /// The name's bytes, as the system gives them.
    pub name: Vec<u8>,
    pub ino: u64,
    /// `None` when the entry vanished or cannot be examined.
    pub file_type: Option<FileType>,
}

/// The entries of `dir`, `.` and `..` first, the rest sorted by name so
/// that a listing read in several calls stays in one order.
fn list(dir: &OpenDir) -> io::Result<Vec<DirEntry>> {
    let own = dir.dir.dir_metadata()?;
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
    let mut rest = Vec::new();
    for entry in dir.dir.entries()? {
        let entry = entry?;
        let name: OsString = entry.file_name();
        rest.push(DirEntry {
            name: name.as_bytes().to_vec(),
            ino: entry.metadata().map(|m| m.ino()).unwrap_or(0),
            file_type: entry.file_type().ok(),
        });
    }
    rest.sort_by(|a, b| a.name.cmp(&b.name));
    entries.extend(rest);
    Ok(entries)
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
