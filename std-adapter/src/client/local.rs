//! Local mapping: on the hub's host, a mirror reads the region file itself.

use memwire::codec::Resume;

use super::connect::Endpoint;
use super::memory::MirrorShared;
use super::task::Driver;
use crate::shm::ShmRegion;

impl Driver {
    /// Maps the region file when the client is on the hub's host and the
    /// file is the very region the hub serves (same instance and schema).
    pub(super) fn map_local(&self, mirror: &MirrorShared, resume: Option<Resume>) {
        let (Endpoint::Unix(_), Some(root), Some(resume)) =
            (&self.connector.endpoint, &self.options.local_root, resume)
        else {
            return;
        };
        match ShmRegion::open(root, &mirror.path) {
            Ok(local)
                if local.instance() == resume.instance
                    && local.fingerprint() == mirror.cell.region().fingerprint() =>
            {
                tracing::debug!(region = %mirror.path, "reading the region file directly");
                let _ = mirror.local.set(local);
            }
            Ok(_) => tracing::debug!(region = %mirror.path, "region file is not the hub's region"),
            Err(e) => {
                tracing::debug!(region = %mirror.path, error = %e, "region file not readable")
            }
        }
    }
}
