//! The runner: owns the TCP socket and drives the core's session client
//! through connection, handshake, mirroring, writes and reconnection.

use embassy_futures::select::{Either, Either4, select, select4};
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_sync::channel::{DynamicReceiver, DynamicSender};
use embassy_time::{Instant, Timer, with_timeout};
use memwire::Region;
use memwire::codec::{ErrorCode, Resume, WRITE_OVERHEAD};
use memwire::session::{
    self, Client, ClientConfig, Observer, OwnRegion, OwnRegions, RegionId, Source, WriteRequest,
};

use crate::config::{Backoff, Config};
use crate::event::{Event, WriteError};
use crate::resources::Resources;
use crate::shared::{Handle, Link, WriteCell, WriteCommand, WriteTarget};

/// A region of the hub to mirror into caller memory.
#[derive(Clone, Copy, Debug)]
pub struct Mirror<'a> {
    /// The region's path at the hub: `tenant/region`, or `region` in the
    /// device's tenant.
    pub path: &'a str,
    /// The mirror: memory laid out with the schema the device expects
    /// (see [`Region::init`]). The runner writes the hub's updates into it
    /// under the region's seqlock, so the application reads it at any time
    /// without seeing a torn variable.
    pub region: Region<'a>,
}

impl<'a> Mirror<'a> {
    /// Mirrors the hub's region at `path` into `region`.
    pub const fn new(path: &'a str, region: Region<'a>) -> Self {
        Mirror { path, region }
    }
}

/// Splits `resources` into the application's [`Handle`] and the
/// [`Runner`] that keeps `mirrors` current over `stack` and serves
/// `published` to the hub (`&mut []` to publish nothing).
///
/// Mirror `i` of the array is the one events and writes call `i`.
pub fn new<
    'a,
    const SUBS: usize,
    const SOCKET_RX: usize,
    const SOCKET_TX: usize,
    const FRAME: usize,
    const EVENTS: usize,
    const WRITE: usize,
>(
    stack: Stack<'a>,
    config: Config<'a>,
    resources: &'a mut Resources<SOCKET_RX, SOCKET_TX, FRAME, EVENTS, WRITE>,
    mirrors: [Mirror<'a>; SUBS],
    published: &'a mut [OwnRegion<'a>],
) -> (Handle<'a>, Runner<'a, SUBS, FRAME>) {
    let Resources {
        socket_rx,
        socket_tx,
        frame,
        shared,
    } = resources;
    let shared = &*shared;
    let handle = Handle {
        events: shared.events.dyn_receiver(),
        link: &shared.link,
        write: &shared.write,
    };
    let runner = Runner {
        stack,
        backoff: Backoff::new(config.backoff_min, config.backoff_max, config.name),
        config,
        socket_rx,
        socket_tx,
        frame,
        ends: Ends {
            events: shared.events.dyn_sender(),
            events_dropped: shared.events.dyn_receiver(),
            link: &shared.link,
            write: &shared.write,
        },
        mirrors,
        published,
        resume: [None; SUBS],
    };
    (handle, runner)
}

/// Owns the TCP socket and keeps the mirrors current: run it in its own
/// task with [`run`](Self::run).
///
/// `SUBS` is the number of mirrors; `FRAME` comes from the
/// [`Resources`].
pub struct Runner<'a, const SUBS: usize, const FRAME: usize> {
    stack: Stack<'a>,
    config: Config<'a>,
    backoff: Backoff,
    socket_rx: &'a mut [u8],
    socket_tx: &'a mut [u8],
    frame: &'a mut [u8; FRAME],
    ends: Ends<'a>,
    mirrors: [Mirror<'a>; SUBS],
    published: &'a mut [OwnRegion<'a>],
    /// Where each mirror stood when its last session ended.
    resume: [Option<Resume>; SUBS],
}

/// The runner's ends of what it shares with the handles.
#[derive(Clone, Copy)]
struct Ends<'a> {
    events: DynamicSender<'a, Event>,
    /// The same queue's other end, to drop the oldest event when full.
    events_dropped: DynamicReceiver<'a, Event>,
    link: &'a Link,
    write: &'a WriteCell,
}

/// The core's clock from embassy's.
fn now() -> memwire::time::Instant {
    memwire::time::Instant::from_micros(Instant::now().as_micros())
}

impl<'a, const SUBS: usize, const FRAME: usize> Runner<'a, SUBS, FRAME> {
    /// Connects, authenticates and mirrors; after a lost link, a dead or
    /// restarted hub or a refused handshake, waits a backoff delay (see
    /// [`Backoff`]) and starts again, resuming every mirror from the
    /// generation it holds so the hub sends a delta. Never returns.
    pub async fn run(&mut self) -> ! {
        loop {
            if !self.stack.is_config_up() {
                debug!("memwire: waiting for the network");
                select(self.stack.wait_config_up(), refuse_writes(self.ends)).await;
            }
            let welcomed = self.session().await;
            if welcomed {
                self.backoff.reset();
            }
            let delay = self.backoff.next(Instant::now().as_ticks());
            debug!("memwire: reconnecting in {} ms", delay.as_millis());
            select(Timer::after(delay), refuse_writes(self.ends)).await;
        }
    }

    /// One connection, from TCP connect to close; true if the hub welcomed
    /// the device.
    async fn session(&mut self) -> bool {
        let Runner {
            stack,
            config,
            socket_rx,
            socket_tx,
            frame,
            ends,
            mirrors,
            published,
            resume,
            ..
        } = self;
        let mut observer = Publish { regions: published };
        let ends = *ends;
        let Ends { link, write, .. } = ends;
        let mut socket = TcpSocket::new(*stack, socket_rx, socket_tx);
        // smoltcp's own timer ends a dead link even while a send waits for
        // room in a full buffer.
        socket.set_timeout(Some(config.timeout));
        debug!("memwire: connecting to {}", config.hub);
        let connect = with_timeout(config.connect_timeout, socket.connect(config.hub));
        match select(connect, refuse_writes(ends)).await {
            Either::First(Ok(Ok(()))) => {}
            Either::First(Ok(Err(e))) => {
                warn!("memwire: connect to {} failed: {:?}", config.hub, e);
                return false;
            }
            Either::First(Err(_)) => {
                warn!("memwire: connect to {} timed out", config.hub);
                return false;
            }
        }
        info!("memwire: connected to {}", config.hub);

        let mut client: Client<'a, SUBS, FRAME> = Client::new(
            now(),
            ClientConfig {
                name: config.name,
                tenant: config.tenant,
                secret: config.secret,
                max_frame: u32::try_from(FRAME).unwrap_or(u32::MAX),
                keepalive: core::time::Duration::from_micros(config.keepalive.as_micros()),
                timeout: core::time::Duration::from_micros(config.timeout.as_micros()),
                handshake: core::time::Duration::from_micros(config.handshake.as_micros()),
            },
        );
        let mut handles: [Option<session::Handle>; SUBS] = [None; SUBS];
        for ((mirror, handle), resume) in mirrors.iter().zip(&mut handles).zip(resume.iter()) {
            match client.subscribe(mirror.path, mirror.region, *resume) {
                Ok(h) => *handle = Some(h),
                Err(e) => warn!("memwire: cannot mirror {}: {:?}", mirror.path, e),
            }
        }
        let mut state = SessionState {
            welcomed: false,
            code: None,
            write: None,
        };
        let publishing = !observer.regions.is_empty();
        let mut next_scan = Instant::now();
        let lost = loop {
            if send(&mut socket, &mut client, &mut frame[..], &mut observer)
                .await
                .is_err()
            {
                break true;
            }
            while let Some(event) = client.poll_event() {
                ends.note(&mut state, &client, &handles, resume, event);
            }
            if client.is_closed() {
                break false;
            }
            let deadline = client
                .poll_timeout()
                .map_or(Instant::MAX, |t| Instant::from_micros(t.as_micros()));
            let scan = async {
                if !publishing {
                    core::future::pending::<()>().await;
                }
                select(Timer::at(next_scan), link.notify.wait()).await;
            };
            let read = socket.read_with(|bytes| {
                client.handle_input_with(now(), bytes, &mut observer);
                (bytes.len(), ())
            });
            match select4(read, Timer::at(deadline), link.write_wake.wait(), scan).await {
                Either4::First(Ok(())) => {}
                Either4::First(Err(_)) => break true,
                Either4::Second(()) => client.handle_timeout(now()),
                Either4::Fourth(()) => {
                    for region in observer.regions.iter_mut() {
                        region.scan();
                    }
                    next_scan = Instant::now() + config.scan_interval;
                }
                Either4::Third(()) => {
                    if let Some((seq, result)) =
                        take_write::<SUBS, FRAME>(write, &mut client, &handles, state.welcomed)
                    {
                        match result {
                            Ok(request) => state.write = Some((seq, request)),
                            Err(e) => link.write_result.signal((seq, Err(e))),
                        }
                    }
                }
            }
        };
        for (handle, resume) in handles.iter().zip(resume.iter_mut()) {
            if let Some(point) = handle.and_then(|h| client.resume_point(h)) {
                *resume = Some(point);
            }
        }
        if lost {
            info!("memwire: connection to the hub lost");
            socket.abort();
        } else {
            socket.close();
        }
        // Lets the hub see the FIN or RST; a dead link ends it by timeout.
        let _ = with_timeout(embassy_time::Duration::from_secs(1), socket.flush()).await;
        link.connected
            .store(false, core::sync::atomic::Ordering::Release);
        if let Some((seq, _)) = state.write {
            link.write_result
                .signal((seq, Err(WriteError::Disconnected)));
        }
        if state.welcomed || state.code.is_some() {
            ends.emit(Event::Disconnected { code: state.code });
        }
        state.welcomed
    }
}

impl<'a> Ends<'a> {
    /// Acts on one of the session's events and passes it on.
    fn note<const SUBS: usize, const FRAME: usize>(
        &self,
        state: &mut SessionState,
        client: &Client<'a, SUBS, FRAME>,
        handles: &[Option<session::Handle>; SUBS],
        resume: &mut [Option<Resume>; SUBS],
        event: session::Event,
    ) {
        let mirror = |h: session::Handle| handles.iter().position(|x| *x == Some(h));
        let out = match event {
            session::Event::Connected { session, .. } => {
                info!("memwire: welcomed by the hub, session {}", session);
                state.welcomed = true;
                self.link
                    .connected
                    .store(true, core::sync::atomic::Ordering::Release);
                Some(Event::Connected)
            }
            session::Event::Updated {
                handle,
                generation,
                resynced,
            } => mirror(handle).map(|i| {
                if let Some(slot) = resume.get_mut(i) {
                    *slot = client.resume_point(handle).or(*slot);
                }
                trace!("memwire: mirror {} at generation {}", i, generation);
                Event::Updated {
                    mirror: i,
                    generation,
                    resynced,
                }
            }),
            session::Event::SchemaMismatch { handle } => mirror(handle).map(|i| {
                warn!("memwire: mirror {} does not have the hub's schema", i);
                Event::SchemaMismatch { mirror: i }
            }),
            session::Event::Ended { handle, code } => mirror(handle).map(|i| {
                warn!("memwire: the hub ended mirror {}: {:?}", i, code);
                Event::Ended { mirror: i, code }
            }),
            session::Event::WriteApplied {
                request,
                generation,
            } => {
                self.answer(state, request, Ok(generation));
                None
            }
            session::Event::WriteRefused { request, code } => {
                self.answer(state, request, Err(WriteError::Refused(code)));
                None
            }
            session::Event::Closed { code } => {
                if let Some(code) = code {
                    warn!("memwire: session closed: {:?}", code);
                }
                state.code = code;
                None
            }
            _ => None,
        };
        if let Some(event) = out {
            self.emit(event);
        }
    }

    /// Hands a write's answer to the waiting handle.
    fn answer(&self, state: &mut SessionState, request: u32, result: Result<u64, WriteError>) {
        if let Some((seq, _)) = state.write.filter(|&(_, r)| r == request) {
            state.write = None;
            self.link.write_result.signal((seq, result));
        }
    }

    /// Queues an event for the application, dropping the oldest when full.
    fn emit(&self, event: Event) {
        if self.events.try_send(event).is_err() {
            let _ = self.events_dropped.try_receive();
            let _ = self.events.try_send(event);
        }
    }
}

/// What one session tracks besides the core's client.
struct SessionState {
    welcomed: bool,
    /// The error that closed the session.
    code: Option<ErrorCode>,
    /// The write in flight: the handle's sequence number and the core's
    /// request id.
    write: Option<(u32, u32)>,
}

/// Shows the session the regions the device publishes.
struct Publish<'p, 'a> {
    regions: &'p mut [OwnRegion<'a>],
}

impl<'a> Observer<'a> for Publish<'_, 'a> {
    fn published(&mut self) -> Option<&mut dyn OwnRegions> {
        Some(self)
    }
}

/// The slice's regions: a slice cannot be a trait object itself.
impl OwnRegions for Publish<'_, '_> {
    fn lookup(&self, name: &str) -> Option<RegionId> {
        self.regions.lookup(name)
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        OwnRegions::source(&*self.regions, region)
    }

    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        OwnRegions::apply_write(&mut *self.regions, region, ranges)
    }
}

/// Writes everything the client has to send.
async fn send<'a, const SUBS: usize, const FRAME: usize>(
    socket: &mut TcpSocket<'_>,
    client: &mut Client<'a, SUBS, FRAME>,
    frame: &mut [u8],
    observer: &mut Publish<'_, 'a>,
) -> Result<(), ()> {
    while let Some(n) = client.poll_transmit_with(now(), frame, observer) {
        let mut out = frame.get(..n).unwrap_or_default();
        while !out.is_empty() {
            match socket.write(out).await {
                Ok(0) | Err(_) => return Err(()),
                Ok(k) => out = out.get(k..).unwrap_or_default(),
            }
        }
    }
    Ok(())
}

/// Takes the write waiting in the slot and hands it to the client: the
/// handle's sequence number and the core's request id, or why it cannot
/// be sent.
fn take_write<const SUBS: usize, const FRAME: usize>(
    write: &WriteCell,
    client: &mut Client<'_, SUBS, FRAME>,
    handles: &[Option<session::Handle>; SUBS],
    welcomed: bool,
) -> Option<(u32, Result<u32, WriteError>)> {
    let mut taken = None;
    write.take(&mut |command, bytes| {
        taken = Some((
            command.seq,
            submit(client, handles, welcomed, command, bytes),
        ));
    });
    taken
}

fn submit<const SUBS: usize, const FRAME: usize>(
    client: &mut Client<'_, SUBS, FRAME>,
    handles: &[Option<session::Handle>; SUBS],
    welcomed: bool,
    command: WriteCommand,
    bytes: &[u8],
) -> Result<u32, WriteError> {
    let handle = handles
        .get(command.mirror)
        .ok_or(WriteError::UnknownMirror)?
        .filter(|_| welcomed)
        .ok_or(WriteError::NotConnected)?;
    if bytes.len().saturating_add(WRITE_OVERHEAD) > FRAME {
        return Err(WriteError::TooLarge);
    }
    let ranges;
    let request = match command.target {
        WriteTarget::Variable(ref name) => WriteRequest::Variable {
            name: name.as_str(),
            value: bytes,
        },
        WriteTarget::Offset(offset) => {
            ranges = [(offset, bytes)];
            WriteRequest::Ranges(&ranges)
        }
    };
    client.write(handle, request).map_err(|e| match e {
        session::WriteError::TooLarge => WriteError::TooLarge,
        session::WriteError::Invalid => WriteError::Invalid,
        session::WriteError::Busy => WriteError::Busy,
        _ => WriteError::NotConnected,
    })
}

/// Answers every write with [`WriteError::NotConnected`] while no session
/// is open.
async fn refuse_writes(ends: Ends<'_>) -> ! {
    let Ends { link, write, .. } = ends;
    loop {
        link.write_wake.wait().await;
        write.take(&mut |command, _| {
            link.write_result
                .signal((command.seq, Err(WriteError::NotConnected)));
        });
    }
}
