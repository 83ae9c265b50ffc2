//! A property test with a fixed seed: a connected server driven by
//! arbitrary sequences of valid and invalid frames, its invariants checked
//! after every step. Each write is answered exactly once, or the connection
//! closes before that write changed the region; the region changes only
//! through applied writes; no answer queue grows past its bound.

use std::collections::BTreeMap;
use std::vec::Vec;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::hostile::{Seen, feed, sent};
use super::*;
use crate::codec::{
    Ack, Frame, Framing, Ranges, SchemaPart, Span, Subscribe, Unsubscribe, Update, UpdateBase,
    VarTable, Write, WriteOutcome, WriteResult, WriteTarget,
};

/// Answers a server holds at most.
const ANSWERS: usize = 8;

/// One thing the client does.
#[derive(Clone, Debug)]
enum Step {
    /// A write; `how` picks a valid or invalid target.
    Write {
        handle: u16,
        how: u8,
        value: u8,
    },
    Ack {
        handle: u16,
        generation: u64,
    },
    Subscribe {
        handle: u16,
        known: bool,
    },
    Unsubscribe {
        handle: u16,
    },
    Ping(u64),
    Pong(u64),
    WriteResult(u32),
    Schema(u16),
    Update(u16),
    /// A frame body of random bytes.
    Garbage(Vec<u8>),
    /// The client reads everything the server sent.
    Read,
}

fn step() -> impl Strategy<Value = Step> {
    let handle = 0u16..4;
    prop_oneof![
        6 => (handle.clone(), 0u8..6, any::<u8>())
            .prop_map(|(handle, how, value)| Step::Write { handle, how, value }),
        2 => (handle.clone(), 0u64..6).prop_map(|(handle, generation)| Step::Ack { handle, generation }),
        2 => (handle.clone(), prop::bool::weighted(0.8))
            .prop_map(|(handle, known)| Step::Subscribe { handle, known }),
        1 => handle.clone().prop_map(|handle| Step::Unsubscribe { handle }),
        1 => (0u64..4).prop_map(Step::Ping),
        1 => (0u64..4).prop_map(Step::Pong),
        1 => (0u32..40).prop_map(Step::WriteResult),
        1 => handle.clone().prop_map(Step::Schema),
        1 => handle.prop_map(Step::Update),
        1 => vec(any::<u8>(), 0..24).prop_map(Step::Garbage),
        4 => Just(Step::Read),
    ]
}

/// What the test knows of the run.
#[derive(Default)]
struct Model {
    next_request: u32,
    /// Writes fed while the server was open: request → setpoint value.
    writes: BTreeMap<u32, f32>,
    /// Their answers, by request: Applied or not.
    answers: BTreeMap<u32, bool>,
}

fn setpoint_of(pair: &mut Pair<4096>) -> f32 {
    let data = pair.hub.region("robot").data();
    f32::from_le_bytes(data[24..28].try_into().unwrap())
}

fn run_step(pair: &mut Pair<4096>, model: &mut Model, step: &Step) {
    let mut spans = std::vec![0u8; 64];
    let owned_value;
    match *step {
        Step::Write { handle, how, value } => {
            model.next_request += 1;
            let request = model.next_request;
            let v = f32::from(value);
            owned_value = v.to_le_bytes();
            let target = match how {
                0 | 1 => WriteTarget::Variable {
                    name: Name::new("setpoint").unwrap(),
                    value: &owned_value,
                },
                2 => WriteTarget::Variable {
                    name: Name::new("nothing").unwrap(),
                    value: &owned_value,
                },
                3 => WriteTarget::Ranges(Ranges::EMPTY),
                4 => WriteTarget::Ranges(
                    Ranges::encode(
                        [Span {
                            offset: 0,
                            bytes: &owned_value,
                        }],
                        &mut spans,
                    )
                    .unwrap(),
                ),
                _ => WriteTarget::Ranges(
                    Ranges::encode(
                        [Span {
                            offset: 24,
                            bytes: &owned_value,
                        }],
                        &mut spans,
                    )
                    .unwrap(),
                ),
            };
            model.writes.insert(request, v);
            feed(
                pair,
                &[Frame::Write(Write {
                    request,
                    handle,
                    target,
                })],
            );
        }
        Step::Ack { handle, generation } => {
            feed(pair, &[Frame::Ack(Ack { handle, generation })]);
        }
        Step::Subscribe { handle, known } => feed(
            pair,
            &[Frame::Subscribe(Subscribe {
                handle,
                path: if known { "robot" } else { "nowhere" },
                resume: None,
                variables: false,
                full: false,
            })],
        ),
        Step::Unsubscribe { handle } => {
            feed(pair, &[Frame::Unsubscribe(Unsubscribe { handle })]);
        }
        Step::Ping(nonce) => feed(pair, &[Frame::Ping { nonce }]),
        Step::Pong(nonce) => feed(pair, &[Frame::Pong { nonce }]),
        Step::WriteResult(request) => feed(
            pair,
            &[Frame::WriteResult(WriteResult {
                request,
                outcome: WriteOutcome::Applied { generation: 1 },
            })],
        ),
        Step::Schema(handle) => feed(
            pair,
            &[Frame::Schema(SchemaPart {
                handle,
                instance: 1,
                fingerprint: 2,
                data_len: 64,
                count: 0,
                first: 0,
                variables: VarTable::EMPTY,
            })],
        ),
        Step::Update(handle) => feed(
            pair,
            &[Frame::Update(Update {
                handle,
                base: UpdateBase::At(0),
                step: 1,
                last: true,
                ranges: Ranges::EMPTY,
            })],
        ),
        Step::Garbage(ref body) => {
            let mut framed = std::vec![0u8; body.len() + 5];
            let n = Framing::LengthPrefix.wrap(body, &mut framed).unwrap();
            pair.server
                .handle_input(pair.now, &framed[..n], &mut pair.hub);
        }
        Step::Read => {
            let seen = sent(pair);
            read(model, &seen);
        }
    }
}

/// Takes the frames the test has read: the write answers, and errors with
/// a handle no more than the server's queue of them holds.
fn read(model: &mut Model, seen: &[Seen]) {
    let errors = seen
        .iter()
        .filter(|s| matches!(s, Seen::Error(_, Some(_))))
        .count();
    assert!(errors <= 8, "{errors} errors queued");
    for seen in seen {
        if let Seen::Result(request, outcome) = *seen {
            assert!(
                model.writes.contains_key(&request),
                "an answer to no write: {request}"
            );
            assert!(
                model.answers.insert(request, outcome.is_ok()).is_none(),
                "a second answer to {request}"
            );
        }
    }
}

/// The invariants after one step: `before` is the region's setpoint and
/// the writes applied before it.
fn check(pair: &mut Pair<4096>, model: &Model, before: (f32, usize)) {
    let applied = pair.hub.writes_applied;
    // The region changes only through applied writes.
    if setpoint_of(pair) != before.0 {
        assert!(applied > before.1, "the region changed with no write");
    }
    // At most one write per step, and every applied write is answered
    // or waits in a bounded queue.
    assert!(applied <= before.1 + 1);
    let answered_applied = model.answers.values().filter(|&&a| a).count();
    assert!(applied >= answered_applied);
    assert!(
        applied - answered_applied <= ANSWERS,
        "{} applied writes wait for an answer",
        applied - answered_applied
    );
}

/// After the run: everything read, every applied write answered Applied,
/// and while the connection is open every write answered.
fn finish(pair: &mut Pair<4096>, model: &mut Model) {
    let seen = sent(pair);
    read(model, &seen);
    let answered_applied = model.answers.values().filter(|&&a| a).count();
    assert_eq!(
        pair.hub.writes_applied, answered_applied,
        "an applied write went unanswered"
    );
    if !pair.server.is_closed() {
        assert_eq!(
            model.answers.len(),
            model.writes.len(),
            "a write unanswered"
        );
    }
    // The region holds the last write applied.
    if let Some((_, &value)) = model
        .writes
        .iter()
        .rev()
        .find(|(r, _)| model.answers.get(r) == Some(&true))
    {
        assert_eq!(setpoint_of(pair), value);
    }
}

#[test]
fn a_server_under_arbitrary_frames_keeps_its_invariants() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: if cfg!(miri) { 2 } else { 256 },
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x22; 32]),
    );
    runner
        .run(&vec(step(), 1..60), |steps| {
            let mut pair = Pair::<4096>::connect(TestHub::new());
            pair.take_events();
            let mut model = Model::default();
            for step in &steps {
                let before = (setpoint_of(&mut pair), pair.hub.writes_applied);
                run_step(&mut pair, &mut model, step);
                check(&mut pair, &model, before);
            }
            finish(&mut pair, &mut model);
            Ok(())
        })
        .unwrap();
}
