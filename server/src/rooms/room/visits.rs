//! Visits (issue 21): when a person's last connection to the document closes, what it
//! holds then is what they last saw; kept, so that lists mark what changed since and the
//! registration shows "wijzigingen sinds je vorige bezoek".

use super::Room;
use crate::ids::UserId;

impl Room {
    /// `user`'s connection left: if it was their last one here, records their visit (in the
    /// background: the room does not wait for it, and a lost record only loses a mark).
    pub(super) fn left(&self, user: &UserId) {
        // A broken room's document is out of step with storage: no snapshot of it.
        if self.broken || self.peers.values().any(|peer| peer.principal.user == *user) {
            return;
        }
        let snapshot = samen_crdt::history::encode_snapshot(&samen_crdt::history::snapshot(&self.doc));
        let db = self.rooms.db.clone();
        let (user, doc) = (user.clone(), self.id);
        tokio::spawn(async move {
            if let Err(err) = db.record_visit(&user, doc, &snapshot).await {
                tracing::warn!(%doc, error = %err, "could not record a visit");
            }
        });
    }
}
