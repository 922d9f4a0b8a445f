//! Filling [`Facts`] from bulwark's own metrics (docs/metrics.md), which are current
//! state rather than a stream of events that may have been lost. What the metrics do not
//! say (whether a check is critical, why a monitor is down) the binary may fill in after.

use std::collections::BTreeMap;

use crate::exposition::Sample;
use crate::rules::{DeadLetterCount, DeliveryFacts, DownMonitor, Facts, FailingCheck};

/// `circuit_breaker_state` value of an open breaker.
const BREAKER_OPEN: f64 = 2.0;

impl Facts {
    /// Facts derived from one scrape; `metrics` is kept for threshold rules.
    ///
    /// | fact | from |
    /// |---|---|
    /// | breakers_open | `circuit_breaker_state{destination} == 2` |
    /// | failing_checks | `bulwark_check_up{check} == 0` (`critical` false) |
    /// | dead_letters | `bulwark_queue_depth{destination, state="dead"}` |
    /// | security_events_total | sum of `security_events_total` |
    /// | monitors_down | `monitor_up{monitor} == 0` |
    /// | deliveries | `bulwark_deliveries_total{outcome="delivered"}` vs `retry`+`dead`, `bulwark_queue_oldest_pending_age_seconds` |
    pub fn from_metrics(metrics: Vec<Sample>) -> Facts {
        let mut facts = Facts::default();
        let mut deliveries: BTreeMap<String, DeliveryFacts> = BTreeMap::new();
        let mut security_total = 0.0;
        for sample in &metrics {
            let label = |name: &str| sample.labels.get(name).map(String::as_str);
            match sample.name.as_str() {
                "circuit_breaker_state" => {
                    if let Some(destination) = label("destination")
                        && sample.value == BREAKER_OPEN
                    {
                        facts.breakers_open.push(destination.to_owned());
                    }
                }
                "bulwark_check_up" => {
                    if let Some(check) = label("check")
                        && sample.value == 0.0
                    {
                        facts.failing_checks.push(FailingCheck {
                            check: check.to_owned(),
                            critical: false,
                        });
                    }
                }
                "bulwark_queue_depth" => {
                    if let (Some(destination), Some("dead")) =
                        (label("destination"), label("state"))
                    {
                        facts.dead_letters.push(DeadLetterCount {
                            destination: destination.to_owned(),
                            dead: count(sample.value),
                        });
                    }
                }
                "security_events_total" if sample.value.is_finite() && sample.value > 0.0 => {
                    security_total += sample.value;
                }
                "monitor_up" => {
                    if let Some(monitor) = label("monitor")
                        && sample.value == 0.0
                    {
                        facts.monitors_down.push(DownMonitor {
                            monitor: monitor.to_owned(),
                            severity: None,
                            reason: "The monitor's checks are failing.".to_owned(),
                        });
                    }
                }
                "bulwark_deliveries_total" => {
                    if let (Some(destination), Some(outcome)) =
                        (label("destination"), label("outcome"))
                    {
                        let entry = delivery(&mut deliveries, destination);
                        match outcome {
                            "delivered" => entry.delivered_total += count(sample.value),
                            "retry" | "dead" => entry.failed_total += count(sample.value),
                            _ => {}
                        }
                    }
                }
                "bulwark_queue_oldest_pending_age_seconds" => {
                    if let Some(destination) = label("destination")
                        && sample.value.is_finite()
                        && sample.value >= 0.0
                    {
                        delivery(&mut deliveries, destination).oldest_pending_age_ms =
                            Some((sample.value * 1000.0) as i64);
                    }
                }
                _ => {}
            }
        }
        facts.security_events_total = count(security_total);
        facts.deliveries = deliveries.into_values().collect();
        facts.metrics = metrics;
        facts
    }
}

fn delivery<'a>(
    map: &'a mut BTreeMap<String, DeliveryFacts>,
    destination: &str,
) -> &'a mut DeliveryFacts {
    map.entry(destination.to_owned())
        .or_insert_with(|| DeliveryFacts {
            destination: destination.to_owned(),
            delivered_total: 0,
            failed_total: 0,
            oldest_pending_age_ms: None,
        })
}

/// A counter or gauge value as a count; NaN and negatives count as zero.
fn count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse_exposition;

    #[test]
    fn reads_the_documented_families() {
        let text = "\
circuit_breaker_state{destination=\"billing\"} 2
circuit_breaker_state{destination=\"shop\"} 1
bulwark_check_up{check=\"db\"} 0
bulwark_check_up{check=\"listeners\"} 1
bulwark_queue_depth{destination=\"billing\",state=\"dead\"} 7
bulwark_queue_depth{destination=\"billing\",state=\"pending\"} 3
security_events_total{event_type=\"auth_failed\",severity=\"medium\"} 4
security_events_total{event_type=\"rate_limited\",severity=\"low\"} 10
monitor_up{monitor=\"shop\"} 0
monitor_up{monitor=\"blog\"} 1
bulwark_deliveries_total{destination=\"billing\",outcome=\"delivered\"} 100
bulwark_deliveries_total{destination=\"billing\",outcome=\"retry\"} 5
bulwark_deliveries_total{destination=\"billing\",outcome=\"dead\"} 2
bulwark_deliveries_total{destination=\"billing\",outcome=\"paused\"} 9
bulwark_queue_oldest_pending_age_seconds{destination=\"billing\"} 12.5
";
        let facts = Facts::from_metrics(parse_exposition(text).unwrap());
        assert_eq!(facts.breakers_open, vec!["billing".to_owned()]);
        assert_eq!(
            facts.failing_checks,
            vec![FailingCheck {
                check: "db".into(),
                critical: false
            }]
        );
        assert_eq!(
            facts.dead_letters,
            vec![DeadLetterCount {
                destination: "billing".into(),
                dead: 7
            }]
        );
        assert_eq!(facts.security_events_total, 14);
        assert_eq!(facts.monitors_down.len(), 1);
        assert_eq!(facts.monitors_down[0].monitor, "shop");
        assert_eq!(
            facts.deliveries,
            vec![DeliveryFacts {
                destination: "billing".into(),
                delivered_total: 100,
                failed_total: 7,
                oldest_pending_age_ms: Some(12_500),
            }]
        );
        assert_eq!(facts.metrics.len(), 15);
    }
}
