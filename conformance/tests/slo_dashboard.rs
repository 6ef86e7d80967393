//! The `slos` dashboard (`dashboards/slos.json`) held to the objectives (`slos/*.json`) and
//! their burn-rate policy, both ways:
//!
//! - the committed file is what `local::slo_dashboard` makes of them (run this test with
//!   `WRITE_SLO_DASHBOARD=1` to rewrite it after changing an objective or the policy);
//! - read back on its own, every objective has its SLI and budget widgets over its window and
//!   one burn-rate chart per window of each alert, with the window alarm's math, period and
//!   threshold; and no widget shows anything that is not one objective's.
//!
//! (The schema checks every dashboard gets are in `observability.rs`; the wire check in
//! `dashboards_on_moto.rs`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use local::slo::{self, Policy, Slo, Window};
use local::slo_dashboard::{self, dashboard_row};
use serde_json::Value;

fn root() -> PathBuf {
    conformance::repo_root()
}

fn objectives() -> (Vec<Slo>, Policy) {
    slo::load(&root().join("slos"), |text| Ok(text.to_owned())).expect("slos/ loads")
}

fn committed() -> Value {
    let path = root().join("dashboards").join(slo_dashboard::FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_committed_dashboard_is_made_from_the_objectives() {
    let made = slo_dashboard::render(&root().join("slos")).unwrap();
    if std::env::var_os("WRITE_SLO_DASHBOARD").is_some() {
        let path = root().join("dashboards").join(slo_dashboard::FILE);
        std::fs::write(&path, &made).unwrap();
    }
    let made: Value = serde_json::from_str(&made).unwrap();
    assert!(
        committed() == made,
        "dashboards/{} is not what slos/*.json make: rewrite it with `WRITE_SLO_DASHBOARD=1 cargo test -p conformance --test slo_dashboard`",
        slo_dashboard::FILE
    );
}

/// A metric row's metric and statistic, and its id: `(namespace, name, dimensions, stat, id)`.
type MetricKey = (String, String, Vec<(String, String)>, String, String);

fn metric_key(row: &Value) -> Option<MetricKey> {
    let row = row.as_array()?;
    let options = row.last()?.as_object()?;
    if options.contains_key("expression") {
        return None;
    }
    let fields: Vec<String> = row[..row.len() - 1]
        .iter()
        .map(|f| f.as_str().unwrap_or_default().to_owned())
        .collect();
    let dimensions = fields[2..]
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    Some((
        fields[0].clone(),
        fields[1].clone(),
        dimensions,
        options["stat"].as_str().unwrap_or_default().to_owned(),
        options["id"].as_str().unwrap_or_default().to_owned(),
    ))
}

fn sli_keys(objective: &Slo) -> BTreeSet<MetricKey> {
    objective
        .sli
        .metrics
        .iter()
        .filter_map(|q| metric_key(&dashboard_row(q).unwrap()))
        .collect()
}

/// Expression rows by id: `(expression, visible)`.
fn expressions(properties: &Value) -> BTreeMap<String, (String, bool)> {
    properties["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let options = row.as_array()?.last()?.as_object()?;
            Some((
                options["id"].as_str()?.to_owned(),
                (
                    options.get("expression")?.as_str()?.to_owned(),
                    options
                        .get("visible")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                ),
            ))
        })
        .collect()
}

#[test]
fn every_objective_and_window_is_shown_with_its_threshold_and_nothing_else() {
    let (slos, policy) = objectives();
    assert!(!slos.is_empty() && !policy.alerts.is_empty());
    let body = committed();
    let widgets = body["widgets"].as_array().expect("widgets");
    let by_sli: Vec<(BTreeSet<MetricKey>, &Slo)> = slos.iter().map(|s| (sli_keys(s), s)).collect();

    // What the objectives ask for: (objective, window minutes, threshold) per burn chart, and
    // each objective's window widgets.
    let mut wanted: BTreeSet<(String, u64, String)> = BTreeSet::new();
    for objective in &slos {
        for alert in &policy.alerts {
            for window in Window::BOTH {
                let added = wanted.insert((
                    objective.name.clone(),
                    u64::from(alert.window_minutes(window)) * 60,
                    alert.burn_rate.to_string(),
                ));
                assert!(added, "{}: two windows alike", objective.name);
            }
        }
    }
    let mut charted: BTreeSet<(String, u64, String)> = BTreeSet::new();
    let mut window_widgets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();

    for (i, widget) in widgets.iter().enumerate() {
        let properties = &widget["properties"];
        let whose = format!("dashboards/slos.json widget {i}");
        match widget["type"].as_str() {
            Some("text") => continue,
            Some("metric") => {}
            other => panic!("{whose}: a {other:?} widget shows what no objective is"),
        }
        // Its metrics are exactly one objective's SLI.
        let keys: BTreeSet<MetricKey> = properties["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(metric_key)
            .collect();
        let objective = by_sli
            .iter()
            .find(|(sli, _)| *sli == keys)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("{whose}: metrics {keys:?} are no objective's SLI"));
        let rows = expressions(properties);
        assert_eq!(
            rows.get("good").map(|r| r.0.as_str()),
            Some(objective.sli.good.as_str()),
            "{whose}: good"
        );
        assert_eq!(
            rows.get("total").map(|r| r.0.as_str()),
            Some(objective.sli.total.as_str()),
            "{whose}: total"
        );
        let period = properties["period"].as_u64().expect("a period");
        let thresholds: Vec<f64> = properties["annotations"]["horizontal"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["value"].as_f64().expect("a threshold"))
            .collect();
        if thresholds.is_empty() {
            // A window widget: running sums over the objective's whole window.
            assert_eq!(
                properties["start"],
                format!("-PT{}H", objective.window_days * 24),
                "{whose}: over the window"
            );
            assert_eq!(
                rows.get("burnsofar").map(|r| r.0.clone()),
                Some(objective.burn_rate_over("goodsofar", "totalsofar")),
                "{whose}: the alarms' burn rate, over the window"
            );
            let shown: BTreeSet<String> = rows
                .iter()
                .filter(|(_, (_, visible))| *visible)
                .map(|(id, _)| id.clone())
                .collect();
            let view = properties["view"].as_str().unwrap().to_owned();
            window_widgets
                .entry(objective.name.clone())
                .or_default()
                .insert(format!(
                    "{view}:{}",
                    shown.into_iter().collect::<Vec<_>>().join(",")
                ));
            continue;
        }
        // A burn-rate chart: the window alarm's math over one period as long as the window,
        // and the alert's threshold.
        assert_eq!(thresholds.len(), 1, "{whose}: one threshold");
        assert_eq!(
            rows.get("burn"),
            Some(&(objective.burn_rate_expression(), true)),
            "{whose}: the alarms' burn rate, drawn"
        );
        let shown = rows.values().filter(|(_, visible)| *visible).count();
        assert_eq!(shown, 1, "{whose}: only the burn rate is drawn");
        let key = (objective.name.clone(), period, thresholds[0].to_string());
        assert!(
            wanted.contains(&key),
            "{whose}: no alert of {} has a {period} s window with threshold {}",
            objective.name,
            thresholds[0]
        );
        assert!(charted.insert(key), "{whose}: that window twice");
    }

    assert_eq!(charted, wanted, "every window of every alert, charted");
    for objective in &slos {
        assert_eq!(
            window_widgets
                .get(&objective.name)
                .cloned()
                .unwrap_or_default(),
            [
                "singleValue:budgetleft,budgetminutes,sli".to_owned(),
                "timeSeries:budgetleft".to_owned()
            ]
            .into(),
            "{}: the SLI, the budget left in percent and minutes, and the budget over time",
            objective.name
        );
    }

    // The text: one block per objective linking its runbook, and the on-call guide.
    let texts: Vec<&str> = widgets
        .iter()
        .filter(|w| w["type"] == "text")
        .map(|w| w["properties"]["markdown"].as_str().unwrap())
        .collect();
    assert!(texts.iter().any(|t| t.contains("/runbooks/README.md")));
    for objective in &slos {
        let about: Vec<&&str> = texts
            .iter()
            .filter(|t| t.contains(&format!("slos/{}.json", objective.name)))
            .collect();
        assert_eq!(about.len(), 1, "{}: one text", objective.name);
        assert!(
            about[0].contains(&format!("${{runbook_base_url}}/{}", objective.runbook)),
            "{}: links its runbook",
            objective.name
        );
        for alert in &policy.alerts {
            assert!(
                about[0].contains(&slo::composite_alarm_name(&objective.name, &alert.name)),
                "{}: names its alert {}",
                objective.name,
                alert.name
            );
        }
    }
    assert_eq!(
        texts.len(),
        slos.len() + 1,
        "an introduction and one text per objective"
    );
}
