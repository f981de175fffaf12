//! Moving files' bytes for the session drivers: a task per transfer that streams a local
//! file, or writes one that arrives into the receive folder, checking its SHA-256. What may
//! move is decided by the cores (`transfers.rs`); this only carries it out.
//!
//! A file arriving is written to a hidden part file in the receive folder and becomes
//! visible under its name only once whole and checked; on a cancel, a failure, a damaged
//! file or the session ending, the part file is deleted. Nothing is ever written over an
//! existing file: `report.pdf` arrives as `report (1).pdf` when there is one.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::debug;

use super::transfers::{IncomingFile, LocalFile};
use crate::file::{FileHead, FileRefusal, FILE_DIGEST_LEN};

/// The error code a file stream is reset or stopped with when a person cancels it.
pub const FILE_CANCELLED: u32 = 0x11;

/// Bytes read or written at a time.
const CHUNK: usize = 256 * 1024;

/// How often a task reports its progress, at most.
const REPORT_EVERY: Duration = Duration::from_millis(50);

/// Below video frames and input: a file never makes them wait.
const FILE_PRIORITY: i32 = -10;

/// Where files from the other side are saved unless the person says otherwise: a folder
/// of its own in the person's Downloads (wherever the desktop keeps it: `~/Scaricati` on
/// an Italian desktop, a relocated Windows Downloads), which they know how to find.
pub fn default_receive_dir() -> Option<PathBuf> {
    dirs::download_dir()
        .or_else(|| dirs::home_dir().map(|home| home.join("Downloads")))
        .map(|downloads| downloads.join("Tandem"))
}

/// Part files of this process not yet kept: deleted when the session's transfers are
/// dropped, even when no task runs again (the process exiting right after the session).
type LiveParts = Arc<Mutex<HashSet<PathBuf>>>;

/// The prefix of every part file: `.tandem-<pid>-<id>-<n>.part`.
const PART_PREFIX: &str = ".tandem-";

/// Deletes part files left in `dir` by a process that is gone (killed mid-transfer).
fn sweep_stale_parts(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PART_PREFIX))
            .filter(|n| n.ends_with(".part"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Elsewhere no process is known to be gone: nothing is swept.
#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// What a task tells the session loop.
#[derive(Debug)]
pub(super) enum FileReport {
    Progress {
        id: u32,
        bytes: u64,
    },
    /// A receiver's with where the file was saved; a sender's with `None` once everything
    /// was written; or why it failed.
    Finished {
        id: u32,
        result: Result<Option<PathBuf>, FileRefusal>,
    },
    /// The peer reset or stopped the stream as a cancel.
    PeerStopped {
        id: u32,
    },
}

/// The running transfers of one session. Dropped, every one of them stops and its part
/// file is deleted.
pub(super) struct FileTasks {
    connection: quinn::Connection,
    receive_dir: Option<PathBuf>,
    cancels: HashMap<u32, oneshot::Sender<()>>,
    parts: LiveParts,
    hold: watch::Sender<bool>,
    reports_tx: mpsc::Sender<FileReport>,
    pub reports: mpsc::Receiver<FileReport>,
}

impl FileTasks {
    pub fn new(connection: quinn::Connection, receive_dir: Option<PathBuf>) -> Self {
        let (reports_tx, reports) = mpsc::channel(64);
        if let Some(dir) = &receive_dir {
            sweep_stale_parts(dir);
        }
        Self {
            connection,
            receive_dir,
            cancels: HashMap::new(),
            parts: LiveParts::default(),
            hold: watch::Sender::new(false),
            reports_tx,
            reports,
        }
    }

    /// Whether files can be received at all.
    pub fn can_receive(&self) -> bool {
        self.receive_dir.is_some()
    }

    /// Streams `path` as transfer `id`.
    pub fn send(&mut self, id: u32, path: PathBuf, size: u64) {
        let (cancel_tx, cancel) = oneshot::channel();
        self.cancels.insert(id, cancel_tx);
        let connection = self.connection.clone();
        let hold = self.hold.subscribe();
        let reports = self.reports_tx.clone();
        tokio::spawn(async move {
            let report = send_file(connection, id, &path, size, hold, cancel, &reports).await;
            if let Some(report) = report {
                let _ = reports.send(report).await;
            }
        });
    }

    /// Writes the stream of an accepted file into the receive folder.
    pub fn receive(&mut self, stream: quinn::RecvStream, file: IncomingFile) {
        let (cancel_tx, cancel) = oneshot::channel();
        self.cancels.insert(file.id, cancel_tx);
        let hold = self.hold.subscribe();
        let reports = self.reports_tx.clone();
        let dir = self.receive_dir.clone();
        let parts = Arc::clone(&self.parts);
        tokio::spawn(async move {
            let id = file.id;
            let report = match dir {
                Some(dir) => receive_file(stream, &file, &dir, parts, hold, cancel, &reports).await,
                None => Some(FileReport::Finished {
                    id,
                    result: Err(FileRefusal::Unavailable),
                }),
            };
            if let Some(report) = report {
                let _ = reports.send(report).await;
            }
        });
    }

    /// Stops transfer `id` (its stream is reset, what arrived of it deleted).
    pub fn stop(&mut self, id: u32) {
        if let Some(cancel) = self.cancels.remove(&id) {
            let _ = cancel.send(());
        }
    }

    /// The task of `id` ended.
    pub fn forget(&mut self, id: u32) {
        self.cancels.remove(&id);
    }

    /// Holds every transfer's bytes (`true`) or lets them go again.
    pub fn hold(&self, on: bool) {
        self.hold.send_replace(on);
    }

    /// Deletes a file saved just as its transfer was cancelled.
    pub fn discard(&self, path: &Path) {
        if let Err(e) = std::fs::remove_file(path) {
            debug!("discarding {}: {e}", path.display());
        }
    }
}

impl Drop for FileTasks {
    /// The session is over: every transfer stops, and what arrived of any is deleted now,
    /// whether or not its task runs again.
    fn drop(&mut self) {
        for (_, cancel) in self.cancels.drain() {
            let _ = cancel.send(());
        }
        if let Ok(mut parts) = self.parts.lock() {
            for part in parts.drain() {
                let _ = std::fs::remove_file(part);
            }
        }
    }
}

/// Resolves once `hold` is off (or its sender is gone).
async fn unless_held(hold: &mut watch::Receiver<bool>) {
    let _ = hold.wait_for(|held| !held).await;
}

/// Throttles progress reports to [`REPORT_EVERY`].
struct Reporter<'a> {
    id: u32,
    reports: &'a mpsc::Sender<FileReport>,
    last: Option<Instant>,
}

impl Reporter<'_> {
    fn report(&mut self, bytes: u64, last_one: bool) {
        let now = Instant::now();
        if last_one
            || self
                .last
                .is_none_or(|at| now.duration_since(at) >= REPORT_EVERY)
        {
            self.last = Some(now);
            // Progress is cumulative: one dropped when the loop is behind is no loss.
            let _ = self
                .reports
                .try_send(FileReport::Progress { id: self.id, bytes });
        }
    }
}

enum Stop {
    Cancelled,
    PeerCancelled,
    Failed(FileRefusal),
}

async fn send_file(
    connection: quinn::Connection,
    id: u32,
    path: &Path,
    size: u64,
    mut hold: watch::Receiver<bool>,
    mut cancel: oneshot::Receiver<()>,
    reports: &mpsc::Sender<FileReport>,
) -> Option<FileReport> {
    let finished = |result| Some(FileReport::Finished { id, result });
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) => {
            debug!("file {id}: {e}");
            return finished(Err(FileRefusal::Failed));
        }
    };
    // Opening may wait for the peer's stream credit: a cancel meanwhile is heard.
    let opened = tokio::select! {
        opened = connection.open_uni() => opened,
        _ = &mut cancel => return None,
    };
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) => {
            debug!("file {id}: {e}");
            return finished(Err(FileRefusal::Failed));
        }
    };
    let _ = stream.set_priority(FILE_PRIORITY);
    let mut reporter = Reporter {
        id,
        reports,
        last: None,
    };
    let copy = async {
        let mut hasher = Sha256::new();
        stream
            .write_all(&FileHead { id, size }.encode())
            .await
            .map_err(write_stop)?;
        let mut buf = vec![0u8; CHUNK];
        let mut sent = 0u64;
        while sent < size {
            unless_held(&mut hold).await;
            let want = (size - sent).min(CHUNK as u64) as usize;
            let n = file
                .read(&mut buf[..want])
                .await
                .map_err(|_| Stop::Failed(FileRefusal::Failed))?;
            if n == 0 {
                debug!("file {id} is shorter than offered");
                return Err(Stop::Failed(FileRefusal::Failed));
            }
            hasher.update(&buf[..n]);
            stream.write_all(&buf[..n]).await.map_err(write_stop)?;
            sent += n as u64;
            reporter.report(sent, sent == size);
        }
        stream
            .write_all(&hasher.finalize())
            .await
            .map_err(write_stop)?;
        stream
            .finish()
            .map_err(|_| Stop::Failed(FileRefusal::Failed))?;
        Ok(())
    };
    let outcome = tokio::select! {
        outcome = copy => outcome,
        _ = &mut cancel => Err(Stop::Cancelled),
    };
    match outcome {
        Ok(()) => finished(Ok(None)),
        Err(Stop::Cancelled) => {
            let _ = stream.reset(FILE_CANCELLED.into());
            None
        }
        Err(Stop::PeerCancelled) => Some(FileReport::PeerStopped { id }),
        Err(Stop::Failed(reason)) => {
            let _ = stream.reset(FILE_CANCELLED.into());
            finished(Err(reason))
        }
    }
}

fn write_stop(e: quinn::WriteError) -> Stop {
    match e {
        quinn::WriteError::Stopped(code) if code.into_inner() == u64::from(FILE_CANCELLED) => {
            Stop::PeerCancelled
        }
        other => {
            debug!("file stream: {other}");
            Stop::Failed(FileRefusal::Failed)
        }
    }
}

fn read_stop(e: quinn::ReadError) -> Stop {
    match e {
        quinn::ReadError::Reset(code) if code.into_inner() == u64::from(FILE_CANCELLED) => {
            Stop::PeerCancelled
        }
        other => {
            debug!("file stream: {other}");
            Stop::Failed(FileRefusal::Failed)
        }
    }
}

async fn receive_file(
    mut stream: quinn::RecvStream,
    file: &IncomingFile,
    dir: &Path,
    parts: LiveParts,
    mut hold: watch::Receiver<bool>,
    mut cancel: oneshot::Receiver<()>,
    reports: &mpsc::Sender<FileReport>,
) -> Option<FileReport> {
    let id = file.id;
    let finished = |result| Some(FileReport::Finished { id, result });
    let mut part = match PartFile::create(dir, id, parts).await {
        Ok(part) => part,
        Err(e) => {
            debug!("receive folder {}: {e}", dir.display());
            let _ = stream.stop(FILE_CANCELLED.into());
            return finished(Err(FileRefusal::Unavailable));
        }
    };
    let mut reporter = Reporter {
        id,
        reports,
        last: None,
    };
    let size = file.size;
    let failed = |_| Stop::Failed(FileRefusal::Failed);
    let copy = async {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        while got < size {
            unless_held(&mut hold).await;
            let want = (size - got).min(CHUNK as u64) as usize;
            let n = match stream.read(&mut buf[..want]).await.map_err(read_stop)? {
                Some(n) => n,
                None => {
                    debug!("file {id} ended early");
                    return Err(Stop::Failed(FileRefusal::Failed));
                }
            };
            hasher.update(&buf[..n]);
            part.file.write_all(&buf[..n]).await.map_err(failed)?;
            got += n as u64;
            reporter.report(got, got == size);
        }
        let mut digest = [0u8; FILE_DIGEST_LEN];
        match stream.read_exact(&mut digest).await {
            Ok(()) => {}
            Err(quinn::ReadExactError::ReadError(e)) => return Err(read_stop(e)),
            Err(quinn::ReadExactError::FinishedEarly(_)) => {
                return Err(Stop::Failed(FileRefusal::Failed))
            }
        }
        // Nothing may follow the digest.
        if stream
            .read(&mut buf[..1])
            .await
            .map_err(read_stop)?
            .is_some()
        {
            return Err(Stop::Failed(FileRefusal::Failed));
        }
        if hasher.finalize().as_slice() != digest {
            return Err(Stop::Failed(FileRefusal::Corrupted));
        }
        // Every byte on disk, or an error: a write that failed late (a full disk) must not
        // leave a short file under the real name.
        part.file.flush().await.map_err(failed)?;
        part.file.sync_all().await.map_err(failed)?;
        let written = part.file.metadata().await.map_err(failed)?.len();
        if written != size {
            debug!("file {id}: {written} of {size} bytes on disk");
            return Err(Stop::Failed(FileRefusal::Failed));
        }
        Ok(())
    };
    let outcome = tokio::select! {
        outcome = copy => outcome,
        _ = &mut cancel => Err(Stop::Cancelled),
    };
    // A cancel that came as the last bytes did still wins: nothing is kept.
    let outcome = match (outcome, cancel.try_recv()) {
        (Ok(()), Ok(())) => Err(Stop::Cancelled),
        (outcome, _) => outcome,
    };
    match outcome {
        Ok(()) => {
            let name = file.name.clone();
            let kept = tokio::task::spawn_blocking(move || part.keep_as(&name)).await;
            finished(match kept {
                Ok(Ok(path)) => {
                    mark_downloaded(&path);
                    Ok(Some(path))
                }
                Ok(Err(e)) => {
                    debug!("saving {}: {e}", file.name);
                    Err(FileRefusal::Failed)
                }
                Err(_) => Err(FileRefusal::Failed),
            })
        }
        Err(stop) => {
            let _ = stream.stop(FILE_CANCELLED.into());
            // `part` is dropped here: deleted.
            match stop {
                Stop::Failed(reason) => finished(Err(reason)),
                Stop::PeerCancelled => Some(FileReport::PeerStopped { id }),
                Stop::Cancelled => None,
            }
        }
    }
}

/// Windows: the file came from elsewhere (the "Mark of the Web", zone 3: the Internet), so
/// SmartScreen and Office warn before it is run or opened with macros, as for a download.
#[cfg(windows)]
fn mark_downloaded(path: &Path) {
    let mut stream = path.as_os_str().to_owned();
    stream.push(":Zone.Identifier");
    if let Err(e) = std::fs::write(&stream, "[ZoneTransfer]\r\nZoneId=3\r\n") {
        debug!("marking {}: {e}", path.display());
        return;
    }
    // A file system without streams (Wine on a Linux folder) makes it a file of that name
    // beside the one received: not a mark, only clutter.
    let stray = Path::new(&stream);
    let listed = stray
        .parent()
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .is_some_and(|entries| {
            entries
                .flatten()
                .any(|e| Some(e.file_name().as_os_str()) == stray.file_name())
        });
    if listed {
        let _ = std::fs::remove_file(stray);
    }
}

/// Linux has no such mark that desktops heed.
#[cfg(not(windows))]
fn mark_downloaded(_path: &Path) {}

/// A file being received: hidden in the receive folder, deleted unless kept.
pub(super) struct PartFile {
    path: PathBuf,
    file: tokio::fs::File,
    kept: bool,
    live: LiveParts,
}

impl PartFile {
    async fn create(dir: &Path, id: u32, live: LiveParts) -> io::Result<Self> {
        tokio::fs::create_dir_all(dir).await?;
        let mut n = 0u32;
        loop {
            let path = dir.join(format!("{PART_PREFIX}{}-{id}-{n}.part", std::process::id()));
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(file) => {
                    if let Ok(mut parts) = live.lock() {
                        parts.insert(path.clone());
                    }
                    return Ok(Self {
                        path,
                        file,
                        kept: false,
                        live,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives the part file its name, or the first free `name (n)`; never over a file.
    fn keep_as(mut self, name: &str) -> io::Result<PathBuf> {
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for n in 0..10_000u32 {
            let target = dir.join(numbered(name, n));
            // The name is claimed first, so that a file appearing meanwhile is not replaced:
            // the rename then only replaces this empty placeholder.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
            {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            if let Err(e) = std::fs::rename(&self.path, &target) {
                let _ = std::fs::remove_file(&target);
                return Err(e);
            }
            self.kept = true;
            return Ok(target);
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "too many files of that name",
        ))
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Ok(mut parts) = self.live.lock() {
            parts.remove(&self.path);
        }
    }
}

/// `name`, or with ` (n)` before its extension: `report (1).pdf`, `logs (2).tar.gz`.
fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.find('.') {
        Some(dot) if dot > 0 => format!("{} ({n}){}", &name[..dot], &name[dot..]),
        _ => format!("{name} ({n})"),
    }
}

/// A local file the person chose, as it will be offered.
pub(super) async fn inspect(path: &Path) -> Result<LocalFile, String> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    Ok(LocalFile::new(path.to_path_buf(), meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_numbered_before_the_extension() {
        assert_eq!(numbered("report.pdf", 0), "report.pdf");
        assert_eq!(numbered("report.pdf", 1), "report (1).pdf");
        assert_eq!(numbered("logs.tar.gz", 2), "logs (2).tar.gz");
        assert_eq!(numbered("README", 3), "README (3)");
    }

    #[tokio::test]
    async fn a_part_file_is_deleted_unless_kept_and_never_replaces_a_file() {
        let dir = std::env::temp_dir().join(format!("tandem-part-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // Dropped: gone, and nothing else left behind.
        let mut part = PartFile::create(&dir, 1, LiveParts::default())
            .await
            .expect("create");
        part.file.write_all(b"half").await.expect("write");
        drop(part);
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
        // Kept twice under one name: the first file stays as it was.
        for content in [&b"first"[..], b"second"] {
            let mut part = PartFile::create(&dir, 2, LiveParts::default())
                .await
                .expect("create");
            part.file.write_all(content).await.expect("write");
            part.file.flush().await.expect("flush");
            part.keep_as("a.txt").expect("keep");
        }
        assert_eq!(std::fs::read(dir.join("a.txt")).expect("a"), b"first");
        assert_eq!(std::fs::read(dir.join("a (1).txt")).expect("a1"), b"second");
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
