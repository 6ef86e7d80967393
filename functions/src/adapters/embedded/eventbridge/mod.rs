//! The EventBridge stand-in: an in-process bus that takes `PutEvents` entries, matches each
//! against its rules' event patterns and delivers the matches, in EventBridge's envelope, to the
//! rule's target, a CloudWatch Logs group kept as a file.
//!
//! It follows EventBridge where the API's callers and the on-call can tell: `PutEvents`'s entry
//! checks and 256 KiB limit, the envelope targets receive, the event pattern language, the
//! `AWS/Events` rule counters, and entries that fail inside a successful call
//! (`FailedEntryCount`). It has no EventBridge archive (the one kept for replay) and no target
//! but a log group.
//!
//! | file | what it holds |
//! | --- | --- |
//! | [`bus`] | the bus and its rules: entry checks, envelope, delivery, rule counters, a failing target |
//! | [`pattern`] | the event pattern language, parsed once and matched against envelopes |
//! | [`archive`] | the CloudWatch Logs groups: one append-only JSON-lines file each |
//! | [`faults`] | a bus whose entries fail with `InternalFailure`, retried as the AWS adapter retries them |

pub mod archive;
pub mod bus;
// It plays the AWS adapter's retries on that adapter's own schedule.
#[cfg(feature = "aws")]
pub mod faults;
pub mod pattern;
