//! What each notifier sends, as pure functions of a [`Notification`]: no I/O, so each
//! payload is tested against a literal expected value.
//!
//! The wording follows the feel of Alertmanager's default templates (a `[FIRING:n]` /
//! `[RESOLVED]` title, then each alert's summary, description and labels) so that people
//! used to Alertmanager read them at a glance.

use serde_json::{Value, json};

use crate::model::{AlertStatus, Notification, NotifiedAlert};

/// Slack colour of a resolved group.
pub const RESOLVED_COLOUR: &str = "#2eb886";
/// Longest SMS body, in characters: two SMS segments of 160 GSM characters.
pub const SMS_MAX_CHARS: usize = 320;

/// `[FIRING:2] HighErrorRate` or `[RESOLVED] HighErrorRate`.
pub fn title(n: &Notification) -> String {
    match n.status {
        AlertStatus::Firing => format!("[FIRING:{}] {}", n.firing_count(), n.alert_name()),
        AlertStatus::Resolved => format!("[RESOLVED] {}", n.alert_name()),
    }
}

/// The webhook body: Alertmanager's version-4 JSON, exactly the serde form of `n`.
pub fn webhook_body(n: &Notification) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(n)
}

/// The Slack attachment colour: green once resolved, else by severity.
pub fn slack_colour(n: &Notification) -> &'static str {
    if n.status == AlertStatus::Resolved {
        return RESOLVED_COLOUR;
    }
    match n.severity() {
        "critical" | "high" => "#d00000",
        "medium" => "#ff9900",
        "low" => "#439fe0",
        _ => "#a0a0a0",
    }
}

/// A Slack incoming-webhook message: one attachment with the colour, the title linking
/// to the external URL, and each alert's summary, description and labels.
pub fn slack_message(n: &Notification) -> Value {
    let title = title(n);
    let mut text = String::new();
    for alert in &n.alerts {
        if !text.is_empty() {
            text.push('\n');
        }
        slack_alert(&mut text, alert);
    }
    if n.truncated_alerts > 0 {
        text.push_str(&format!(
            "\n_{} more alerts not shown_\n",
            n.truncated_alerts
        ));
    }
    json!({
        "attachments": [{
            "color": slack_colour(n),
            "title": slack_escape(&title),
            "title_link": n.external_url,
            "fallback": slack_escape(&format!("{title} | {}", n.external_url)),
            "text": text,
            "mrkdwn_in": ["text"],
        }]
    })
}

fn slack_alert(text: &mut String, alert: &NotifiedAlert) {
    let severity = alert
        .labels
        .get("severity")
        .map_or("unknown", String::as_str);
    let headline = alert
        .annotations
        .get("summary")
        .or_else(|| alert.labels.get("alertname"))
        .map_or("alert", String::as_str);
    let state = match alert.status {
        AlertStatus::Firing => "",
        AlertStatus::Resolved => " (resolved)",
    };
    text.push_str(&format!(
        "*Alert:* {}{state} - `{}`\n",
        slack_escape(headline),
        slack_escape(severity)
    ));
    if let Some(description) = alert.annotations.get("description") {
        text.push_str(&format!("*Description:* {}\n", slack_escape(description)));
    }
    text.push_str("*Labels:*\n");
    for (name, value) in &alert.labels {
        text.push_str(&format!(
            "  • *{}:* `{}`\n",
            slack_escape(name),
            slack_escape(value)
        ));
    }
}

/// Slack's three control characters in message text
/// (<https://api.slack.com/reference/surfaces/formatting#escaping>).
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `[FIRING:2] HighErrorRate (critical)`, with control characters removed so that no
/// label value can add a header line.
pub fn email_subject(n: &Notification) -> String {
    let subject = format!("{} ({})", title(n), n.severity());
    subject.chars().filter(|c| !c.is_control()).collect()
}

/// The plain-text part of the email.
pub fn email_text(n: &Notification) -> String {
    let mut out = format!("{}\n", email_subject(n));
    for alert in &n.alerts {
        out.push('\n');
        let state = match alert.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        };
        let name = alert
            .labels
            .get("alertname")
            .map_or("alert", String::as_str);
        out.push_str(&format!("{name} ({state}) since {}\n", alert.starts_at));
        if let Some(summary) = alert.annotations.get("summary") {
            out.push_str(&format!("Summary: {summary}\n"));
        }
        if let Some(description) = alert.annotations.get("description") {
            out.push_str(&format!("Description: {description}\n"));
        }
        out.push_str("Labels:\n");
        for (label, value) in &alert.labels {
            out.push_str(&format!("  {label} = {value}\n"));
        }
    }
    if n.truncated_alerts > 0 {
        out.push_str(&format!(
            "\n{} more alerts not shown.\n",
            n.truncated_alerts
        ));
    }
    out.push_str(&format!("\nSee {}\n", n.external_url));
    out
}

/// The HTML part of the email; every label and annotation value is escaped.
pub fn email_html(n: &Notification) -> String {
    let colour = slack_colour(n);
    let mut out = format!(
        "<!DOCTYPE html>\n<html><body>\n<h2 style=\"color:{colour}\">{}</h2>\n",
        html_escape(&email_subject(n))
    );
    for alert in &n.alerts {
        let state = match alert.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        };
        let name = alert
            .labels
            .get("alertname")
            .map_or("alert", String::as_str);
        out.push_str(&format!(
            "<h3>{} ({state}) since {}</h3>\n",
            html_escape(name),
            html_escape(&alert.starts_at)
        ));
        if let Some(summary) = alert.annotations.get("summary") {
            out.push_str(&format!(
                "<p><b>Summary:</b> {}</p>\n",
                html_escape(summary)
            ));
        }
        if let Some(description) = alert.annotations.get("description") {
            out.push_str(&format!(
                "<p><b>Description:</b> {}</p>\n",
                html_escape(description)
            ));
        }
        out.push_str("<ul>\n");
        for (label, value) in &alert.labels {
            out.push_str(&format!(
                "<li>{} = {}</li>\n",
                html_escape(label),
                html_escape(value)
            ));
        }
        out.push_str("</ul>\n");
    }
    if n.truncated_alerts > 0 {
        out.push_str(&format!(
            "<p>{} more alerts not shown.</p>\n",
            n.truncated_alerts
        ));
    }
    out.push_str(&format!(
        "<p><a href=\"{url}\">{url}</a></p>\n</body></html>\n",
        url = html_escape(&n.external_url)
    ));
    out
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The SMS text: `[FIRING:2] HighErrorRate (critical): <summary> <externalURL>`, at most
/// [`SMS_MAX_CHARS`] characters; the summary is cut first (ending in `…`), then the rest.
pub fn sms_body(n: &Notification) -> String {
    let head = format!("{} ({})", title(n), n.severity());
    let tail = if n.external_url.is_empty() {
        String::new()
    } else {
        format!(" {}", n.external_url)
    };
    let summary = n.summary().map(|s| format!(": {s}")).unwrap_or_default();
    let room = SMS_MAX_CHARS.saturating_sub(head.chars().count() + tail.chars().count());
    let text = format!("{head}{}{tail}", cut(&summary, room));
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut(&text, SMS_MAX_CHARS)
}

/// `s` if it has at most `max` characters, else its first `max - 1` and `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alert(status: AlertStatus, instance: &str, summary: &str) -> NotifiedAlert {
        NotifiedAlert {
            status,
            labels: labels(&[
                ("alertname", "HighErrorRate"),
                ("instance", instance),
                ("severity", "critical"),
                ("type", "api"),
            ]),
            annotations: labels(&[("summary", summary), ("description", "5xx > 5% for 5m")]),
            starts_at: "2026-11-28T04:00:00Z".into(),
            ends_at: "0001-01-01T00:00:00Z".into(),
            generator_url: "https://bulwark.example/alerts".into(),
            fingerprint: "0123456789abcdef".into(),
        }
    }

    fn firing_two() -> Notification {
        Notification {
            version: "4".into(),
            group_key: "{}:{alertname=\"HighErrorRate\"}".into(),
            truncated_alerts: 0,
            status: AlertStatus::Firing,
            receiver: "ops".into(),
            group_labels: labels(&[("alertname", "HighErrorRate")]),
            common_labels: labels(&[
                ("alertname", "HighErrorRate"),
                ("severity", "critical"),
                ("type", "api"),
            ]),
            common_annotations: labels(&[("description", "5xx > 5% for 5m")]),
            external_url: "https://bulwark.example/status".into(),
            alerts: vec![
                alert(AlertStatus::Firing, "a", "Errors on a"),
                alert(AlertStatus::Firing, "b", "Errors <b> & co"),
            ],
        }
    }

    #[test]
    fn titles_count_firing_alerts() {
        let mut n = firing_two();
        assert_eq!(title(&n), "[FIRING:2] HighErrorRate");
        n.alerts[1].status = AlertStatus::Resolved;
        assert_eq!(title(&n), "[FIRING:1] HighErrorRate");
        n.status = AlertStatus::Resolved;
        assert_eq!(title(&n), "[RESOLVED] HighErrorRate");
    }

    #[test]
    fn webhook_body_is_alertmanager_v4_json() {
        let body = webhook_body(&firing_two()).unwrap();
        let value: Value = serde_json::from_slice(&body).unwrap();
        // Field names as in Alertmanager's webhook documentation.
        assert_eq!(value["version"], "4");
        assert_eq!(value["groupKey"], "{}:{alertname=\"HighErrorRate\"}");
        assert_eq!(value["truncatedAlerts"], 0);
        assert_eq!(value["status"], "firing");
        assert_eq!(value["externalURL"], "https://bulwark.example/status");
        assert_eq!(value["commonLabels"]["severity"], "critical");
        assert_eq!(
            value["alerts"][1]["generatorURL"],
            "https://bulwark.example/alerts"
        );
        assert_eq!(value["alerts"][1]["startsAt"], "2026-11-28T04:00:00Z");
        assert_eq!(value["alerts"][1]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(value["alerts"][1]["fingerprint"], "0123456789abcdef");
    }

    #[test]
    fn slack_message_for_a_firing_group() {
        let expected = json!({
            "attachments": [{
                "color": "#d00000",
                "title": "[FIRING:2] HighErrorRate",
                "title_link": "https://bulwark.example/status",
                "fallback": "[FIRING:2] HighErrorRate | https://bulwark.example/status",
                "text": "*Alert:* Errors on a - `critical`\n\
                         *Description:* 5xx &gt; 5% for 5m\n\
                         *Labels:*\n\
                         \u{20}\u{20}• *alertname:* `HighErrorRate`\n\
                         \u{20}\u{20}• *instance:* `a`\n\
                         \u{20}\u{20}• *severity:* `critical`\n\
                         \u{20}\u{20}• *type:* `api`\n\
                         \n\
                         *Alert:* Errors &lt;b&gt; &amp; co - `critical`\n\
                         *Description:* 5xx &gt; 5% for 5m\n\
                         *Labels:*\n\
                         \u{20}\u{20}• *alertname:* `HighErrorRate`\n\
                         \u{20}\u{20}• *instance:* `b`\n\
                         \u{20}\u{20}• *severity:* `critical`\n\
                         \u{20}\u{20}• *type:* `api`\n",
                "mrkdwn_in": ["text"],
            }]
        });
        assert_eq!(slack_message(&firing_two()), expected);
    }

    #[test]
    fn slack_colours_by_severity_and_green_when_resolved() {
        let mut n = firing_two();
        let cases = [
            ("critical", "#d00000"),
            ("high", "#d00000"),
            ("medium", "#ff9900"),
            ("low", "#439fe0"),
            ("info", "#a0a0a0"),
        ];
        for (severity, colour) in cases {
            n.common_labels.insert("severity".into(), severity.into());
            assert_eq!(slack_colour(&n), colour, "{severity}");
        }
        n.status = AlertStatus::Resolved;
        assert_eq!(slack_colour(&n), "#2eb886");
    }

    #[test]
    fn severity_without_a_common_label_is_the_most_urgent_firing_one() {
        let mut n = firing_two();
        n.common_labels.remove("severity");
        n.alerts[0].labels.insert("severity".into(), "low".into());
        n.alerts[1].labels.insert("severity".into(), "high".into());
        assert_eq!(n.severity(), "high");
        n.alerts[1].status = AlertStatus::Resolved;
        assert_eq!(n.severity(), "low");
    }

    #[test]
    fn email_subject_and_bodies() {
        let n = firing_two();
        assert_eq!(email_subject(&n), "[FIRING:2] HighErrorRate (critical)");
        let mut resolved = n.clone();
        resolved.status = AlertStatus::Resolved;
        assert_eq!(
            email_subject(&resolved),
            "[RESOLVED] HighErrorRate (critical)"
        );

        let text = "[FIRING:2] HighErrorRate (critical)\n\
                    \n\
                    HighErrorRate (firing) since 2026-11-28T04:00:00Z\n\
                    Summary: Errors on a\n\
                    Description: 5xx > 5% for 5m\n\
                    Labels:\n\
                    \u{20}\u{20}alertname = HighErrorRate\n\
                    \u{20}\u{20}instance = a\n\
                    \u{20}\u{20}severity = critical\n\
                    \u{20}\u{20}type = api\n\
                    \n\
                    HighErrorRate (firing) since 2026-11-28T04:00:00Z\n\
                    Summary: Errors <b> & co\n\
                    Description: 5xx > 5% for 5m\n\
                    Labels:\n\
                    \u{20}\u{20}alertname = HighErrorRate\n\
                    \u{20}\u{20}instance = b\n\
                    \u{20}\u{20}severity = critical\n\
                    \u{20}\u{20}type = api\n\
                    \n\
                    See https://bulwark.example/status\n";
        assert_eq!(email_text(&n), text);

        let html = email_html(&n);
        assert!(
            html.contains("<h2 style=\"color:#d00000\">[FIRING:2] HighErrorRate (critical)</h2>")
        );
        assert!(html.contains("<p><b>Summary:</b> Errors &lt;b&gt; &amp; co</p>"));
        assert!(html.contains("<p><b>Description:</b> 5xx &gt; 5% for 5m</p>"));
        assert!(html.contains("<li>instance = b</li>"));
        assert!(!html.contains("<b> & co"), "raw value leaked into HTML");
    }

    #[test]
    fn html_escape_covers_the_five_characters() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn subject_loses_control_characters() {
        let mut n = firing_two();
        n.common_labels
            .insert("alertname".into(), "Evil\r\nBcc: x@example.com".into());
        assert_eq!(
            email_subject(&n),
            "[FIRING:2] EvilBcc: x@example.com (critical)"
        );
    }

    #[test]
    fn sms_body_is_short_text() {
        let mut n = firing_two();
        n.common_annotations
            .insert("summary".into(), "Error rate above 5%".into());
        assert_eq!(
            sms_body(&n),
            "[FIRING:2] HighErrorRate (critical): Error rate above 5% https://bulwark.example/status"
        );
    }

    #[test]
    fn sms_body_cuts_the_summary_to_320_characters() {
        let mut n = firing_two();
        n.common_annotations
            .insert("summary".into(), "x".repeat(1000));
        let body = sms_body(&n);
        assert_eq!(body.chars().count(), 320);
        // head (35) + ": " (2) + 251 x's + "…" (1) + " " (1) + url (30) = 320
        let expected = format!(
            "[FIRING:2] HighErrorRate (critical): {}… https://bulwark.example/status",
            "x".repeat(251)
        );
        assert_eq!(body, expected);
    }
}
