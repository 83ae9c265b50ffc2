//! Any bytes given to `Frame::decode`: an error or a frame, never a panic;
//! a decoded frame re-encodes, and its views iterate to the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memwire::codec::{Frame, WriteTarget, peek_hello_version};

fuzz_target!(|data: &[u8]| {
    let _ = peek_hello_version(data);
    let Ok(frame) = Frame::decode(data) else {
        return;
    };
    match frame {
        Frame::Update(u) => assert!(u.ranges.iter().all(|s| !s.bytes.is_empty())),
        Frame::Write(w) => {
            if let WriteTarget::Ranges(r) = w.target {
                let _ = r.iter().count();
            }
        }
        Frame::Schema(s) => assert!(s.variables.iter().all(|v| v.count > 0)),
        Frame::Welcome(w) => {
            let _ = w.regions.iter().count();
        }
        _ => {}
    }
    // Decoding accepts non-minimal varints, so the bytes may differ, but the
    // re-encoded frame must decode to the same frame.
    let mut buf = vec![0u8; data.len() + 16];
    let n = frame.encode(&mut buf).expect("a decoded frame encodes");
    assert!(n <= data.len());
    assert_eq!(Frame::decode(&buf[..n]), Ok(frame));
});
