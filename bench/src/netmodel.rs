//! A network model for the harness: a TCP proxy on loopback that carries
//! every byte half a round trip late in each direction, as a real link does.
//!
//! Adding latency per request in the server (the emulator's `latency`
//! option) charges a request one round trip, but a new connection nothing.
//! On a real network a new TCP connection costs a round trip before the
//! first byte can go (SYN, SYN-ACK), and a TLS handshake costs the round
//! trips its messages really take (one with TLS 1.3, two with TLS 1.2).
//! Through this proxy the client pays exactly that: the first byte a client
//! sends on a connection leaves one RTT after the connection was accepted,
//! and from then on bytes travel RTT/2 each way, so a handshake costs
//! whatever its message flights cost. Bandwidth is not limited.
//!
//! The proxy also counts the connections it carried, so a report can say
//! how many a tool opened.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::BenchError;

/// tokio's timer fires on the first millisecond tick at or after the
/// deadline, so a sleep lasts up to 1 ms longer than asked. Waking half a
/// tick early makes the delay right on average instead of late by half a
/// millisecond at every crossing (a 4-round-trip job crosses 8 times).
const TIMER_TICK_HALF: Duration = Duration::from_micros(500);

/// Chunks in flight per direction before the reader waits: bounds the
/// proxy's memory whatever a peer sends.
const IN_FLIGHT_CHUNKS: usize = 256;
const CHUNK: usize = 64 * 1024;

/// A running proxy; stops accepting when dropped.
#[derive(Debug)]
pub struct DelayProxy {
    address: SocketAddr,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DelayProxy {
    /// Listens on an ephemeral loopback port and forwards every connection
    /// to `upstream` with `rtt` of modelled network between them. Without
    /// `charge_connections`, a connection's set-up is free and only the
    /// bytes are late: the model of "one round trip per request".
    pub async fn start(
        upstream: SocketAddr,
        rtt: Duration,
        charge_connections: bool,
    ) -> Result<Self, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|err| BenchError::io("binding the network-model proxy", err))?;
        let address = listener
            .local_addr()
            .map_err(|err| BenchError::io("binding the network-model proxy", err))?;
        let connections = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(carry(client, upstream, rtt, charge_connections));
            }
        });
        Ok(Self {
            address,
            connections,
            task,
        })
    }

    /// The address clients connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// One connection: the upstream connection is opened at once (loopback), the
/// modelled handshake delays the client's first byte instead.
async fn carry(client: TcpStream, upstream: SocketAddr, rtt: Duration, charge_connection: bool) {
    let accepted = Instant::now();
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let half = rtt / 2;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let handshake = if charge_connection {
        rtt
    } else {
        Duration::ZERO
    };
    let up = delay_line(client_read, server_write, half, accepted + handshake);
    let down = delay_line(server_read, client_write, half, accepted);
    let _ = tokio::join!(up, down);
}

/// Copies `from` to `to`, each chunk written `delay` after it was read but
/// never before `not_before + delay`; the end of the stream travels the same
/// way.
async fn delay_line(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
    not_before: Instant,
) {
    let (sender, mut receiver) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT_CHUNKS);
    let reader = async move {
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let read = from.read(&mut buffer).await.unwrap_or(0);
            let due = Instant::now().max(not_before) + delay;
            // An empty chunk is the end of the stream.
            if sender.send((due, buffer[..read].to_vec())).await.is_err() || read == 0 {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(due - TIMER_TICK_HALF).await;
            if chunk.is_empty() || to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// An echo server, and one exchange through the proxy: the bytes come
    /// back intact, and the first exchange on a connection costs two round
    /// trips (connection set-up, then the exchange), the second one.
    #[tokio::test]
    async fn a_new_connection_costs_one_round_trip_and_each_exchange_one_more() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.into_split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        let rtt = Duration::from_millis(40);
        let proxy = DelayProxy::start(upstream, rtt, true).await.unwrap();
        let started = Instant::now();
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        let mut answer = [0u8; 5];
        stream.write_all(b"hello").await.unwrap();
        stream.read_exact(&mut answer).await.unwrap();
        let first = started.elapsed();
        assert_eq!(&answer, b"hello");
        let again = Instant::now();
        stream.write_all(b"world").await.unwrap();
        stream.read_exact(&mut answer).await.unwrap();
        let second = again.elapsed();
        assert_eq!(&answer, b"world");
        // Lower bounds only: a loaded machine may add time, never remove it
        // (beyond the half timer tick each crossing may wake early).
        let early = TIMER_TICK_HALF * 4;
        assert!(first + early >= rtt * 2, "first exchange took {first:?}");
        assert!(second + early >= rtt, "second exchange took {second:?}");
        assert_eq!(proxy.connections(), 1);
    }
}
