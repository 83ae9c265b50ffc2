//! A client's subscribe to one of the hub's regions: the checks (handle,
//! tenant, rights, existence) before a publication starts.

use super::hub::Hub;
use super::state::Inner;
use crate::codec::{ErrorCode, Subscribe};
use crate::session::link::Control;
use crate::session::source::Access;

impl<const SUBS: usize> Inner<SUBS> {
    fn error(&mut self, code: ErrorCode, handle: u16, reason: &'static str) {
        self.link.push(Control::Error {
            code,
            handle: Some(handle),
            reason,
        });
    }

    pub(super) fn on_subscribe<H: Hub + ?Sized>(&mut self, s: &Subscribe<'_>, hub: &H) {
        let handle = s.handle;
        if self.peer_subs.contains(handle) {
            return self.error(ErrorCode::HandleInUse, handle, "handle in use");
        }
        let (tenant, region) = match s.path.split_once('/') {
            Some((tenant, region)) => (tenant, region),
            None => (self.tenant(), s.path),
        };
        if tenant != self.tenant() {
            return self.error(ErrorCode::AccessDenied, handle, "region of another tenant");
        }
        // Rights first, so a client learns nothing of regions it may not see.
        let access = hub.access(tenant, &self.client, region);
        if access == Access::None {
            return self.error(ErrorCode::AccessDenied, handle, "no access to the region");
        }
        let Some(id) = hub.resolve(tenant, region) else {
            return self.error(ErrorCode::UnknownRegion, handle, "no such region");
        };
        let Some(source) = hub.source(id) else {
            let (code, reason) = hub.unavailable(id);
            return self.error(code, handle, reason);
        };
        if let Err((code, reason)) = self.peer_subs.add(s, id, access, &source) {
            self.error(code, handle, reason);
        }
    }
}
