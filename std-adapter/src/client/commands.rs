//! Commands from the handles: subscribe, write, resync and close. A write the
//! session has no room for is held, and no command is taken until it goes.
//! A write larger than the session's queue of writes takes is encoded here,
//! from its own bytes, as one frame or as parts the hub applies together
//! (`Connection::parts`, sent before anything else).

use std::collections::HashMap;

use memwire::codec::ErrorCode;
use memwire::session::{Client as Session, Handle, WriteError, WriteRequest};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

use super::error::ClientError;
use super::session::{Connection, Slot, Write};
use super::shared::Command;
use super::task::{Driver, End, RX, SUBS};

impl Driver {
    /// Does what a handle asked; `Some` when that ends the connection (the
    /// client is closed, or every handle is gone).
    pub(super) async fn command(
        &mut self,
        conn: &mut Connection<'_>,
        command: Option<Command>,
    ) -> Option<End> {
        match command {
            None | Some(Command::Close) => {
                conn.session.close();
                conn.transmit().await;
                let _ = conn.stream.shutdown().await;
                return Some(End::Closed);
            }
            Some(Command::Subscribe { path, full, reply }) => {
                if conn.connected {
                    self.describe(&mut conn.session, &mut conn.slots, path, full, reply);
                } else {
                    self.queued.push((path, full, reply));
                }
            }
            Some(Command::Write {
                path,
                name,
                value,
                reply,
            }) => {
                conn.held = self.write(
                    &mut conn.session,
                    &conn.slots,
                    &mut conn.writes,
                    &mut conn.write_parts,
                    Write {
                        path,
                        name,
                        value,
                        reply,
                    },
                );
            }
            Some(Command::Resync { path, reply }) => {
                let asked = self
                    .handle(&conn.slots, &path)
                    .is_some_and(|handle| conn.session.resync(handle));
                let _ = reply.send(if asked {
                    Ok(())
                } else {
                    Err(ClientError::NotConnected)
                });
            }
        }
        None
    }

    /// The handle of the live subscription that fills the mirror at `path`.
    fn handle(&self, slots: &HashMap<u16, Slot>, path: &str) -> Option<Handle> {
        slots.iter().find_map(|(h, slot)| match slot {
            Slot::Live(i) if self.subs.get(*i).is_some_and(|s| s.mirror.path == path) => {
                Some(Handle(*h))
            }
            _ => None,
        })
    }

    /// A write the session had no room for: its answers may have made room.
    pub(super) fn write_held(&self, conn: &mut Connection<'_>) {
        if let Some(write) = conn.held.take() {
            conn.held = self.write(
                &mut conn.session,
                &conn.slots,
                &mut conn.writes,
                &mut conn.write_parts,
                write,
            );
        }
    }

    /// Hands `write` to the session; gives it back when the session has
    /// as many writes waiting as it takes.
    fn write(
        &self,
        session: &mut Session<'_, SUBS, RX>,
        slots: &HashMap<u16, Slot>,
        writes: &mut HashMap<u32, oneshot::Sender<Result<u64, ClientError>>>,
        parts: &mut Vec<u8>,
        write: Write,
    ) -> Option<Write> {
        let Some(handle) = self.handle(slots, &write.path) else {
            let _ = write.reply.send(Err(ClientError::NotConnected));
            return None;
        };
        let request = WriteRequest::Variable {
            name: &write.name,
            value: &write.value,
        };
        match session.write(handle, request) {
            Ok(request) => {
                writes.insert(request, write.reply);
                None
            }
            Err(WriteError::Busy) => Some(write),
            Err(WriteError::Invalid) => {
                let _ = write
                    .reply
                    .send(Err(ClientError::UnknownVariable(write.name)));
                None
            }
            Err(WriteError::TooLarge) => self.write_parts(session, handle, writes, parts, write),
            Err(_) => {
                let _ = write.reply.send(Err(ClientError::NotConnected));
                None
            }
        }
    }

    /// Encodes `write`, too large for the session's queue, into `parts`
    /// as the frames the hub takes; gives it back when the session has as
    /// many writes waiting as it takes.
    fn write_parts(
        &self,
        session: &mut Session<'_, SUBS, RX>,
        handle: Handle,
        writes: &mut HashMap<u32, oneshot::Sender<Result<u64, ClientError>>>,
        parts: &mut Vec<u8>,
        write: Write,
    ) -> Option<Write> {
        let found = self
            .subs
            .iter()
            .find(|s| s.mirror.path == write.path)
            .and_then(|s| {
                let schema = s.mirror.cell.region().schema();
                let (_, var) = schema.lookup(&write.name)?;
                Some((var.range(), var.writable))
            });
        let Some((range, writable)) = found else {
            let _ = write
                .reply
                .send(Err(ClientError::UnknownVariable(write.name)));
            return None;
        };
        // Refused here as the hub would refuse it, before its bytes are sent.
        let refused = if !writable {
            Some(ErrorCode::ReadOnly)
        } else if range.len() != write.value.len() {
            Some(ErrorCode::BadValue)
        } else {
            None
        };
        if let Some(code) = refused {
            let _ = write.reply.send(Err(ClientError::Hub(code)));
            return None;
        }
        let ranges = [(range.start, write.value.as_slice())];
        let mut frames = match session.write_parts(handle, &ranges) {
            Ok(frames) => frames,
            Err(WriteError::Busy) => return Some(write),
            Err(_) => {
                let _ = write.reply.send(Err(ClientError::NotConnected));
                return None;
            }
        };
        loop {
            let start = parts.len();
            parts.resize(start + RX + 5, 0);
            match frames.next_frame(parts.get_mut(start..).unwrap_or(&mut [])) {
                Some(Ok(n)) => parts.truncate(start + n),
                Some(Err(_)) | None => {
                    parts.truncate(start);
                    break;
                }
            }
        }
        // Every frame encodes: the ranges were checked and each frame has
        // room for at least a byte of them.
        writes.insert(frames.request(), write.reply);
        None
    }
}
