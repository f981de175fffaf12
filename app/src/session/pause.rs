//! Who paused the session. A pause belongs to whoever made it: the helper may lift only its
//! own; the sharer's pause is lifted only by the sharer, who may lift both. The sharer's
//! side keeps this and enforces it — nothing the helper sends lifts the sharer's decision.

use crate::protocol::Role;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PauseState {
    by_sharer: bool,
    by_helper: bool,
}

/// What a resume did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeOutcome {
    /// Nothing is paused any more.
    Resumed,
    /// There was nothing of this side's to lift, and nothing is paused.
    NotPaused,
    /// Still paused: the other side's pause stands (`by` owns it).
    StillPaused { by: Role },
}

impl PauseState {
    pub fn is_paused(&self) -> bool {
        self.by_sharer || self.by_helper
    }

    /// The owner shown to people: the sharer's pause counts first, since only the sharer can
    /// lift it.
    pub fn owner(&self) -> Option<Role> {
        if self.by_sharer {
            Some(Role::Sharer)
        } else if self.by_helper {
            Some(Role::Helper)
        } else {
            None
        }
    }

    /// `by` pauses; true when this changed anything.
    pub fn pause(&mut self, by: Role) -> bool {
        let flag = match by {
            Role::Sharer => &mut self.by_sharer,
            Role::Helper => &mut self.by_helper,
        };
        !std::mem::replace(flag, true)
    }

    /// `by` resumes: the helper lifts its own pause, the sharer every pause.
    pub fn resume(&mut self, by: Role) -> ResumeOutcome {
        let was_paused = self.is_paused();
        match by {
            Role::Sharer => *self = Self::default(),
            Role::Helper => self.by_helper = false,
        }
        match (was_paused, self.owner()) {
            (_, Some(owner)) => ResumeOutcome::StillPaused { by: owner },
            (true, None) => ResumeOutcome::Resumed,
            (false, None) => ResumeOutcome::NotPaused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_cannot_lift_the_sharers_pause() {
        let mut p = PauseState::default();
        assert!(p.pause(Role::Sharer));
        assert_eq!(
            p.resume(Role::Helper),
            ResumeOutcome::StillPaused { by: Role::Sharer }
        );
        assert!(p.is_paused());
        assert_eq!(p.resume(Role::Sharer), ResumeOutcome::Resumed);
        assert!(!p.is_paused());
    }

    #[test]
    fn the_sharer_lifts_both_pauses_and_the_helper_only_its_own() {
        let mut p = PauseState::default();
        assert!(p.pause(Role::Helper));
        assert!(!p.pause(Role::Helper), "already paused by the helper");
        assert!(p.pause(Role::Sharer));
        assert_eq!(p.owner(), Some(Role::Sharer));
        // The helper lifts its own; the sharer's stands.
        assert_eq!(
            p.resume(Role::Helper),
            ResumeOutcome::StillPaused { by: Role::Sharer }
        );
        assert!(p.pause(Role::Helper));
        assert_eq!(p.resume(Role::Sharer), ResumeOutcome::Resumed);
        assert_eq!(p.owner(), None);

        let mut p = PauseState::default();
        p.pause(Role::Helper);
        assert_eq!(p.resume(Role::Sharer), ResumeOutcome::Resumed);
        p.pause(Role::Helper);
        assert_eq!(p.resume(Role::Helper), ResumeOutcome::Resumed);
        assert_eq!(p.resume(Role::Helper), ResumeOutcome::NotPaused);
    }
}
