//! Fault injection: latency, random failures with a chosen status, and scripted faults such as "the
//! next 2 calls to /auth answer 429 with Retry-After: 1", so that client retry logic can be tested
//! deterministically. Configured at start ([`FaultPlan`]) and changed at run time
//! ([`FaultController`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::Rng as _;

use crate::error::EmulatorError;
use crate::stats::Operation;

/// What a faulty response looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and `{"error": ...}`, with `Retry-After` (whole seconds) if set.
    Status {
        /// The HTTP status, 400–599.
        status: u16,
        /// The `Retry-After` header to send.
        retry_after: Option<Duration>,
    },
    /// Drop the connection without answering (the client sees a connection reset / early EOF).
    ResetConnection,
    /// Wait this long, then serve the request normally.
    Delay(Duration),
    /// Answer 200 with a truncated, unparsable JSON body.
    MalformedJson,
    /// Answer 200 with a syntactically valid JSON body of (at least) this many bytes.
    OversizedBody {
        /// The body size in bytes.
        bytes: usize,
    },
}

impl Fault {
    /// A status fault without `Retry-After`.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            retry_after: None,
        }
    }

    /// `429 Too Many Requests` with `Retry-After`.
    pub fn too_many_requests(retry_after: Duration) -> Self {
        Self::Status {
            status: 429,
            retry_after: Some(retry_after),
        }
    }

    fn check(&self) -> Result<(), EmulatorError> {
        match self {
            Self::Status { status, .. } if !(400..=599).contains(status) => Err(
                EmulatorError::Faults(format!("status {status} is not an error status (400-599)")),
            ),
            _ => Ok(()),
        }
    }
}

/// Random failures: each request fails with `status` with probability `rate`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomFailures {
    rate: f64,
    status: u16,
}

impl RandomFailures {
    /// `rate` in `[0, 1]`; `status` an error status such as 429, 500 or 503.
    pub fn new(rate: f64, status: u16) -> Result<Self, EmulatorError> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(EmulatorError::Faults(format!(
                "fail rate {rate} is not between 0 and 1"
            )));
        }
        Fault::status(status).check()?;
        Ok(Self { rate, status })
    }

    /// The failure probability.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The status failed requests get.
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// A scripted fault: the next `remaining` requests for `operation` (any operation if `None`) get
/// `fault`.
#[derive(Clone, Debug, PartialEq)]
struct Scripted {
    operation: Option<Operation>,
    remaining: u32,
    fault: Fault,
}

/// The fault configuration an emulator starts with.
///
/// ```
/// use akeyless_emulator::{Fault, FaultPlan, Operation};
/// use std::time::Duration;
/// let plan = FaultPlan::new()
///     .with_latency(Duration::from_millis(5))
///     .fail_next(Operation::Auth, 2, Fault::too_many_requests(Duration::from_secs(1)));
/// # let _ = plan;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    latency: Duration,
    random: Option<RandomFailures>,
    scripted: VecDeque<Scripted>,
}

impl FaultPlan {
    /// No faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds this latency to every request.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Fails requests at random.
    pub fn with_random_failures(mut self, random: RandomFailures) -> Self {
        self.random = Some(random);
        self
    }

    /// The next `times` requests for `operation` get `fault` (after earlier scripted faults).
    pub fn fail_next(mut self, operation: Operation, times: u32, fault: Fault) -> Self {
        self.scripted.push_back(Scripted {
            operation: Some(operation),
            remaining: times,
            fault,
        });
        self
    }

    /// The next `times` requests, whatever the operation, get `fault`.
    pub fn fail_next_any(mut self, times: u32, fault: Fault) -> Self {
        self.scripted.push_back(Scripted {
            operation: None,
            remaining: times,
            fault,
        });
        self
    }

    pub(crate) fn check(&self) -> Result<(), EmulatorError> {
        self.scripted.iter().try_for_each(|s| s.fault.check())
    }

    fn is_quiet(&self) -> bool {
        self.latency.is_zero() && self.random.is_none() && self.scripted.is_empty()
    }
}

/// What to do with one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub(crate) delay: Duration,
    pub(crate) fault: Option<Fault>,
}

/// Changes fault injection of a running emulator. Cheap to clone; all clones control the same
/// emulator.
#[derive(Clone, Debug)]
pub struct FaultController {
    plan: Arc<Mutex<FaultPlan>>,
    /// True while the plan injects nothing, so that the common case takes no lock.
    quiet: Arc<AtomicBool>,
}

impl FaultController {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        let quiet = plan.is_quiet();
        Self {
            plan: Arc::new(Mutex::new(plan)),
            quiet: Arc::new(AtomicBool::new(quiet)),
        }
    }

    /// Runs `change` on the plan under the lock (never held across an await).
    fn update(&self, change: impl FnOnce(&mut FaultPlan)) {
        let mut plan = self.lock();
        change(&mut plan);
        self.quiet.store(plan.is_quiet(), Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, FaultPlan> {
        // A panic while holding this lock cannot leave the plan inconsistent: every update is a
        // plain field assignment or queue operation.
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the latency added to every request.
    pub fn set_latency(&self, latency: Duration) {
        self.update(|plan| plan.latency = latency);
    }

    /// Sets (or, with `None`, stops) random failures.
    pub fn set_random_failures(&self, random: Option<RandomFailures>) {
        self.update(|plan| plan.random = random);
    }

    /// The next `times` requests for `operation` get `fault`.
    pub fn fail_next(
        &self,
        operation: Operation,
        times: u32,
        fault: Fault,
    ) -> Result<(), EmulatorError> {
        fault.check()?;
        self.update(|plan| {
            plan.scripted.push_back(Scripted {
                operation: Some(operation),
                remaining: times,
                fault,
            });
        });
        Ok(())
    }

    /// The next `times` requests, whatever the operation, get `fault`.
    pub fn fail_next_any(&self, times: u32, fault: Fault) -> Result<(), EmulatorError> {
        fault.check()?;
        self.update(|plan| {
            plan.scripted.push_back(Scripted {
                operation: None,
                remaining: times,
                fault,
            });
        });
        Ok(())
    }

    /// Scripted faults not yet used up.
    pub fn pending(&self) -> u32 {
        self.lock().scripted.iter().map(|s| s.remaining).sum()
    }

    /// Removes every fault: latency, random failures and scripted faults.
    pub fn clear(&self) {
        self.update(|plan| *plan = FaultPlan::new());
    }

    pub(crate) fn decide(&self, operation: Operation) -> Decision {
        if self.quiet.load(Ordering::Acquire) {
            return Decision::default();
        }
        let mut plan = self.lock();
        let mut decision = Decision {
            delay: plan.latency,
            fault: None,
        };
        if let Some(index) = plan
            .scripted
            .iter()
            .position(|s| s.remaining > 0 && s.operation.is_none_or(|op| op == operation))
        {
            let scripted = &mut plan.scripted[index];
            scripted.remaining -= 1;
            let fault = scripted.fault.clone();
            if scripted.remaining == 0 {
                plan.scripted.remove(index);
            }
            match fault {
                Fault::Delay(extra) => decision.delay += extra,
                other => decision.fault = Some(other),
            }
        }
        if decision.fault.is_none()
            && let Some(random) = plan.random
            && rand::rng().random_bool(random.rate)
        {
            decision.fault = Some(Fault::status(random.status));
        }
        self.quiet.store(plan.is_quiet(), Ordering::Release);
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_apply_in_order_to_their_operation_only() {
        let faults = FaultController::new(
            FaultPlan::new()
                .fail_next(Operation::Auth, 2, Fault::status(503))
                .fail_next_any(1, Fault::ResetConnection),
        );
        assert_eq!(faults.pending(), 3);
        assert_eq!(
            faults.decide(Operation::ListItems).fault,
            Some(Fault::ResetConnection)
        );
        assert_eq!(
            faults.decide(Operation::Auth).fault,
            Some(Fault::status(503))
        );
        assert_eq!(
            faults.decide(Operation::Auth).fault,
            Some(Fault::status(503))
        );
        assert_eq!(faults.decide(Operation::Auth).fault, None);
        assert_eq!(faults.pending(), 0);
    }

    #[test]
    fn delay_faults_add_to_latency_and_serve_normally() {
        let faults = FaultController::new(
            FaultPlan::new()
                .with_latency(Duration::from_millis(3))
                .fail_next(Operation::Auth, 1, Fault::Delay(Duration::from_millis(7))),
        );
        let decision = faults.decide(Operation::Auth);
        assert_eq!(decision.delay, Duration::from_millis(10));
        assert_eq!(decision.fault, None);
        faults.clear();
        assert_eq!(faults.decide(Operation::Auth).delay, Duration::ZERO);
    }

    #[test]
    fn random_failures_at_rate_one_always_fail_and_bad_settings_are_rejected() {
        let faults = FaultController::new(FaultPlan::new());
        faults.set_random_failures(Some(RandomFailures::new(1.0, 500).unwrap()));
        assert_eq!(
            faults.decide(Operation::Auth).fault,
            Some(Fault::status(500))
        );
        faults.set_random_failures(None);
        assert_eq!(faults.decide(Operation::Auth).fault, None);
        assert!(RandomFailures::new(1.5, 500).is_err());
        assert!(RandomFailures::new(0.5, 200).is_err());
        assert!(
            faults
                .fail_next(Operation::Auth, 1, Fault::status(302))
                .is_err()
        );
    }
}
