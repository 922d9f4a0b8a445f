//! The HTML page: one self-contained document with inline CSS and SVG and no scripts, so
//! it works without JavaScript and under a strict Content-Security-Policy.

use std::fmt::Write as _;

use crate::days::{DAYS_SHOWN, DayCell, day_window};
use crate::format::{
    escape_html, format_basis_points, format_date, format_display_time, format_iso, format_uptime,
};
use crate::overall::{OverallStatus, overall_status};
use crate::snapshot::{
    Component, ComponentGroup, Incident, IncidentImpact, IncidentStatus, MaintenanceWindow,
    StatusSnapshot,
};

const STYLE: &str = include_str!("page.css");

/// Days at or above this uptime (hundredths of a percent) are green: at most 86 s down.
const GOOD_DAY_BP: u32 = 9990;
/// Days at or above this are amber, below red.
const PARTIAL_DAY_BP: u32 = 9500;

const COLOR_NO_DATA: &str = "#d0d7de";
const COLOR_GOOD: &str = "#2da44e";
const COLOR_PARTIAL: &str = "#d4a72c";
const COLOR_BAD: &str = "#cf222e";

/// Renders the whole page. `snapshot.generated_at_ms` is "now".
pub fn render_html(snapshot: &StatusSnapshot) -> String {
    let now_ms = snapshot.generated_at_ms;
    let overall = overall_status(snapshot);
    let title = escape_html(&snapshot.title);
    let mut out = String::with_capacity(64 * 1024);

    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src 'self' https: http: data:; base-uri 'none'; \
         form-action 'none'\">\n\
         <meta name=\"color-scheme\" content=\"light\">\n\
         <title>{title} status</title>\n\
         <link rel=\"icon\" href=\"{icon}\">\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <div class=\"wrap\">\n",
        icon = favicon(overall),
    );

    render_header(&mut out, snapshot, &title);
    render_banner(&mut out, overall, now_ms);
    render_incidents(&mut out, &snapshot.incidents, true);
    render_maintenance(&mut out, &snapshot.maintenance, now_ms);
    for group in &snapshot.groups {
        render_group(&mut out, group, now_ms);
    }
    render_incidents(&mut out, &snapshot.incidents, false);

    let _ = write!(
        out,
        "<footer class=\"footer\">Last updated {}. All times UTC. Powered by bulwark.</footer>\n\
         </div>\n</body>\n</html>\n",
        time_element(now_ms)
    );
    out
}

fn render_header(out: &mut String, snapshot: &StatusSnapshot, title: &str) {
    out.push_str("<header class=\"header\">");
    if let Some(logo) = snapshot
        .logo_url
        .as_deref()
        .filter(|url| is_safe_logo_url(url))
    {
        let _ = write!(
            out,
            "<img class=\"logo\" src=\"{}\" alt=\"\" height=\"36\">",
            escape_html(logo)
        );
    }
    let _ = writeln!(out, "<h1 class=\"title\">{title}</h1></header>");
}

/// Only plain web URLs and same-site paths: a `javascript:` or `data:` logo from a
/// mistyped config has no business on a public page.
pub(crate) fn is_safe_logo_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || (lower.starts_with('/') && !lower.starts_with("//"))
}

fn render_banner(out: &mut String, overall: OverallStatus, now_ms: i64) {
    let icon = match overall {
        OverallStatus::Operational => "<path d=\"M6 12.5l4 4 8-9\"/>",
        OverallStatus::Maintenance => {
            "<path d=\"M12 7v5l3 3\"/><circle cx=\"12\" cy=\"12\" r=\"7\"/>"
        }
        OverallStatus::PartialOutage | OverallStatus::MajorOutage => {
            "<path d=\"M12 7v6\"/><path d=\"M12 16.5v.5\"/>"
        }
    };
    let _ = writeln!(
        out,
        "<section class=\"banner banner-{}\">\
         <svg class=\"banner-icon\" viewBox=\"0 0 24 24\" aria-hidden=\"true\">{icon}</svg>\
         <div><p class=\"banner-text\">{}</p>\
         <p class=\"banner-time\">As of {}</p></div></section>",
        overall.as_str(),
        overall.label(),
        time_element(now_ms),
    );
}

fn render_group(out: &mut String, group: &ComponentGroup, now_ms: i64) {
    let _ = writeln!(
        out,
        "<section class=\"card group\"><h2 class=\"group-name\">{}</h2>",
        escape_html(&group.name)
    );
    if group.components.is_empty() {
        out.push_str("<p class=\"empty\">No components.</p>\n");
    }
    for component in &group.components {
        render_component(out, component, now_ms);
    }
    out.push_str("</section>\n");
}

fn render_component(out: &mut String, component: &Component, now_ms: i64) {
    let cells = day_window(&component.days, now_ms);
    let _ = writeln!(
        out,
        "<article class=\"component\" id=\"component-{slug}\">\
         <div class=\"component-head\"><h3 class=\"component-name\">{name}</h3>\
         <span class=\"state state-{state}\">{label}</span></div>",
        slug = escape_html(&component.slug),
        name = escape_html(&component.name),
        state = component.state.as_str(),
        label = component.state.label(),
    );
    render_bars(out, &cells, &component.name);
    let _ = writeln!(
        out,
        "<div class=\"bars-legend\"><span>{DAYS_SHOWN} days ago</span>\
         <span class=\"legend-uptime\">{} uptime</span><span>Today</span></div>",
        format_uptime(component.uptime_90d)
    );
    out.push_str("<div class=\"metrics\"><dl class=\"stats\">");
    for (label, value) in [
        ("24 hours", component.uptime_24h),
        ("30 days", component.uptime_30d),
        ("90 days", component.uptime_90d),
    ] {
        let _ = write!(
            out,
            "<div class=\"stat\"><dt>{label}</dt><dd class=\"uptime\">{}</dd></div>",
            format_uptime(value)
        );
    }
    out.push_str("</dl>");
    render_sparkline(out, &component.response_ms);
    out.push_str("</div>\n");
    render_day_details(out, &cells);
    out.push_str("</article>\n");
}

fn day_color(basis_points: Option<u32>) -> &'static str {
    match basis_points {
        None => COLOR_NO_DATA,
        Some(bp) if bp >= GOOD_DAY_BP => COLOR_GOOD,
        Some(bp) if bp >= PARTIAL_DAY_BP => COLOR_PARTIAL,
        Some(_) => COLOR_BAD,
    }
}

fn day_summary(cell: &DayCell) -> String {
    match cell.basis_points {
        None => format!("{}: no data", format_date(cell.day_start_ms)),
        Some(_) => format!(
            "{}: {} uptime, {} of {} checks ok",
            format_date(cell.day_start_ms),
            format_basis_points(cell.basis_points),
            cell.successes,
            cell.checks
        ),
    }
}

/// One rect per day; the viewBox stretches to the card's width so 90 days fit a phone.
fn render_bars(out: &mut String, cells: &[DayCell], component_name: &str) {
    const STEP: usize = 10;
    const WIDTH: usize = 8;
    let _ = write!(
        out,
        "<svg class=\"bars\" viewBox=\"0 0 {} 40\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"{} uptime, last {DAYS_SHOWN} days\">",
        cells.len() * STEP - (STEP - WIDTH),
        escape_html(component_name)
    );
    for (index, cell) in cells.iter().enumerate() {
        let _ = write!(
            out,
            "<rect class=\"day\" x=\"{}\" y=\"0\" width=\"{WIDTH}\" height=\"40\" rx=\"2\" \
             fill=\"{}\"><title>{}</title></rect>",
            index * STEP,
            day_color(cell.basis_points),
            escape_html(&day_summary(cell)),
        );
    }
    out.push_str("</svg>\n");
}

fn render_sparkline(out: &mut String, response_ms: &[u32]) {
    const WIDTH: f64 = 200.0;
    const HEIGHT: f64 = 40.0;
    out.push_str("<figure class=\"spark\">");
    if response_ms.len() < 2 {
        out.push_str(
            "<figcaption>Response time</figcaption><p class=\"spark-empty\">no data</p></figure>",
        );
        return;
    }
    let max = response_ms.iter().copied().max().unwrap_or(0).max(1);
    let sum: u64 = response_ms.iter().map(|&v| u64::from(v)).sum();
    let avg = sum / response_ms.len() as u64;
    let step = WIDTH / (response_ms.len() - 1) as f64;
    let mut points = String::new();
    for (index, &value) in response_ms.iter().enumerate() {
        // 2 units of margin so the stroke is not clipped at the top and bottom.
        let y = HEIGHT - 2.0 - f64::from(value) / f64::from(max) * (HEIGHT - 4.0);
        let _ = write!(points, "{:.1},{:.1} ", index as f64 * step, y);
    }
    let points = points.trim_end();
    let _ = write!(
        out,
        "<figcaption>Response time <span class=\"spark-values\">avg {avg} ms \u{b7} \
         max {max} ms</span></figcaption>\
         <svg class=\"sparkline\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" preserveAspectRatio=\"none\" \
         role=\"img\" aria-label=\"Response time, average {avg} ms, maximum {max} ms\">\
         <polygon class=\"spark-area\" points=\"0,{HEIGHT} {points} {WIDTH},{HEIGHT}\"/>\
         <polyline class=\"spark-line\" points=\"{points}\"/></svg></figure>"
    );
}

fn render_day_details(out: &mut String, cells: &[DayCell]) {
    out.push_str(
        "<details class=\"days\"><summary>Daily detail</summary>\
         <table><thead><tr><th scope=\"col\">Date</th><th scope=\"col\">Uptime</th>\
         <th scope=\"col\">Checks</th><th scope=\"col\">Avg response</th></tr></thead><tbody>",
    );
    for cell in cells.iter().rev() {
        let checks = if cell.checks == 0 {
            "\u{2013}".to_owned()
        } else {
            format!("{} / {}", cell.successes, cell.checks)
        };
        let avg = match (cell.checks, cell.avg_response_ms) {
            (1.., Some(ms)) => format!("{ms} ms"),
            _ => "\u{2013}".to_owned(),
        };
        let _ = write!(
            out,
            "<tr><td><span class=\"swatch\" aria-hidden=\"true\"><svg viewBox=\"0 0 8 8\">\
             <rect width=\"8\" height=\"8\" rx=\"2\" fill=\"{}\"/></svg></span>{}</td>\
             <td>{}</td><td>{checks}</td><td>{avg}</td></tr>",
            day_color(cell.basis_points),
            format_date(cell.day_start_ms),
            format_basis_points(cell.basis_points),
        );
    }
    out.push_str("</tbody></table></details>\n");
}

/// `active`: the incidents still open, shown above the components; otherwise the
/// resolved ones, shown below them.
fn render_incidents(out: &mut String, incidents: &[Incident], active: bool) {
    let mut selected: Vec<&Incident> = incidents
        .iter()
        .filter(|i| (i.status != IncidentStatus::Resolved) == active)
        .collect();
    selected
        .sort_by_key(|i| std::cmp::Reverse(i.resolved_ms.unwrap_or(i.opened_ms).max(i.opened_ms)));
    if active && selected.is_empty() {
        return;
    }
    let heading = if active {
        "Active incidents"
    } else {
        "Past incidents"
    };
    let _ = writeln!(
        out,
        "<section class=\"incidents incidents-{}\"><h2 class=\"section-title\">{heading}</h2>",
        if active { "active" } else { "past" }
    );
    if selected.is_empty() {
        out.push_str("<p class=\"card empty\">No incidents reported recently.</p>\n");
    }
    for incident in selected {
        render_incident(out, incident);
    }
    out.push_str("</section>\n");
}

fn impact_label(impact: IncidentImpact) -> &'static str {
    match impact {
        IncidentImpact::None => "No impact",
        IncidentImpact::Minor => "Minor",
        IncidentImpact::Major => "Major",
        IncidentImpact::Critical => "Critical",
    }
}

fn render_incident(out: &mut String, incident: &Incident) {
    let _ = write!(
        out,
        "<article class=\"card incident impact-{impact}\"><div class=\"incident-head\">\
         <h3 class=\"incident-title\">{title}</h3>\
         <span class=\"tag status-{status}\">{status_label}</span></div>\
         <p class=\"incident-meta\">{impact_label} impact \u{b7} opened {opened}",
        impact = incident.impact.as_str(),
        title = escape_html(&incident.title),
        status = incident.status.as_str(),
        status_label = incident.status.label(),
        impact_label = impact_label(incident.impact),
        opened = time_element(incident.opened_ms),
    );
    if let Some(resolved) = incident.resolved_ms {
        let _ = write!(out, " \u{b7} resolved {}", time_element(resolved));
    }
    out.push_str("</p>\n");
    if !incident.updates.is_empty() {
        let mut updates: Vec<_> = incident.updates.iter().collect();
        updates.sort_by_key(|u| std::cmp::Reverse(u.at_ms));
        out.push_str("<ol class=\"updates\">");
        for update in updates {
            let _ = write!(
                out,
                "<li><p class=\"update-head\"><strong>{}</strong> {}</p>\
                 <p class=\"update-message\">{}</p></li>",
                update.status.label(),
                time_element(update.at_ms),
                escape_html(&update.message),
            );
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</article>\n");
}

fn render_maintenance(out: &mut String, windows: &[MaintenanceWindow], now_ms: i64) {
    let mut shown: Vec<&MaintenanceWindow> =
        windows.iter().filter(|w| w.ends_ms > now_ms).collect();
    if shown.is_empty() {
        return;
    }
    shown.sort_by_key(|w| w.starts_ms);
    out.push_str(
        "<section class=\"maintenance\"><h2 class=\"section-title\">Scheduled maintenance</h2>\n",
    );
    for window in shown {
        let (class, label) = if window.is_active(now_ms) {
            ("active", "In progress")
        } else {
            ("upcoming", "Upcoming")
        };
        let _ = write!(
            out,
            "<article class=\"card window window-{class}\"><div class=\"incident-head\">\
             <h3 class=\"incident-title\">{}</h3><span class=\"tag window-tag-{class}\">{label}</span>\
             </div><p class=\"incident-meta\">{} \u{2013} {}</p>",
            escape_html(&window.name),
            time_element(window.starts_ms),
            time_element(window.ends_ms),
        );
        if !window.components.is_empty() {
            let names: Vec<String> = window.components.iter().map(|c| escape_html(c)).collect();
            let _ = write!(
                out,
                "<p class=\"affected\">Affects: {}</p>",
                names.join(", ")
            );
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

fn time_element(ms: i64) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        format_iso(ms),
        format_display_time(ms)
    )
}

/// A dot in the banner's colour, so a browser tab shows the state at a glance. Inline,
/// so the page makes no request for `/favicon.ico`.
fn favicon(overall: OverallStatus) -> String {
    let color = match overall {
        OverallStatus::Operational => "%231a7f37",
        OverallStatus::PartialOutage => "%23bc4c00",
        OverallStatus::MajorOutage => "%23cf222e",
        OverallStatus::Maintenance => "%230969da",
    };
    format!(
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E\
         %3Ccircle cx='8' cy='8' r='7' fill='{color}'/%3E%3C/svg%3E"
    )
}
