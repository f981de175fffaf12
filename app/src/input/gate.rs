//! The sharer's decision about control. Sans-IO: the session feeds it what happened and
//! acts on what it answers; every input event is checked against [`ControlGate::allows_input`].

use std::time::{Duration, Instant};

use super::DeclineReason;

/// After the person says no, further requests within this time are declined without asking
/// (a helper must not be able to nag with prompts).
pub const ASK_AGAIN_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlState {
    /// The default: the helper only watches.
    ViewOnly,
    /// The helper asked; the person has not answered yet.
    Requested,
    Granted,
}

/// What to do with a request from the helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Ask the person.
    Ask,
    /// Already asked or already granted: nothing to do.
    Ignore,
    /// Answer no without asking.
    Decline(DeclineReason),
}

#[derive(Debug)]
pub struct ControlGate {
    state: ControlState,
    paused: bool,
    controllable: bool,
    declined_at: Option<Instant>,
}

impl ControlGate {
    /// `controllable`: whether this sharer can inject input at all.
    pub fn new(controllable: bool) -> Self {
        Self {
            state: ControlState::ViewOnly,
            paused: false,
            controllable,
            declined_at: None,
        }
    }

    pub fn state(&self) -> ControlState {
        self.state
    }

    /// The one check every input event passes through.
    pub fn allows_input(&self) -> bool {
        self.state == ControlState::Granted && !self.paused && self.controllable
    }

    pub fn on_request(&mut self, now: Instant) -> RequestOutcome {
        if !self.controllable {
            return RequestOutcome::Decline(DeclineReason::NotPossible);
        }
        match self.state {
            ControlState::Requested | ControlState::Granted => RequestOutcome::Ignore,
            ControlState::ViewOnly => {
                if self
                    .declined_at
                    .is_some_and(|t| now.saturating_duration_since(t) < ASK_AGAIN_AFTER)
                {
                    return RequestOutcome::Decline(DeclineReason::TooSoon);
                }
                self.state = ControlState::Requested;
                RequestOutcome::Ask
            }
        }
    }

    /// The person allowed. False when there was nothing to allow.
    pub fn grant(&mut self) -> bool {
        if self.state != ControlState::Requested {
            return false;
        }
        self.state = ControlState::Granted;
        true
    }

    /// The person declined a pending request.
    pub fn decline(&mut self, now: Instant) -> bool {
        if self.state != ControlState::Requested {
            return false;
        }
        self.state = ControlState::ViewOnly;
        self.declined_at = Some(now);
        true
    }

    /// The person took control back. False when the helper had none.
    pub fn revoke(&mut self) -> bool {
        let had = self.state == ControlState::Granted;
        if had {
            self.state = ControlState::ViewOnly;
        }
        had
    }

    /// The helper gave control back (or withdrew its request).
    pub fn release(&mut self) -> bool {
        let had = self.state != ControlState::ViewOnly;
        self.state = ControlState::ViewOnly;
        had
    }

    /// Injection became impossible (the injector failed).
    pub fn lose_ability(&mut self) {
        self.controllable = false;
        self.state = ControlState::ViewOnly;
    }

    /// While paused, nothing is injected; control resumes with the picture.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_only_until_the_person_grants() {
        let now = Instant::now();
        let mut gate = ControlGate::new(true);
        assert!(!gate.allows_input());
        assert!(!gate.grant(), "nothing was requested");
        assert_eq!(gate.on_request(now), RequestOutcome::Ask);
        assert!(!gate.allows_input(), "asking is not granting");
        assert_eq!(gate.on_request(now), RequestOutcome::Ignore);
        assert!(gate.grant());
        assert!(gate.allows_input());
        assert_eq!(gate.on_request(now), RequestOutcome::Ignore);
        gate.set_paused(true);
        assert!(!gate.allows_input());
        gate.set_paused(false);
        assert!(gate.allows_input());
        assert!(gate.revoke());
        assert!(!gate.allows_input());
        assert!(!gate.revoke());
    }

    #[test]
    fn a_no_holds_for_a_while() {
        let t0 = Instant::now();
        let mut gate = ControlGate::new(true);
        assert_eq!(gate.on_request(t0), RequestOutcome::Ask);
        assert!(gate.decline(t0));
        assert!(!gate.grant(), "a declined request cannot be granted later");
        assert_eq!(
            gate.on_request(t0 + Duration::from_secs(3)),
            RequestOutcome::Decline(DeclineReason::TooSoon)
        );
        assert_eq!(gate.on_request(t0 + ASK_AGAIN_AFTER), RequestOutcome::Ask);
    }

    #[test]
    fn release_and_inability() {
        let now = Instant::now();
        let mut gate = ControlGate::new(true);
        gate.on_request(now);
        assert!(gate.release(), "withdrawing a request");
        assert!(!gate.grant());
        gate.on_request(now);
        gate.grant();
        gate.lose_ability();
        assert!(!gate.allows_input());
        assert_eq!(
            gate.on_request(now),
            RequestOutcome::Decline(DeclineReason::NotPossible)
        );
        let mut pattern = ControlGate::new(false);
        assert_eq!(
            pattern.on_request(now),
            RequestOutcome::Decline(DeclineReason::NotPossible)
        );
        assert!(!pattern.grant());
    }
}
