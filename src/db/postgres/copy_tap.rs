//! The source connection's byte stream with `COPY … TO STDOUT` data taken off it before
//! tokio-postgres sees it.
//!
//! The server sends one CopyData message per row. Through tokio-postgres each costs a
//! frame split, a `Message::parse`, a `Bytes` per row and a stream poll: ≈ 14 % of DIRECT's
//! client CPU (benches/PROFILE.md, "Wave 2, session 8"). [`Tap`] sits between the socket
//! and tokio-postgres and follows the protocol's framing (a tag byte, a 32-bit length that
//! counts itself, the body). While a COPY it was armed for runs — from the CopyOutResponse
//! (`H`) to the CopyDone (`c`) or an ErrorResponse (`E`) — it appends each CopyData (`d`)
//! body to a buffer the reader drains ([`CopyTap::take`]) and passes every other message
//! through unchanged: tokio-postgres still sees the COPY start and end, its errors and the
//! server's notices, and drives the protocol as before (an empty COPY, to it).
//!
//! The buffer is bounded: once it holds [`TAP_LIMIT`] bytes the tap stops reading the
//! socket until the reader has taken them. A reader that stops early (an error) drops its
//! [`Armed`] guard, and the rest of the COPY is discarded as tokio-postgres would.
//! Over TLS the tap sits above the TLS stream ([`connect`]), so it sees the protocol's
//! bytes either way.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;

use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use super::tls::MakeRustls;
use super::ConnectError;
use crate::config::{Endpoint, SslMode, KEEPALIVE_IDLE};

/// The tap stops reading the socket while its buffer holds this many bytes.
pub(crate) const TAP_LIMIT: usize = 512 << 10;
/// Bytes read from the socket per call.
const READ_BYTES: usize = 128 << 10;

#[derive(Default)]
struct Shared {
    /// The next CopyOutResponse starts a tapped COPY.
    armed: bool,
    /// Inside a tapped COPY: CopyData bodies go to `data`.
    copying: bool,
    /// The COPY under way is not the armed reader's (it dropped its guard before the COPY
    /// ended): its CopyData bodies are discarded.
    discard: bool,
    data: Vec<u8>,
    /// The reader, waiting for data.
    reader: Option<Waker>,
    /// The connection task, waiting for the reader to take data.
    writer: Option<Waker>,
}

fn lock(s: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // Nothing panics while holding it; a poisoned lock still holds consistent state.
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the framing is in the stream.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// `have` bytes of the 5-byte header (tag, length) are in `head`.
    Header { have: usize },
    /// `left` bytes of the current body remain; `divert`: they go to the tap's buffer.
    Body { left: usize, divert: bool },
    /// A length that cannot be: everything passes through untouched from here on (the
    /// driver reports the broken stream).
    Lost,
}

/// The connection's stream (see the module doc).
pub(crate) struct Tap<S> {
    inner: S,
    shared: Arc<Mutex<Shared>>,
    buf: Box<[u8]>,
    /// `buf[pos..end]` was read from the socket and not yet handled.
    pos: usize,
    end: usize,
    frame: Frame,
    head: [u8; 5],
}

/// The reader's side of a [`Tap`].
#[derive(Clone)]
pub(crate) struct CopyTap(Arc<Mutex<Shared>>);

impl<S> Tap<S> {
    pub(crate) fn new(inner: S) -> (Tap<S>, CopyTap) {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let tap = Tap {
            inner,
            shared: shared.clone(),
            buf: vec![0; READ_BYTES].into_boxed_slice(),
            pos: 0,
            end: 0,
            frame: Frame::Header { have: 0 },
            head: [0; 5],
        };
        (tap, CopyTap(shared))
    }

    /// Handles `buf[pos..end]` until it is used up, `out` is full, or the tap's buffer is.
    /// Returns `false` when it stopped for the tap's buffer (the waker is registered).
    fn handle(&mut self, out: &mut ReadBuf<'_>, cx: &mut Context<'_>) -> bool {
        let mut shared = lock(&self.shared);
        while self.pos < self.end && out.remaining() > 0 {
            // The hot path: whole CopyData messages of a tapped COPY in one sweep, without
            // the state machine below or a wake per row.
            if matches!(self.frame, Frame::Header { have: 0 }) && shared.copying && !shared.discard
            {
                let swept = sweep(&self.buf[self.pos..self.end], &mut shared.data);
                if swept > 0 {
                    self.pos += swept;
                    if let Some(w) = shared.reader.take() {
                        w.wake();
                    }
                    continue;
                }
            }
            let avail = &self.buf[self.pos..self.end];
            match self.frame {
                Frame::Lost => {
                    let n = avail.len().min(out.remaining());
                    out.put_slice(&avail[..n]);
                    self.pos += n;
                }
                Frame::Header { have } => {
                    if have == 0 {
                        self.head[0] = avail[0];
                        on_tag(&mut shared, avail[0]);
                    }
                    let divert = self.head[0] == b'd' && shared.copying;
                    let mut n = (5 - have).min(avail.len());
                    if !divert {
                        n = n.min(out.remaining());
                        out.put_slice(&avail[..n]);
                    }
                    self.head[have..have + n].copy_from_slice(&avail[..n]);
                    self.pos += n;
                    self.frame = if have + n < 5 {
                        Frame::Header { have: have + n }
                    } else {
                        let len = i32::from_be_bytes([
                            self.head[1],
                            self.head[2],
                            self.head[3],
                            self.head[4],
                        ]);
                        match usize::try_from(len) {
                            Ok(0..=3) | Err(_) => {
                                shared.copying = false;
                                if let Some(w) = shared.reader.take() {
                                    w.wake();
                                }
                                Frame::Lost
                            }
                            Ok(4) => Frame::Header { have: 0 },
                            Ok(len) => Frame::Body {
                                left: len - 4,
                                divert,
                            },
                        }
                    };
                }
                Frame::Body { left, divert } => {
                    let n = if divert {
                        if !shared.discard && shared.data.len() >= TAP_LIMIT {
                            shared.writer = Some(cx.waker().clone());
                            return false;
                        }
                        let n = avail.len().min(left);
                        if !shared.discard {
                            shared.data.extend_from_slice(&avail[..n]);
                            if let Some(w) = shared.reader.take() {
                                w.wake();
                            }
                        }
                        n
                    } else {
                        let n = avail.len().min(left).min(out.remaining());
                        out.put_slice(&avail[..n]);
                        n
                    };
                    self.pos += n;
                    self.frame = if n == left {
                        Frame::Header { have: 0 }
                    } else {
                        Frame::Body {
                            left: left - n,
                            divert,
                        }
                    };
                }
            }
        }
        true
    }
}

/// Appends the bodies of the whole CopyData messages at the start of `avail` to `data`,
/// until `data` holds [`TAP_LIMIT`] bytes; returns the bytes used. Stops at anything
/// else (another message, a cut-off one, a length that cannot be), which the state
/// machine then handles.
fn sweep(avail: &[u8], data: &mut Vec<u8>) -> usize {
    let mut used = 0;
    while data.len() < TAP_LIMIT {
        let Some(&[b'd', a, b, c, d]) = avail.get(used..used + 5) else {
            break;
        };
        let len = match usize::try_from(i32::from_be_bytes([a, b, c, d])) {
            Ok(len) if len >= 4 => len,
            _ => break,
        };
        let Some(body) = avail.get(used + 5..used + 1 + len) else {
            break;
        };
        data.extend_from_slice(body);
        used += 1 + len;
    }
    used
}

/// A message with tag `tag` starts: a tapped COPY starts with a CopyOutResponse and ends
/// with a CopyDone or an error. An error before it disarms (the COPY failed to start). A
/// ReadyForQuery does not: tokio-postgres prepares the COPY statement first, and that
/// exchange ends with one.
fn on_tag(shared: &mut Shared, tag: u8) {
    match tag {
        b'H' if shared.armed && !shared.copying => {
            shared.armed = false;
            shared.copying = true;
            shared.discard = false;
        }
        b'c' | b'E' if shared.copying => {
            shared.copying = false;
            if let Some(w) = shared.reader.take() {
                w.wake();
            }
        }
        b'E' => shared.armed = false,
        _ => {}
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let start = out.filled().len();
        loop {
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.pos < this.end && !this.handle(out, cx) {
                // The tap's buffer is full: hand over what passed, else wait for the reader.
                return if out.filled().len() > start {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                };
            }
            if out.filled().len() > start {
                return Poll::Ready(Ok(()));
            }
            // Everything read so far was handled (taken off or passed): read more.
            let mut rb = ReadBuf::new(&mut this.buf);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        // End of stream: the driver sees it too.
                        return Poll::Ready(Ok(()));
                    }
                    this.pos = 0;
                    this.end = n;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl CopyTap {
    /// Arms the tap for the next COPY the connection starts (before its query is sent).
    /// The rest of an earlier COPY whose reader stopped early is still discarded.
    pub(crate) fn arm(&self) -> Armed {
        let mut s = lock(&self.0);
        s.armed = true;
        s.data.clear();
        Armed(self.0.clone())
    }
}

/// An armed tap; dropping it discards the rest of the COPY.
pub(crate) struct Armed(Arc<Mutex<Shared>>);

impl Armed {
    /// Swaps the data taken off so far into `into` (which must be empty); `false` with the
    /// waker registered when there is none yet.
    pub(crate) fn take(&self, into: &mut Vec<u8>, cx: &mut Context<'_>) -> bool {
        let mut s = lock(&self.0);
        if s.data.is_empty() {
            s.reader = Some(cx.waker().clone());
            return false;
        }
        std::mem::swap(&mut s.data, into);
        if let Some(w) = s.writer.take() {
            w.wake();
        }
        true
    }

    /// Whether the tapped COPY has started and not yet ended.
    #[cfg(test)]
    fn copying(&self) -> bool {
        lock(&self.0).copying
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let mut s = lock(&self.0);
        s.armed = false;
        s.discard = true;
        s.data = Vec::new();
        if let Some(w) = s.writer.take() {
            w.wake();
        }
    }
}

/// A source connection whose byte stream runs through a [`Tap`]. The socket is opened
/// here (tokio-postgres's `connect` keeps its own), as tokio-postgres would: a Unix socket
/// when the host is a directory, else each address of the host in turn, with TCP_NODELAY
/// and keepalive. TLS is negotiated here too, as the driver does it (an SSLRequest, then
/// rustls's handshake with the same connector when the server answers `S`), so the tap
/// sits above TLS and every `SSLMODE` is tapped; the login then runs over the stream with
/// `connect_raw`. Bounded by the caller's connect timeout.
pub(super) async fn connect(
    cfg: &tokio_postgres::Config,
    endpoint: &Endpoint,
    tls: MakeRustls,
) -> Result<(tokio_postgres::Client, JoinHandle<()>, CopyTap), String> {
    let host = endpoint.host.as_deref().unwrap_or("localhost");
    let port = endpoint.port.unwrap_or(5432);
    let failed = |e: io::Error| format!("error connecting to server: {e}");
    #[cfg(unix)]
    if host.starts_with('/') {
        let path = std::path::Path::new(host).join(format!(".s.PGSQL.{port}"));
        let socket = tokio::net::UnixStream::connect(path)
            .await
            .map_err(failed)?;
        return negotiate(cfg, socket, endpoint, host, tls).await;
    }
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port))
        .await
        .map_err(failed)?
    {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(socket) => {
                socket.set_nodelay(true).map_err(failed)?;
                let keepalive = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE);
                socket2::SockRef::from(&socket)
                    .set_tcp_keepalive(&keepalive)
                    .map_err(failed)?;
                return negotiate(cfg, socket, endpoint, host, tls).await;
            }
            Err(e) => last = Some(e),
        }
    }
    Err(failed(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no address for host {host}"),
        )
    })))
}

/// The protocol's SSLRequest: its length (8) and the request code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// TLS as the endpoint's `SSLMODE` asks (libpq's rules, as tokio-postgres applies them):
/// none for `disable`; for the others an SSLRequest, and the handshake when the server
/// answers `S`; a plain connection when it does not, which only `prefer` accepts.
async fn negotiate<S>(
    cfg: &tokio_postgres::Config,
    mut socket: S,
    endpoint: &Endpoint,
    host: &str,
    mut tls: MakeRustls,
) -> Result<(tokio_postgres::Client, JoinHandle<()>, CopyTap), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mode = endpoint.tls.effective_mode();
    if mode == SslMode::Disable {
        return login(cfg, socket, endpoint).await;
    }
    let failed = |e: &dyn std::fmt::Display| format!("error performing TLS handshake: {e}");
    socket
        .write_all(&SSL_REQUEST)
        .await
        .map_err(|e| failed(&e))?;
    let mut answer = [0u8];
    socket
        .read_exact(&mut answer)
        .await
        .map_err(|e| failed(&e))?;
    if answer[0] != b'S' {
        if mode == SslMode::Prefer {
            return login(cfg, socket, endpoint).await;
        }
        return Err(failed(&"server does not support TLS"));
    }
    let handshake =
        MakeTlsConnect::<S>::make_tls_connect(&mut tls, host).map_err(|e| failed(&e))?;
    let stream = TlsConnect::connect(handshake, socket)
        .await
        .map_err(|e| failed(&e))?;
    login(cfg, stream, endpoint).await
}

async fn login<S>(
    cfg: &tokio_postgres::Config,
    socket: S,
    endpoint: &Endpoint,
) -> Result<(tokio_postgres::Client, JoinHandle<()>, CopyTap), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (stream, tap) = Tap::new(socket);
    // TLS, if any, is already under the stream: the driver must not ask for it again.
    let mut cfg = cfg.clone();
    cfg.ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, connection) = cfg
        .connect_raw(stream, tokio_postgres::NoTls)
        .await
        .map_err(|e| ConnectError::driver(e, endpoint).to_string())?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "source connection ended");
        }
    });
    Ok((client, driver, tap))
}

#[cfg(test)]
#[path = "copy_tap_tests.rs"]
mod tests;
