//! Copying a command's output through the masker, on plain threads.
//!
//! Each stream (stdout, stderr) gets a thread that reads the command's pipe
//! and writes our own file descriptor with blocking writes. Every byte is
//! copied until the pipe ends, however slowly our reader reads: a slow
//! reader only makes our *write* wait. The single exception is a pipe that
//! stays open after the command has exited, held by a process the command
//! left behind: once the command is gone and the pipe stays idle for
//! [`ABANDON_AFTER`], the copy stops and says so on stderr.
//!
//! Output is written a line at a time (a line that does not fit
//! [`LONG_LINE`] goes out in pieces), so that when the user merges both
//! streams (`2>&1`) no line of one is spliced into a line of the other, and
//! when both of our descriptors are the same file the two threads take
//! turns. A pause of [`PAUSE`] flushes the unfinished line, so prompts and
//! progress show. The masker holds back only what could still become a
//! match.
//!
//! The writes themselves happen on a second thread per stream (see
//! [`Writer`]), so that writing one chunk overlaps reading and masking the
//! next; at most [`QUEUED_WRITES`] chunks wait for it, which bounds memory.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ci_secrets_core::mask::StreamMasker;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// How long the command may be silent before an unfinished line is shown.
pub const PAUSE: Duration = Duration::from_millis(25);

/// How long a pipe may stay idle after the command exited before we stop
/// copying it (a background process still holds it).
pub const ABANDON_AFTER: Duration = Duration::from_secs(2);

/// An unfinished line longer than this is written without waiting for its end.
pub const LONG_LINE: usize = 64 * 1024;

/// Bytes read from the command's pipe at a time. Measured (64 MiB of
/// build log through `cat`, 10 secrets, medians of 31 runs on 2 cores):
/// 64 KiB 57 ms, 128 KiB 52 ms, 256 KiB 50 ms, 1 MiB 53 ms.
const READ_SIZE: usize = 256 * 1024;

/// How much the command may write ahead of our reads. Linux's default of
/// 64 KiB makes a fast writer wait for every read and us wake up for every
/// 64 KiB; a bigger pipe lets both run at once. Best effort: the system may
/// cap it (`/proc/sys/fs/pipe-max-size`).
const PIPE_SIZE: i32 = 1 << 20;

/// Masked chunks waiting for the writer thread: one may wait while another
/// is written and a third is masked. A queue of 4 copied no faster (same
/// median wall over 41 runs) and holds 768 KiB more.
const QUEUED_WRITES: usize = 1;

/// Which of the command's streams a pump copies (for messages).
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// Told when the command has exited: every pump watches the read end, which
/// becomes readable (end of file) once [`ExitNotice::command_exited`] drops
/// the write end.
#[derive(Debug)]
pub struct ExitNotice {
    write_end: Option<OwnedFd>,
    read_end: OwnedFd,
}

impl ExitNotice {
    pub fn new() -> std::io::Result<Self> {
        let (read_end, write_end) = nix::unistd::pipe()?;
        Ok(Self {
            write_end: Some(write_end),
            read_end,
        })
    }

    fn watcher(&self) -> std::io::Result<OwnedFd> {
        self.read_end.try_clone()
    }

    pub fn command_exited(&mut self) {
        self.write_end = None;
    }
}

/// Turns taken by the pumps when they write to the same file.
pub type WriteTurns = Arc<Mutex<()>>;

/// One lock for both pumps when our stdout and stderr are the same file
/// (a merged `2>&1`), otherwise one each, so a blocked stdout does not
/// hold up stderr.
pub fn write_turns(stdout: &File, stderr: &File) -> [WriteTurns; 2] {
    let identity = |file: &File| file.metadata().ok().map(|meta| (meta.dev(), meta.ino()));
    let shared = Arc::new(Mutex::new(()));
    match (identity(stdout), identity(stderr)) {
        (Some(out), Some(err)) if out == err => [Arc::clone(&shared), shared],
        _ => [shared, Arc::new(Mutex::new(()))],
    }
}

/// A running copy of one stream.
#[derive(Debug)]
pub struct Pump {
    thread: JoinHandle<std::io::Result<()>>,
}

impl Pump {
    /// Starts copying `source` (the command's pipe) to `sink` (our own
    /// descriptor), masking with `masker`.
    pub fn start(
        stream: Stream,
        source: OwnedFd,
        sink: File,
        masker: StreamMasker,
        turns: WriteTurns,
        notice: &ExitNotice,
    ) -> std::io::Result<Self> {
        let exited = notice.watcher()?;
        let _ = nix::fcntl::fcntl(&source, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
        // Reads never block: the copy reads until the pipe is empty and
        // only then waits, with the timeout of a pause.
        let flags = nix::fcntl::fcntl(&source, nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&source, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        let writer = Writer::start(stream, sink, turns)?;
        let thread = std::thread::Builder::new()
            .name(format!("ci-secrets-{}", stream.name()))
            .spawn(move || {
                let mut copy = Copy {
                    stream,
                    source: File::from(source),
                    writer,
                    masker,
                    line: Vec::new(),
                };
                let copied = copy.run(exited);
                // The writer's error (our reader went away, say) is the
                // cause of any failure to hand it a chunk.
                match (copied, copy.writer.finish()) {
                    (_, Err(err)) => Err(err),
                    (copied, Ok(())) => copied,
                }
            })?;
        Ok(Self { thread })
    }

    /// Waits until the stream is copied (or abandoned).
    pub fn join(self) -> std::io::Result<()> {
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the output copy panicked")))
    }
}

struct Copy {
    stream: Stream,
    source: File,
    writer: Writer,
    masker: StreamMasker,
    /// Masked output after the last line end, not yet written.
    line: Vec<u8>,
}

/// What waiting on the pipe found.
enum Ready {
    Data,
    Paused,
    CommandExited,
}

/// What one read of the pipe gave.
enum Got {
    Data,
    Empty,
    End,
}

impl Copy {
    fn run(&mut self, exited: OwnedFd) -> std::io::Result<()> {
        let mut buffer = zeroize::Zeroizing::new(vec![0u8; READ_SIZE]);
        let mut command_running = true;
        // Output was taken in since the last pause: a pause must flush it.
        let mut unflushed = false;
        loop {
            // What the pipe holds is copied before waiting: a busy command
            // costs one read per chunk, not a wait and a read.
            match self.copy_some(&mut buffer)? {
                Got::Data => {
                    unflushed = true;
                    continue;
                }
                Got::End => return self.end(),
                Got::Empty => {}
            }
            let timeout = if unflushed {
                Some(PAUSE)
            } else if command_running {
                None
            } else {
                Some(ABANDON_AFTER)
            };
            let watch = command_running.then(|| exited.as_fd());
            match wait(self.source.as_fd(), watch, timeout)? {
                Ready::CommandExited => command_running = false,
                Ready::Paused if unflushed => {
                    self.masker.flush_pause_into(&mut self.line);
                    self.write_line()?;
                    unflushed = false;
                }
                Ready::Paused => {
                    self.end()?;
                    // Best effort: our stderr may be the very pipe in question.
                    let _ = writeln!(
                        std::io::stderr(),
                        "ci-secrets: the command exited, but a process it started still holds its {} open; stopped copying it",
                        self.stream.name()
                    );
                    return Ok(());
                }
                Ready::Data => {}
            }
        }
    }

    /// Reads what the pipe holds (up to a buffer) and copies it.
    fn copy_some(&mut self, buffer: &mut [u8]) -> std::io::Result<Got> {
        let count = loop {
            match self.source.read(buffer) {
                Ok(count) => break count,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(Got::Empty),
                Err(err) => return Err(err),
            }
        };
        if count == 0 {
            return Ok(Got::End);
        }
        // Feeding holds back only what a match may still need, as a pause
        // flush would: the flush waits for a real pause. The masked bytes go
        // straight after the unfinished line, in a buffer that is reused.
        self.masker.feed_into(&buffer[..count], &mut self.line);
        self.write_lines()?;
        Ok(Got::Data)
    }

    /// Writes every finished line (or all of a very long one), keeping the rest.
    fn write_lines(&mut self) -> std::io::Result<()> {
        let end = if self.line.len() > LONG_LINE {
            self.line.len()
        } else {
            match self.line.iter().rposition(|&byte| byte == b'\n') {
                Some(last) => last + 1,
                None => return Ok(()),
            }
        };
        self.hand_over(end)
    }

    /// Writes the unfinished line too.
    fn write_line(&mut self) -> std::io::Result<()> {
        self.hand_over(self.line.len())
    }

    /// Hands `line[..end]` to the writer; the unfinished rest starts the
    /// next buffer (a spare one the writer gave back, when there is one).
    fn hand_over(&mut self, end: usize) -> std::io::Result<()> {
        if end == 0 {
            return Ok(());
        }
        let mut next = self.writer.spare();
        next.extend_from_slice(&self.line[end..]);
        self.line.truncate(end);
        let full = std::mem::replace(&mut self.line, next);
        self.writer.write(full)
    }

    /// End of the stream: everything goes out, and is written when this
    /// returns.
    fn end(&mut self) -> std::io::Result<()> {
        self.masker.finish_into(&mut self.line);
        self.write_line()?;
        self.writer.finish()
    }
}

/// Writes one stream's masked chunks, in order, on a thread of its own.
struct Writer {
    chunks: Option<SyncSender<Vec<u8>>>,
    /// Written buffers, given back to be filled again.
    spares: Receiver<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Writer {
    fn start(stream: Stream, mut sink: File, turns: WriteTurns) -> std::io::Result<Self> {
        let (chunks, to_write) = sync_channel::<Vec<u8>>(QUEUED_WRITES);
        let (give_back, spares) = sync_channel(QUEUED_WRITES + 1);
        let thread = std::thread::Builder::new()
            .name(format!("ci-secrets-{}-w", stream.name()))
            .spawn(move || {
                for mut chunk in to_write {
                    write_turn(&turns, &mut sink, &chunk)?;
                    chunk.clear();
                    // No room: the buffer is dropped, one more is made later.
                    let _ = give_back.try_send(chunk);
                }
                Ok(())
            })?;
        Ok(Self {
            chunks: Some(chunks),
            spares,
            thread: Some(thread),
        })
    }

    /// An empty buffer.
    fn spare(&self) -> Vec<u8> {
        self.spares.try_recv().unwrap_or_default()
    }

    /// Queues `chunk`, waiting while the writer is behind. When the writer
    /// stopped on an error, returns that error.
    fn write(&mut self, chunk: Vec<u8>) -> std::io::Result<()> {
        let sent = self
            .chunks
            .as_ref()
            .is_some_and(|chunks| chunks.send(chunk).is_ok());
        if sent {
            return Ok(());
        }
        self.finish()?;
        Err(std::io::Error::other("the output writer has stopped"))
    }

    /// Waits until every queued chunk is written (once; later calls return
    /// `Ok`).
    fn finish(&mut self) -> std::io::Result<()> {
        self.chunks = None;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the output writer panicked"))),
            None => Ok(()),
        }
    }
}

/// Writes `bytes` in our turn.
fn write_turn(turns: &WriteTurns, sink: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    // A poisoned lock only means the other pump panicked; turns still work.
    let _turn = turns
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    write_all_blocking(sink, bytes)
}

/// Waits until the pipe has data (or its end), the command exits, or the
/// timeout passes.
fn wait(
    source: BorrowedFd<'_>,
    exited: Option<BorrowedFd<'_>>,
    timeout: Option<Duration>,
) -> std::io::Result<Ready> {
    let timeout = match timeout {
        Some(timeout) => PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX),
        None => PollTimeout::NONE,
    };
    let mut fds = vec![PollFd::new(source, PollFlags::POLLIN)];
    if let Some(exited) = exited {
        fds.push(PollFd::new(exited, PollFlags::POLLIN));
    }
    loop {
        match poll(&mut fds, timeout) {
            Ok(0) => return Ok(Ready::Paused),
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
    let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|events| !events.is_empty());
    // Data first: the command's last output is copied before its exit counts.
    if ready(&fds[0]) {
        return Ok(Ready::Data);
    }
    Ok(Ready::CommandExited)
}

/// `write_all` that also waits out a non-blocking descriptor.
fn write_all_blocking(sink: &mut File, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match sink.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(sink.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(errno) => return Err(errno.into()),
                }
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ci_secrets_core::mask::MaskSet;

    use super::*;

    const SECRET: &[u8] = b"pump-test-secret-0123456789";

    /// A pump from a pipe the test writes (the command's end) to a pipe the
    /// test reads (our output).
    struct Running {
        command: File,
        output: File,
        notice: ExitNotice,
        pump: Pump,
    }

    fn masks() -> MaskSet {
        MaskSet::new([("SECRET", SECRET)]).0
    }

    fn start() -> Running {
        let (source, command) = nix::unistd::pipe().unwrap();
        let (output, sink) = nix::unistd::pipe().unwrap();
        let notice = ExitNotice::new().unwrap();
        let pump = Pump::start(
            Stream::Stdout,
            source,
            File::from(sink),
            masks().stream(),
            Arc::new(Mutex::new(())),
            &notice,
        )
        .unwrap();
        Running {
            command: File::from(command),
            output: File::from(output),
            notice,
            pump,
        }
    }

    impl Running {
        /// Ends the command and returns the rest of the output.
        fn end(mut self) -> Vec<u8> {
            drop(self.command);
            self.notice.command_exited();
            let mut output = self.output;
            let reader = std::thread::spawn(move || {
                let mut rest = Vec::new();
                output.read_to_end(&mut rest).unwrap();
                rest
            });
            self.pump.join().unwrap();
            reader.join().unwrap()
        }
    }

    /// What comes out of the pump when the command writes `input` at once
    /// and exits.
    fn pumped(input: &[u8]) -> Vec<u8> {
        let Running {
            mut command,
            output,
            notice,
            pump,
        } = start();
        // Read while the command writes: more is written than the pipes hold.
        let reader = std::thread::spawn(move || {
            let mut output = output;
            let mut all = Vec::new();
            output.read_to_end(&mut all).unwrap();
            all
        });
        command.write_all(input).unwrap();
        let mut notice = notice;
        drop(command);
        notice.command_exited();
        pump.join().unwrap();
        reader.join().unwrap()
    }

    /// Build-log lines with the secret at `offsets` (which may cut lines
    /// and fall across the pump's reads), `size` bytes in all.
    fn log_with_secrets(size: usize, offsets: &[usize]) -> Vec<u8> {
        let mut text = Vec::with_capacity(size + 64);
        let mut line = 0;
        while text.len() < size {
            text.extend_from_slice(
                format!("[{line:>8}] compiling crate-{} 100% done\n", line % 97).as_bytes(),
            );
            line += 1;
        }
        text.truncate(size);
        for &offset in offsets {
            text[offset..offset + SECRET.len()].copy_from_slice(SECRET);
        }
        text
    }

    #[test]
    fn megabytes_come_out_exactly_as_masked_whole() {
        // Values across where 256 KiB reads and the 1 MiB pipe end, when
        // the command is ahead of the copy.
        let size = 3 * 1024 * 1024;
        let offsets: Vec<usize> = (1..12)
            .map(|i| i * READ_SIZE - SECRET.len() / 2)
            .chain([0, size - SECRET.len()])
            .collect();
        let input = log_with_secrets(size, &offsets);
        let expected = masks().mask_all(&input);
        assert_eq!(
            expected
                .windows(MASKED.len())
                .filter(|window| *window == MASKED)
                .count(),
            offsets.len()
        );
        let output = pumped(&input);
        assert_eq!(output.len(), expected.len());
        assert!(output == expected, "output differs");
    }

    #[test]
    fn a_long_line_without_an_end_comes_out_masked() {
        let mut input = vec![b'x'; 1024 * 1024];
        for offset in [LONG_LINE - 3, 2 * LONG_LINE + 1, READ_SIZE - 10, 900_000] {
            input[offset..offset + SECRET.len()].copy_from_slice(SECRET);
        }
        let expected = masks().mask_all(&input);
        let output = pumped(&input);
        assert!(output == expected, "output differs");
    }

    #[test]
    fn a_pause_shows_the_unfinished_line_but_not_half_a_value() {
        let mut running = start();
        running.command.write_all(b"password? ").unwrap();
        // Shown without its line end, after a pause.
        let mut shown = [0u8; 64];
        let count = running.output.read(&mut shown).unwrap();
        assert_eq!(&shown[..count], b"password? ");
        // Half a value, then a pause: nothing of it shows.
        let (first, second) = SECRET.split_at(SECRET.len() / 2);
        running.command.write_all(first).unwrap();
        std::thread::sleep(PAUSE * 4);
        running.command.write_all(second).unwrap();
        running.command.write_all(b" ok\n").unwrap();
        assert_eq!(running.end(), b"[MASKED] ok\n");
    }

    const MASKED: &[u8] = b"[MASKED]";
}
