//! `bus=reject`: the bus's entries fail with `InternalFailure`, retries included. The decorator
//! that fails them and plays the AWS adapter's retries lives with the EventBridge stand-in
//! (`functions::adapters::embedded::eventbridge::faults`); this says, from the faults in force,
//! when it does.

use std::sync::Arc;

use functions::adapters::embedded::eventbridge::faults::EntryFault;

use super::{Faults, Kind, Target, injected};

/// Fails an attempt's entries whenever `bus=reject` fires, naming the fault as the cause.
pub fn rejection(faults: &Arc<Faults>) -> EntryFault {
    let faults = Arc::clone(faults);
    Arc::new(move || {
        faults
            .fires(Target::Bus, Kind::Reject)
            .then(|| injected(Target::Bus, Kind::Reject))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_fail_while_bus_reject_is_in_force_and_the_cause_names_it() {
        let faults = Arc::new(Faults::new(["bus=reject".parse().unwrap()]));
        let fault = rejection(&faults);
        assert_eq!(fault().as_deref(), Some("injected fault bus=reject"));

        faults.clear(None);
        assert_eq!(fault(), None);
    }
}
