//! A server the harness runs as its own child (OpenBao, moto): on a free
//! loopback port, its output in a log file, stopped and reaped on drop.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::BenchError;

/// A loopback port nothing listens on now, for a server to take.
pub fn free_port() -> Result<u16, BenchError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|err| BenchError::io("finding a free port", err))
}

/// A running server process; killed and reaped when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// Spawns `command` (whose program is `program`) with no input and its
    /// stdout and stderr in a new file `log`; `what` names the server in
    /// errors.
    pub fn spawn(
        command: &mut Command,
        program: &Path,
        log: &Path,
        what: &str,
    ) -> Result<Self, BenchError> {
        let log =
            std::fs::File::create(log).map_err(|err| BenchError::io(format!("{what} log"), err))?;
        let log_err = log
            .try_clone()
            .map_err(|err| BenchError::io(format!("{what} log"), err))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|err| BenchError::io(format!("starting {}", program.display()), err))?;
        Ok(Self { child })
    }

    /// The exit status, if the server has already exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
