//! Codec round trips: frames encode and decode to themselves, framed
//! streams reassemble in any split, bad bytes are errors.

use memwire::codec::{
    Ack, ErrorCode, ErrorFrame, Feed, Frame, FrameAccumulator, Framing, Hello, PROTOCOL_VERSION,
    Ranges, Span, Update, UpdateBase,
};

use crate::Report;

const MAX: usize = 256;

/// Runs the codec checks.
pub(crate) fn run(report: &mut Report) {
    report.section("codec");
    let mut payload = [0u8; 64];
    let spans = [
        Span {
            offset: 4,
            bytes: &[1, 2, 3, 4],
        },
        Span {
            offset: 600,
            bytes: &[0xFF; 20],
        },
    ];
    let Ok(ranges) = Ranges::encode(spans, &mut payload) else {
        report.check("Ranges::encode", false);
        return;
    };
    report.check(
        "ranges: encoded spans iterate back",
        ranges.iter().eq(spans.iter().copied()),
    );
    let frames = [
        Frame::Hello(Hello {
            version: PROTOCOL_VERSION,
            max_frame: 256,
            client: "probe",
            tenant: "acme",
        }),
        Frame::Ping { nonce: 0xDEAD_BEEF },
        Frame::Ack(Ack {
            handle: 1,
            generation: 1 << 40,
        }),
        Frame::Update(Update {
            handle: 1,
            base: UpdateBase::At(3),
            step: 2,
            last: true,
            ranges,
        }),
        Frame::Error(ErrorFrame {
            code: ErrorCode::RateLimited,
            handle: None,
            reason: "slow down",
        }),
        Frame::Close,
    ];

    let mut all = true;
    let mut buf = [0u8; MAX];
    for frame in &frames {
        let ok = match frame.encode(&mut buf) {
            Ok(n) => {
                n == frame.encoded_len()
                    && buf.get(..n).is_some_and(|body| {
                        Frame::decode(body) == Ok(*frame)
                            && body
                                .get(..n - 1)
                                .is_some_and(|short| Frame::decode(short).is_err())
                    })
            }
            Err(_) => false,
        };
        all &= ok;
    }
    report.check("frames: encode, decode, truncation refused", all);
    report.check(
        "frames: an unknown tag is refused",
        Frame::decode(&[0x7F]).is_err() && Frame::decode(&[]).is_err(),
    );
    report.check(
        "frames: a small buffer is an error, not a panic",
        frames
            .first()
            .is_some_and(|hello| hello.encode(&mut [0u8; 4]).is_err()),
    );

    for (name, framing) in [
        (
            "framing: length prefix reassembles in any split",
            Framing::LengthPrefix,
        ),
        ("framing: cobs reassembles in any split", Framing::Cobs),
    ] {
        let mut stream = [0u8; 4 * MAX];
        let mut len = 0;
        for frame in &frames {
            let n = stream
                .get_mut(len..)
                .map(|rest| framing.encode(frame, rest));
            match n {
                Some(Ok(n)) => len += n,
                _ => report.check("framing: encode", false),
            }
        }
        let stream = stream.get(..len).unwrap_or(&[]);
        let whole = reassemble(framing, &[stream], &frames);
        // One byte at a time: every split point.
        let mut bytes = [&[][..]; 4 * MAX];
        for (slot, byte) in bytes.iter_mut().zip(stream.chunks(1)) {
            *slot = byte;
        }
        let split = reassemble(framing, bytes.get(..len).unwrap_or(&[]), &frames);
        report.check(name, whole && split);
    }

    let mut acc = FrameAccumulator::<MAX>::length_prefix(MAX);
    report.check(
        "framing: an oversized length prefix breaks the stream",
        matches!(acc.feed(&[0x80, 0x10]), Feed::Error { .. }) && acc.is_broken(),
    );
}

/// Feeds `pieces` into a fresh accumulator and checks that exactly
/// `expected` comes out.
fn reassemble(framing: Framing, pieces: &[&[u8]], expected: &[Frame<'_>]) -> bool {
    let mut acc = match framing {
        Framing::Cobs => FrameAccumulator::<MAX>::cobs(MAX),
        _ => FrameAccumulator::<MAX>::length_prefix(MAX),
    };
    let mut next = expected.iter();
    for piece in pieces {
        let mut input = *piece;
        loop {
            match acc.feed(input) {
                Feed::Pending => break,
                Feed::Frame { body, rest } => {
                    if next
                        .next()
                        .is_none_or(|want| Frame::decode(body) != Ok(*want))
                    {
                        return false;
                    }
                    input = rest;
                }
                Feed::Error { .. } => return false,
            }
        }
    }
    next.next().is_none()
}
