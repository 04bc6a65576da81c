//! The one descriptor table of a run (stdio, files, directories, sockets),
//! and files and preopened directories.
//!
//! Every thread of a program uses the same table. An entry is an `Arc`: a
//! call clones it out of the table and releases the table's lock before any
//! I/O, so a call that blocks on one descriptor never stalls calls on
//! others, and a descriptor closed (or renumbered over) by one thread stays
//! valid for a call another thread already started on it, as on POSIX; the
//! next call on that number sees `badf`.
//!
//! Directories are cap-std `Dir`s: paths resolve beneath them only, so
//! `..`, absolute paths and symlinks cannot reach outside a preopen; such an
//! attempt is `notcapable`. A read-only preopen (and everything opened
//! through it) refuses writes with `perm`.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_fs_ext::{DirExt, FollowSymlinks, MetadataExt, OpenOptionsFollowExt};
use cap_std::fs::{Dir, Metadata, OpenOptions};

use crate::net::Socket;
use crate::wasi::types::{self, Errno};

/// A directory to preopen: the host path, the name the guest sees it by,
/// and whether the guest may change anything beneath it.
#[derive(Clone, Debug)]
pub(crate) struct Preopen {
    pub host: std::path::PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// An open file.
pub(crate) struct OpenFile {
    pub file: std::fs::File,
    /// The file position, shared by every thread using the descriptor.
    pub position: Mutex<u64>,
    pub read: bool,
    pub write: bool,
    /// `fdflags::append`, switched under the position lock.
    append: AtomicBool,
    /// `fdflags::nonblock`: recorded and reported; regular files are
    /// always ready, so it changes nothing, as on POSIX.
    nonblocking: AtomicBool,
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

    /// `fd_fdstat_set_flags`: switches the system's O_APPEND, so appending
    /// writes stay atomic whoever else writes.
    pub fn set_append(&self, on: bool) -> io::Result<()> {
        let _position = self.position.lock().unwrap();
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
}

#[derive(Clone)]
pub(crate) enum Desc {
    /// 0, 1 or 2, served by the stdio code.
    Stdio(u32),
    File(Arc<OpenFile>),
    Dir(Arc<OpenDir>),
    Socket(Arc<Socket>),
}

/// The descriptor table.
pub(crate) struct Table {
    entries: Mutex<BTreeMap<u32, Desc>>,
}

/// The most descriptors open at once.
const MAX_FDS: usize = 4096;

impl Table {
    /// Stdio, then the preopened directories from descriptor 3 on, then
    /// the preopened sockets. Directories come first because wasi-libc
    /// looks for preopens from descriptor 3 up to the first one that
    /// `fd_prestat_get` answers `badf`, as it answers for a socket.
    pub fn new(preopens: &[Preopen], sockets: Vec<Socket>) -> Result<Table, String> {
        let mut entries = BTreeMap::new();
        for fd in 0..3 {
            entries.insert(fd, Desc::Stdio(fd));
        }
        for (i, p) in preopens.iter().enumerate() {
            let dir =
                Dir::open_ambient_dir(&p.host, cap_std::ambient_authority()).map_err(|e| {
                    format!(
                        "cannot open the directory {} to preopen: {e}",
                        p.host.display()
                    )
                })?;
            entries.insert(
                3 + i as u32,
                Desc::Dir(Arc::new(OpenDir {
                    dir,
                    preopen: Some(p.guest.clone()),
                    writable: p.writable,
                })),
            );
        }
        for socket in sockets {
            let fd = entries.len() as u32;
            entries.insert(fd, Desc::Socket(Arc::new(socket)));
        }
        Ok(Table {
            entries: Mutex::new(entries),
        })
    }

    pub fn get(&self, fd: types::Fd) -> Result<Desc, Errno> {
        self.entries
            .lock()
            .unwrap()
            .get(&u32::from(fd))
            .cloned()
            .ok_or(Errno::Badf)
    }

    pub fn dir(&self, fd: types::Fd) -> Result<Arc<OpenDir>, Errno> {
        match self.get(fd)? {
            Desc::Dir(d) => Ok(d),
            _ => Err(Errno::Notdir),
        }
    }

    /// Adds a descriptor under the lowest free number.
    pub fn insert(&self, desc: Desc) -> Result<types::Fd, Errno> {
        let mut entries = self.entries.lock().unwrap();
        if entries.len() >= MAX_FDS {
            return Err(Errno::Mfile);
        }
        let mut fd = 0;
        for used in entries.keys() {
            if *used != fd {
                break;
            }
            fd += 1;
        }
        entries.insert(fd, desc);
        Ok(types::Fd::from(fd))
    }

    pub fn close(&self, fd: types::Fd) -> Result<(), Errno> {
        self.entries
            .lock()
            .unwrap()
            .remove(&u32::from(fd))
            .map(|_| ())
            .ok_or(Errno::Badf)
    }

    /// Closes every descriptor, when the run is over: connections and
    /// listeners close even while a thread the run could not stop holds
    /// the context.
    pub fn close_all(&self) {
        let entries = std::mem::take(&mut *self.entries.lock().unwrap());
        drop(entries);
    }

    /// `fd_renumber`: `to` now names what `from` named; `from` is closed.
    pub fn renumber(&self, from: types::Fd, to: types::Fd) -> Result<(), Errno> {
        let mut entries = self.entries.lock().unwrap();
        if !entries.contains_key(&u32::from(to)) {
            return Err(Errno::Badf);
        }
        let desc = entries.remove(&u32::from(from)).ok_or(Errno::Badf)?;
        entries.insert(u32::from(to), desc);
        Ok(())
    }
}

/// The preview-1 errno of an I/O error.
pub(crate) fn errno(e: &io::Error) -> Errno {
    // cap-std refuses a path that leads outside its directory with a
    // PermissionDenied error that carries no OS code.
    if e.kind() == ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
        return Errno::Notcapable;
    }
    if let Some(code) = e.raw_os_error() {
        if let Some(errno) = from_os(code) {
            return errno;
        }
    }
    match e.kind() {
        ErrorKind::NotFound => Errno::Noent,
        ErrorKind::PermissionDenied => Errno::Acces,
        ErrorKind::AlreadyExists => Errno::Exist,
        ErrorKind::InvalidInput => Errno::Inval,
        ErrorKind::NotADirectory => Errno::Notdir,
        ErrorKind::IsADirectory => Errno::Isdir,
        ErrorKind::DirectoryNotEmpty => Errno::Notempty,
        ErrorKind::ReadOnlyFilesystem => Errno::Rofs,
        ErrorKind::CrossesDevices => Errno::Xdev,
        ErrorKind::StorageFull => Errno::Nospc,
        ErrorKind::TooManyLinks => Errno::Mlink,
        ErrorKind::InvalidFilename => Errno::Nametoolong,
        ErrorKind::Unsupported => Errno::Notsup,
        ErrorKind::Interrupted => Errno::Intr,
        ErrorKind::WouldBlock => Errno::Again,
        _ => Errno::Io,
    }
}

/// Linux error numbers the kinds above do not tell apart.
fn from_os(code: i32) -> Option<Errno> {
    Some(match code {
        1 => Errno::Perm,
        2 => Errno::Noent,
        4 => Errno::Intr,
        5 => Errno::Io,
        9 => Errno::Badf,
        11 => Errno::Again,
        12 => Errno::Nomem,
        13 => Errno::Acces,
        17 => Errno::Exist,
        18 => Errno::Xdev,
        20 => Errno::Notdir,
        21 => Errno::Isdir,
        22 => Errno::Inval,
        23 => Errno::Nfile,
        24 => Errno::Mfile,
        27 => Errno::Fbig,
        28 => Errno::Nospc,
        29 => Errno::Spipe,
        30 => Errno::Rofs,
        31 => Errno::Mlink,
        32 => Errno::Pipe,
        36 => Errno::Nametoolong,
        39 => Errno::Notempty,
        40 => Errno::Loop,
        71 => Errno::Proto,
        88 => Errno::Notsock,
        95 => Errno::Notsup,
        98 => Errno::Addrinuse,
        99 => Errno::Addrnotavail,
        100 => Errno::Netdown,
        101 => Errno::Netunreach,
        102 => Errno::Netreset,
        103 => Errno::Connaborted,
        104 => Errno::Connreset,
        105 => Errno::Nobufs,
        106 => Errno::Isconn,
        107 => Errno::Notconn,
        110 => Errno::Timedout,
        111 => Errno::Connrefused,
        113 => Errno::Hostunreach,
        _ => return None,
    })
}

pub(crate) fn filetype(ft: cap_std::fs::FileType) -> types::Filetype {
    use cap_fs_ext::FileTypeExt;
    if ft.is_dir() {
        types::Filetype::Directory
    } else if ft.is_symlink() {
        types::Filetype::SymbolicLink
    } else if ft.is_file() {
        types::Filetype::RegularFile
    } else if ft.is_char_device() {
        types::Filetype::CharacterDevice
    } else if ft.is_block_device() {
        types::Filetype::BlockDevice
    } else {
        types::Filetype::Unknown
    }
}

fn nanos(t: io::Result<SystemTime>) -> u64 {
    t.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

pub(crate) fn filestat(m: &Metadata) -> types::Filestat {
    let modified = nanos(m.modified().map(|t| t.into_std()));
    types::Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype(m.file_type()),
        nlink: m.nlink(),
        size: m.len(),
        atim: nanos(m.accessed().map(|t| t.into_std())),
        mtim: modified,
        ctim: modified,
    }
}

pub(crate) fn std_filestat(file: &std::fs::File) -> io::Result<types::Filestat> {
    let m = Metadata::from_file(file)?;
    Ok(filestat(&m))
}

/// The time a `*_set_times` call asks for.
pub(crate) fn time_spec(
    value: types::Timestamp,
    flags: types::Fstflags,
    set: types::Fstflags,
    now: types::Fstflags,
) -> Result<Option<cap_fs_ext::SystemTimeSpec>, Errno> {
    match (flags.contains(set), flags.contains(now)) {
        (true, true) => Err(Errno::Inval),
        (true, false) => Ok(Some(cap_fs_ext::SystemTimeSpec::Absolute(
            cap_std::time::SystemTime::from_std(UNIX_EPOCH + Duration::from_nanos(value)),
        ))),
        (false, true) => Ok(Some(cap_fs_ext::SystemTimeSpec::SymbolicNow)),
        (false, false) => Ok(None),
    }
}

/// A path the guest gave, as a relative path beneath a directory.
pub(crate) fn guest_path(path: &str) -> Result<&Path, Errno> {
    if path.contains('\0') {
        return Err(Errno::Inval);
    }
    Ok(Path::new(path))
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
}

/// Opens a file or directory beneath `parent`.
pub(crate) fn open(parent: &OpenDir, path: &Path, req: &OpenRequest) -> Result<Desc, Errno> {
    let writes = req.write || req.append || req.create || req.truncate;
    if writes && !parent.writable {
        return Err(Errno::Perm);
    }
    if req.directory {
        if writes {
            return Err(Errno::Isdir);
        }
        let dir = if req.follow {
            parent.dir.open_dir(path)
        } else {
            parent.dir.open_dir_nofollow(path)
        }
        .map_err(|e| errno(&e))?;
        return Ok(Desc::Dir(Arc::new(OpenDir {
            dir,
            preopen: None,
            writable: parent.writable,
        })));
    }
    let mut options = OpenOptions::new();
    let read = req.read || !(req.write || req.append);
    options
        .read(read)
        .write(req.write || req.append)
        .append(req.append)
        .truncate(req.truncate)
        .follow(if req.follow {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        });
    if req.exclusive {
        options.create_new(true);
    } else {
        options.create(req.create);
    }
    match parent.dir.open_with(path, &options) {
        Ok(file) => {
            let file = file.into_std();
            if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                if req.write || req.append {
                    return Err(Errno::Isdir);
                }
                return Ok(Desc::Dir(Arc::new(OpenDir {
                    dir: Dir::from_std_file(file),
                    preopen: None,
                    writable: parent.writable,
                })));
            }
            Ok(Desc::File(Arc::new(OpenFile {
                file,
                position: Mutex::new(0),
                read,
                write: req.write || req.append,
                append: AtomicBool::new(req.append),
                nonblocking: AtomicBool::new(req.nonblocking),
            })))
        }
        // Opening a directory for reading without O_DIRECTORY, as
        // `open(dir, O_RDONLY)` does.
        Err(e) if matches!(errno(&e), Errno::Isdir) && !(req.write || req.append) => {
            let dir = parent.dir.open_dir(path).map_err(|e| errno(&e))?;
            Ok(Desc::Dir(Arc::new(OpenDir {
                dir,
                preopen: None,
                writable: parent.writable,
            })))
        }
        Err(e) => Err(errno(&e)),
    }
}

/// Directory entries in preview 1's `fd_readdir` layout, from `cookie` on,
/// `.` and `..` first; at most `len` bytes (a truncated last entry tells the
/// caller to retry with a bigger buffer).
pub(crate) fn readdir(dir: &OpenDir, cookie: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let mut names: Vec<(String, u64, types::Filetype)> = Vec::new();
    let own = dir.dir.dir_metadata().map_err(|e| errno(&e))?;
    names.push((".".to_string(), own.ino(), types::Filetype::Directory));
    names.push(("..".to_string(), 0, types::Filetype::Directory));
    let entries = dir.dir.entries().map_err(|e| errno(&e))?;
    let mut rest = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| errno(&e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ft = entry
            .file_type()
            .map(filetype)
            .unwrap_or(types::Filetype::Unknown);
        let ino = entry.metadata().map(|m| m.ino()).unwrap_or(0);
        rest.push((name, ino, ft));
    }
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    names.extend(rest);
    let mut out = Vec::new();
    for (i, (name, ino, ft)) in names.iter().enumerate().skip(cookie as usize) {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&(i as u64 + 1).to_le_bytes());
        header.extend_from_slice(&ino.to_le_bytes());
        header.extend_from_slice(&(name.len() as u32).to_le_bytes());
        header.push(*ft as u8);
        header.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&header);
        out.extend_from_slice(name.as_bytes());
        if out.len() >= len {
            out.truncate(len);
            break;
        }
    }
    Ok(out)
}

pub(crate) use cap_fs_ext::SystemTimeSpec;

/// Sets the times of a directory (through the directory itself).
pub(crate) fn set_dir_times(
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
