//! The tap against byte streams a server would send, delivered in pieces of 1, 7, 64 bytes
//! and whole, read back through output buffers of several sizes: the driver must get every
//! byte but the tapped CopyData messages, the reader exactly their bodies, in order.

use super::*;

/// One backend message: tag, length (counting itself), body.
fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// CopyData bodies of assorted sizes: empty, one byte, a few bytes, longer than a piece.
fn payloads() -> Vec<Vec<u8>> {
    (0..40usize)
        .map(|i| (0..(i * 37) % 300).map(|j| (i * 31 + j) as u8).collect())
        .collect()
}

/// The login, then one COPY with `payloads` (a notice among them), then its end.
fn server_stream(payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let mut login = msg(b'R', &0i32.to_be_bytes());
    login.extend(msg(b'S', b"client_encoding\0UTF8\0"));
    login.extend(msg(b'Z', b"I"));
    let mut copy = msg(b'1', b"");
    copy.extend(msg(b'2', b""));
    copy.extend(msg(b'H', &[1, 0, 1, 0, 1]));
    for (i, p) in payloads.iter().enumerate() {
        if i == 5 {
            copy.extend(msg(b'N', b"SNOTICE\0Mjust so\0\0"));
        }
        copy.extend(msg(b'd', p));
    }
    copy.extend(msg(b'c', b""));
    copy.extend(msg(b'C', b"COPY 40\0"));
    copy.extend(msg(b'Z', b"I"));
    (login, copy)
}

/// `data` without the `d` messages between the first `H` and the next `c` or `E`.
fn without_copy_data(data: &[u8]) -> Vec<u8> {
    let (mut out, mut pos, mut copying) = (Vec::new(), 0, false);
    while pos + 5 <= data.len() {
        let len = i32::from_be_bytes(data[pos + 1..pos + 5].try_into().unwrap()) as usize;
        let tag = data[pos];
        match tag {
            b'H' => copying = true,
            b'c' | b'E' => copying = false,
            _ => {}
        }
        if !(tag == b'd' && copying) {
            out.extend_from_slice(&data[pos..pos + 1 + len]);
        }
        pos += 1 + len;
    }
    out
}

/// A socket that returns at most `piece` bytes per read, `Pending` every third read.
struct Pieces {
    data: Vec<u8>,
    pos: usize,
    piece: usize,
    reads: usize,
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.reads += 1;
        if self.reads.is_multiple_of(3) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = self
            .piece
            .min(self.data.len() - self.pos)
            .min(out.remaining());
        let from = self.pos;
        out.put_slice(&self.data[from..from + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

fn tap_over(data: Vec<u8>, piece: usize) -> (Tap<Pieces>, CopyTap) {
    Tap::new(Pieces {
        data,
        pos: 0,
        piece,
        reads: 0,
    })
}

/// Reads `tap` to its end through buffers of `out_len` bytes, taking tapped data whenever
/// `armed` is given and `take_every` reads have passed; (passed bytes, taken bytes).
fn drain(
    tap: &mut Tap<Pieces>,
    armed: Option<&Armed>,
    out_len: usize,
    take_every: usize,
) -> (Vec<u8>, Vec<u8>) {
    let mut cx = Context::from_waker(Waker::noop());
    let (mut passed, mut taken, mut chunk) = (Vec::new(), Vec::new(), Vec::new());
    let mut buf = vec![0u8; out_len];
    for i in 0usize.. {
        assert!(i < 10_000_000, "the tap made no progress");
        if let Some(a) = armed {
            if i.is_multiple_of(take_every) && a.take(&mut chunk, &mut cx) {
                taken.append(&mut chunk);
            }
        }
        let mut rb = ReadBuf::new(&mut buf);
        match Pin::new(&mut *tap).poll_read(&mut cx, &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => break,
            Poll::Ready(Ok(())) => passed.extend_from_slice(rb.filled()),
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => {}
        }
    }
    if let Some(a) = armed {
        if a.take(&mut chunk, &mut cx) {
            taken.append(&mut chunk);
        }
    }
    (passed, taken)
}

#[test]
fn an_armed_copy_is_taken_off_whatever_the_pieces() {
    let payloads = payloads();
    let (_, all) = server_stream(&payloads);
    for piece in [1, 7, 64, all.len()] {
        for out_len in [1, 5, 13, 8192] {
            let (mut tap, handle) = tap_over(all.clone(), piece);
            let armed = handle.arm();
            let (passed, taken) = drain(&mut tap, Some(&armed), out_len, 1);
            let at = format!("piece {piece}, out {out_len}");
            assert!(
                passed == without_copy_data(&all),
                "{at}: passed bytes differ"
            );
            assert!(taken == payloads.concat(), "{at}: taken bytes differ");
            assert!(!armed.copying());
        }
    }
}

#[test]
fn without_arming_every_byte_passes() {
    let (login, copy) = server_stream(&payloads());
    let mut all = login;
    all.extend_from_slice(&copy);
    for piece in [1, 7, 64] {
        let (mut tap, _handle) = tap_over(all.clone(), piece);
        let (passed, _) = drain(&mut tap, None, 8192, 1);
        assert!(passed == all, "piece {piece}: passed bytes differ");
    }
}

#[test]
fn a_cut_off_copy_ends_the_stream_with_what_arrived() {
    let payloads = payloads();
    let (_, all) = server_stream(&payloads);
    // Cut inside the 10th CopyData's body, and inside the 20th's header.
    let body_start = |k: usize| {
        let mut pos = 0;
        let mut seen = 0;
        loop {
            let len = i32::from_be_bytes(all[pos + 1..pos + 5].try_into().unwrap()) as usize;
            if all[pos] == b'd' {
                if seen == k {
                    return pos;
                }
                seen += 1;
            }
            pos += 1 + len;
        }
    };
    for (cut, whole) in [(body_start(10) + 5 + 3, 10), (body_start(20) + 2, 20)] {
        for piece in [1, 7, 64] {
            let (mut tap, handle) = tap_over(all[..cut].to_vec(), piece);
            let armed = handle.arm();
            let (passed, taken) = drain(&mut tap, Some(&armed), 8192, 1);
            let mut want = payloads[..whole].concat();
            if cut > body_start(whole) + 5 {
                want.extend_from_slice(&payloads[whole][..cut - body_start(whole) - 5]);
            }
            assert!(
                taken == want,
                "cut {cut}, piece {piece}: taken bytes differ"
            );
            assert!(passed == without_copy_data(&all[..body_start(whole)]));
            // The COPY never ended: the reader learns it from the driver's stream.
            assert!(armed.copying());
        }
    }
}

#[test]
fn a_full_buffer_stops_reading_until_the_reader_takes() {
    let big: Vec<Vec<u8>> = (0..40).map(|i| vec![i as u8; 100_000]).collect();
    let (_, all) = server_stream(&big);
    let (mut tap, handle) = tap_over(all.clone(), 1 << 20);
    let armed = handle.arm();
    let mut cx = Context::from_waker(Waker::noop());
    let mut buf = vec![0u8; 8192];
    // Without taking, the tap holds at most one read past its limit and then waits.
    let mut first = Vec::new();
    for _ in 0..1000 {
        let mut rb = ReadBuf::new(&mut buf);
        if let Poll::Ready(r) = Pin::new(&mut tap).poll_read(&mut cx, &mut rb) {
            r.unwrap();
            assert!(!rb.filled().is_empty(), "a full tap ended the stream");
            first.extend_from_slice(rb.filled());
        }
    }
    let held = lock(&armed.0).data.len();
    assert!(
        (TAP_LIMIT..TAP_LIMIT + READ_BYTES).contains(&held),
        "{held}"
    );
    // Taking now and then, everything comes through, in order.
    let (passed, taken) = drain(&mut tap, Some(&armed), 8192, 5);
    assert!(taken == big.concat(), "taken bytes differ");
    assert!(!armed.take(&mut Vec::new(), &mut cx));
    first.extend_from_slice(&passed);
    assert!(first == without_copy_data(&all), "passed bytes differ");
}

#[test]
fn a_reader_that_stops_early_lets_the_rest_pass_by() {
    let first: Vec<Vec<u8>> = (0..30).map(|i| vec![i as u8; 50_000]).collect();
    let second = payloads();
    let (_, mut all) = server_stream(&first);
    let (_, copy2) = server_stream(&second);
    all.extend_from_slice(&copy2);
    for piece in [1, 7, 64, 100_000] {
        let (mut tap, handle) = tap_over(all.clone(), piece);
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = vec![0u8; 8192];
        let mut passed = Vec::new();
        // The first reader takes one piece and stops (its guard dropped mid-COPY) ...
        let armed = handle.arm();
        let mut chunk = Vec::new();
        while !armed.take(&mut chunk, &mut cx) {
            let mut rb = ReadBuf::new(&mut buf);
            if let Poll::Ready(r) = Pin::new(&mut tap).poll_read(&mut cx, &mut rb) {
                r.unwrap();
                passed.extend_from_slice(rb.filled());
            }
        }
        assert!(armed.copying());
        drop(armed);
        // ... the next one, armed before the first COPY's rest came, gets only its own:
        // the rest of the first is discarded, as the driver would.
        let armed = handle.arm();
        let (rest, taken) = drain(&mut tap, Some(&armed), 8192, 1);
        passed.extend_from_slice(&rest);
        assert!(
            taken == second.concat(),
            "piece {piece}: taken bytes differ"
        );
        assert!(
            passed == without_copy_data(&all),
            "piece {piece}: passed bytes differ"
        );
    }
}

#[test]
fn a_copy_after_its_statement_was_prepared_is_taken() {
    // tokio-postgres prepares the COPY first: Parse, Describe, Sync answered with
    // ParseComplete, ParameterDescription, NoData and a ReadyForQuery before the COPY's own
    // BindComplete and CopyOutResponse.
    let payloads = payloads();
    let (_, copy) = server_stream(&payloads);
    let mut all = msg(b'1', b"");
    all.extend(msg(b't', &[0, 0]));
    all.extend(msg(b'n', b""));
    all.extend(msg(b'Z', b"I"));
    all.extend_from_slice(&copy);
    for piece in [1, 7, 64] {
        let (mut tap, handle) = tap_over(all.clone(), piece);
        let armed = handle.arm();
        let (passed, taken) = drain(&mut tap, Some(&armed), 8192, 1);
        assert!(
            passed == without_copy_data(&all),
            "piece {piece}: passed bytes differ"
        );
        assert!(
            taken == payloads.concat(),
            "piece {piece}: taken bytes differ"
        );
    }
}

#[test]
fn a_copy_that_fails_to_start_disarms() {
    // The COPY's statement fails (an ErrorResponse instead of the CopyOutResponse); a
    // later COPY, not armed for, reaches the driver whole.
    let (_, copy) = server_stream(&payloads());
    let mut all = msg(b'E', b"SERROR\0C42P01\0Mno such table\0\0");
    all.extend(msg(b'Z', b"I"));
    all.extend_from_slice(&copy);
    let (mut tap, handle) = tap_over(all.clone(), 7);
    let armed = handle.arm();
    let (passed, taken) = drain(&mut tap, Some(&armed), 8192, 1);
    assert!(passed == all, "passed bytes differ");
    assert!(taken.is_empty());
}

#[test]
fn an_error_ends_the_copy_and_passes() {
    let payloads = payloads();
    let mut copy = msg(b'H', &[1, 0, 0]);
    copy.extend(msg(b'd', &payloads[3]));
    copy.extend(msg(b'E', b"SERROR\0C57014\0Mcanceling\0\0"));
    copy.extend(msg(b'Z', b"I"));
    copy.extend(msg(b'd', b"not a copy any more"));
    let (mut tap, handle) = tap_over(copy.clone(), 7);
    let armed = handle.arm();
    let (passed, taken) = drain(&mut tap, Some(&armed), 8192, 1);
    assert!(taken == payloads[3]);
    assert!(passed == without_copy_data(&copy));
    assert!(passed.ends_with(&msg(b'd', b"not a copy any more")));
    assert!(!armed.copying());
}

#[test]
fn an_impossible_length_passes_everything_through() {
    let mut data = msg(b'H', &[1, 0, 0]);
    data.extend_from_slice(&[b'd', 0, 0, 0, 2, 9, 9, 9]);
    let (mut tap, handle) = tap_over(data.clone(), 3);
    let armed = handle.arm();
    let (passed, taken) = drain(&mut tap, Some(&armed), 8192, 1);
    // The header of the broken CopyData was taken as data's frame, the rest passes.
    assert_eq!(passed, [&msg(b'H', &[1, 0, 0])[..], &[9, 9, 9]].concat());
    assert!(taken.is_empty());
    assert!(!armed.copying());
}

#[test]
fn a_sweep_takes_whole_copy_data_messages_and_stops_at_anything_else() {
    let mut stream = msg(b'd', b"ab");
    stream.extend(msg(b'd', b""));
    stream.extend(msg(b'd', b"cde"));
    let whole = stream.len();
    let mut data = Vec::new();
    assert_eq!(sweep(&stream, &mut data), whole);
    assert_eq!(data, b"abcde");
    // Another message, a cut-off one and a length that cannot be are the state machine's.
    for (tail, why) in [
        (msg(b'N', b"x"), "another message"),
        (msg(b'd', b"fgh")[..6].to_vec(), "a cut-off message"),
        (vec![b'd', 0, 0, 0, 3], "a length below 4"),
        (vec![b'd', 0xff, 0xff, 0xff, 0xff], "a negative length"),
    ] {
        let mut s = stream.clone();
        s.extend_from_slice(&tail);
        let mut data = Vec::new();
        assert_eq!(sweep(&s, &mut data), whole, "{why}");
        assert_eq!(data, b"abcde", "{why}");
    }
    // A full buffer stops the sweep at a message boundary.
    let big = msg(b'd', &vec![7u8; TAP_LIMIT]);
    let mut s = big.clone();
    s.extend(msg(b'd', b"next"));
    let mut data = Vec::new();
    assert_eq!(sweep(&s, &mut data), big.len());
    assert_eq!(data.len(), TAP_LIMIT);
}
