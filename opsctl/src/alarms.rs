//! `opsctl alarms`: the state of every alarm of `alarms/*.json` in CloudWatch, with its runbook.
//!
//! Terraform names each alarm `<stack name>-<name>` and ends its description with
//! `Runbook: <runbook_base_url>/<runbook>` (terraform/modules/observability): the link is read
//! back from there, so it is the deployed one.

use std::path::Path;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTimeFormat;
use serde::Deserialize;

use crate::cli::{AlarmState, AlarmsArgs};

/// What Terraform appends to each alarm's description before the runbook's URL.
pub const RUNBOOK_MARKER: &str = "Runbook: ";
/// DescribeAlarms takes at most this many names a call.
const NAMES_PER_CALL: usize = 100;

/// The two fields of an alarm file that name it and its runbook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AlarmFile {
    pub name: String,
    pub runbook: String,
}

/// The alarm files of `dir`, sorted by name. Their `${placeholders}` sit inside JSON strings,
/// so the files parse as they are.
pub fn read_alarm_files(dir: &Path) -> Result<Vec<AlarmFile>, crate::Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "the alarm definitions {}: {e} (give the repository's alarms/ with --alarms-dir)",
            dir.display()
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file: AlarmFile =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(format!("no alarm definitions (*.json) in {}", dir.display()).into());
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// One alarm as on-call reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRow {
    pub name: String,
    /// `None`: the alarm is defined in the repository but not in CloudWatch.
    pub state: Option<String>,
    pub reason: String,
    pub updated: String,
    pub runbook: String,
}

/// The runbook link of a description Terraform wrote, if it has one.
pub fn runbook_in(description: &str) -> Option<&str> {
    let (_, link) = description.rsplit_once(RUNBOOK_MARKER)?;
    let link = link.trim();
    (!link.is_empty()).then_some(link)
}

pub async fn describe(
    client: &aws_sdk_cloudwatch::Client,
    stack_name: &str,
    files: &[AlarmFile],
) -> Result<Vec<AlarmRow>, crate::Error> {
    let names: Vec<String> = files
        .iter()
        .map(|f| format!("{stack_name}-{}", f.name))
        .collect();
    let mut found = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let mut pages = client
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("DescribeAlarms: {}", DisplayErrorContext(e)))?;
            found.extend(page.metric_alarms.unwrap_or_default());
        }
    }
    let rows = files
        .iter()
        .zip(&names)
        .map(
            |(file, name)| match found.iter().find(|a| a.alarm_name() == Some(name)) {
                Some(alarm) => AlarmRow {
                    name: name.clone(),
                    state: alarm.state_value().map(|s| s.as_str().to_owned()),
                    reason: alarm.state_reason().unwrap_or_default().to_owned(),
                    updated: alarm
                        .state_updated_timestamp()
                        .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
                        .unwrap_or_default(),
                    runbook: alarm
                        .alarm_description()
                        .and_then(runbook_in)
                        .map_or_else(|| not_deployed_runbook(file), str::to_owned),
                },
                None => AlarmRow {
                    name: name.clone(),
                    state: None,
                    reason: format!("not found in CloudWatch (is the stack named `{stack_name}`?)"),
                    updated: String::new(),
                    runbook: not_deployed_runbook(file),
                },
            },
        )
        .collect();
    Ok(rows)
}

/// The repository's runbook, when CloudWatch has no link for it.
fn not_deployed_runbook(file: &AlarmFile) -> String {
    format!("{} (in the repository)", file.runbook)
}

/// ALARM first, then INSUFFICIENT_DATA, OK, and alarms CloudWatch does not have; by name within.
fn rank(row: &AlarmRow) -> u8 {
    match row.state.as_deref() {
        Some("ALARM") => 0,
        Some("INSUFFICIENT_DATA") => 1,
        Some(_) => 2,
        None => 3,
    }
}

pub fn render(rows: &[AlarmRow], state: Option<AlarmState>) -> String {
    let mut shown: Vec<&AlarmRow> = rows
        .iter()
        .filter(|r| state.is_none_or(|s| r.state.as_deref() == Some(s.as_str())))
        .collect();
    shown.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.name.cmp(&b.name)));
    let mut out = String::new();
    for row in &shown {
        let state = row.state.as_deref().unwrap_or("MISSING");
        out.push_str(&format!("{state:<17} {}", row.name));
        if !row.updated.is_empty() {
            out.push_str(&format!("  since {}", row.updated));
        }
        out.push('\n');
        out.push_str(&format!("  reason:  {}\n", row.reason));
        out.push_str(&format!("  runbook: {}\n", row.runbook));
    }
    let count = |s: Option<&str>| rows.iter().filter(|r| r.state.as_deref() == s).count();
    out.push_str(&format!(
        "{} of {} alarms shown: {} ALARM, {} INSUFFICIENT_DATA, {} OK, {} missing\n",
        shown.len(),
        rows.len(),
        count(Some("ALARM")),
        count(Some("INSUFFICIENT_DATA")),
        count(Some("OK")),
        count(None),
    ));
    out
}

pub async fn run(
    sdk: &SdkConfig,
    stack_name: &str,
    args: &AlarmsArgs,
) -> Result<String, crate::Error> {
    let files = read_alarm_files(&args.alarms_dir)?;
    let client = aws_sdk_cloudwatch::Client::new(sdk);
    let rows = describe(&client, stack_name, &files).await?;
    Ok(render(&rows, args.state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, state: Option<&str>) -> AlarmRow {
        AlarmRow {
            name: name.into(),
            state: state.map(Into::into),
            reason: "r".into(),
            updated: String::new(),
            runbook: "l".into(),
        }
    }

    #[test]
    fn the_runbook_is_the_end_of_the_description() {
        assert_eq!(
            runbook_in("More than 5% were 5xx. Runbook: https://x/runbooks/a.md"),
            Some("https://x/runbooks/a.md")
        );
        assert_eq!(runbook_in("No link here."), None);
        assert_eq!(runbook_in("Runbook: "), None);
    }

    #[test]
    fn the_repository_names_every_alarm_with_a_runbook() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../alarms");
        let files = read_alarm_files(&dir).unwrap();
        assert!(files.iter().any(|f| f.name == "api-5xx-rate"));
        assert!(files.iter().all(|f| f.runbook.starts_with("runbooks/")));
        let err = read_alarm_files(Path::new("/nonexistent")).unwrap_err();
        assert!(err.to_string().contains("--alarms-dir"), "{err}");
    }

    #[test]
    fn alarming_first_and_the_filter_keeps_one_state() {
        let rows = [
            row("b", Some("OK")),
            row("c", None),
            row("a", Some("ALARM")),
        ];
        let all = render(&rows, None);
        let order: Vec<&str> = all.lines().filter(|l| !l.starts_with(' ')).collect();
        assert!(
            order[0].starts_with("ALARM") && order[0].ends_with(" a"),
            "{all}"
        );
        assert!(order[1].starts_with("OK"), "{all}");
        assert!(order[2].starts_with("MISSING"), "{all}");
        assert!(
            all.ends_with("3 of 3 alarms shown: 1 ALARM, 0 INSUFFICIENT_DATA, 1 OK, 1 missing\n")
        );
        let alarming = render(&rows, Some(AlarmState::Alarm));
        assert!(alarming.starts_with("ALARM"), "{alarming}");
        assert!(!alarming.contains("\nOK"), "{alarming}");
    }
}
