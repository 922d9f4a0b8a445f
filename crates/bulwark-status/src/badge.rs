//! SVG badges in the shields.io "flat" style, one per public monitor, for READMEs.

use std::fmt::Write as _;

use crate::format::{escape_html, format_uptime, fraction_to_basis_points};
use crate::snapshot::ComponentState;

/// What the right half of a badge says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BadgeMessage {
    /// The component's current state: "operational", "degraded", "down", "maintenance".
    State(ComponentState),
    /// An uptime fraction in 0.0..=1.0, shown like the page ("99.95%"), or "no data".
    Uptime(Option<f64>),
}

// shields.io's named colours.
const BRIGHTGREEN: &str = "#4c1";
const GREEN: &str = "#97ca00";
const YELLOW: &str = "#dfb317";
const ORANGE: &str = "#fe7d37";
const RED: &str = "#e05d44";
const BLUE: &str = "#007ec6";
const LIGHTGREY: &str = "#9f9f9f";
const LABEL_GREY: &str = "#555";

impl BadgeMessage {
    fn text(self) -> String {
        match self {
            Self::State(state) => state.as_str().to_owned(),
            Self::Uptime(fraction) => format_uptime(fraction),
        }
    }

    /// The message half's colour.
    pub fn color(self) -> &'static str {
        match self {
            Self::State(ComponentState::Operational) => BRIGHTGREEN,
            Self::State(ComponentState::Degraded) => YELLOW,
            Self::State(ComponentState::Down) => RED,
            Self::State(ComponentState::Maintenance) => BLUE,
            Self::Uptime(fraction) => match fraction.and_then(fraction_to_basis_points) {
                None => LIGHTGREY,
                Some(bp) if bp >= 9990 => BRIGHTGREEN,
                Some(bp) if bp >= 9900 => GREEN,
                Some(bp) if bp >= 9700 => YELLOW,
                Some(bp) if bp >= 9500 => ORANGE,
                Some(_) => RED,
            },
        }
    }
}

/// Advance widths of Verdana (the badge font) in font units of a 2048-unit em, for
/// ASCII 32..=126. Widths decide the layout, as shields.io does, because the SVG cannot
/// measure its own text.
const VERDANA_WIDTHS: [u16; 95] = [
    720, 823, 1001, 1823, 1423, 2401, 1636, 552, 1023, 1023, 1423, 1823, 821, 1023, 821,
    1023, // ' '../
    1423, 1423, 1423, 1423, 1423, 1423, 1423, 1423, 1423, 1423, // 0-9
    1023, 1023, 1823, 1823, 1823, 1229, 2048, // :;<=>?@
    1401, 1405, 1431, 1579, 1294, 1178, 1583, 1546, 860, 1023, 1419, 1163, 1727, 1545, 1614, 1259,
    1614, 1442, 1423, 1255, 1524, 1401, 2025, 1405, 1256, 1405, // A-Z
    1023, 1023, 1023, 1823, 1423, 1423, // [\]^_`
    1229, 1272, 1064, 1272, 1220, 720, 1272, 1298, 562, 705, 1186, 562, 1995, 1298, 1243, 1272,
    1272, 874, 1064, 807, 1298, 1186, 1638, 1186, 1186, 1052, // a-z
    1300, 1023, 1300, 1823, // {|}~
];
/// For characters outside the table: about a wide lowercase letter.
const FALLBACK_WIDTH: u16 = 1423;

/// The width in pixels of `text` set in 11 px Verdana.
pub fn text_width_px(text: &str) -> f64 {
    let units: u64 = text
        .chars()
        .map(|c| {
            let code = c as u32;
            let width = if (32..=126).contains(&code) {
                VERDANA_WIDTHS[(code - 32) as usize]
            } else {
                FALLBACK_WIDTH
            };
            u64::from(width)
        })
        .sum();
    units as f64 * 11.0 / 2048.0
}

/// A flat badge: `label` on grey, the message on its colour. Both texts are escaped.
pub fn render_badge(label: &str, message: BadgeMessage) -> String {
    let message_text = message.text();
    let color = message.color();
    // 5 px of padding on each side of each text, as shields.io does.
    let label_width = (text_width_px(label) + 10.0).ceil() as u32;
    let message_width = (text_width_px(&message_text) + 10.0).ceil() as u32;
    let width = label_width + message_width;
    let label_x = label_width * 5; // centre, in the text's tenth-of-a-pixel space
    let message_x = label_width * 10 + message_width * 5;
    let label_text_len = (label_width - 10) * 10;
    let message_text_len = (message_width - 10) * 10;
    let id = badge_id(label, &message_text, color);
    let label = escape_html(label);
    let message_text = escape_html(&message_text);

    let mut out = String::with_capacity(1200);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"20\" role=\"img\" \
         aria-label=\"{label}: {message_text}\"><title>{label}: {message_text}</title>\
         <linearGradient id=\"s{id}\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" \
         stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>\
         <clipPath id=\"r{id}\"><rect width=\"{width}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>\
         <g clip-path=\"url(#r{id})\"><rect width=\"{label_width}\" height=\"20\" fill=\"{LABEL_GREY}\"/>\
         <rect x=\"{label_width}\" width=\"{message_width}\" height=\"20\" fill=\"{color}\"/>\
         <rect width=\"{width}\" height=\"20\" fill=\"url(#s{id})\"/></g>\
         <g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" \
         text-rendering=\"geometricPrecision\" font-size=\"110\">\
         <text aria-hidden=\"true\" x=\"{label_x}\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\" \
         transform=\"scale(.1)\" textLength=\"{label_text_len}\">{label}</text>\
         <text x=\"{label_x}\" y=\"140\" transform=\"scale(.1)\" fill=\"#fff\" \
         textLength=\"{label_text_len}\">{label}</text>\
         <text aria-hidden=\"true\" x=\"{message_x}\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\" \
         transform=\"scale(.1)\" textLength=\"{message_text_len}\">{message_text}</text>\
         <text x=\"{message_x}\" y=\"140\" transform=\"scale(.1)\" fill=\"#fff\" \
         textLength=\"{message_text_len}\">{message_text}</text></g></svg>"
    );
    out
}

/// A suffix for the SVG's ids, so that several different badges inlined in one HTML page
/// do not pick up each other's gradient and clip path (FNV-1a of what the badge shows).
fn badge_id(label: &str, message: &str, color: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in [label, "\0", message, "\0", color]
        .iter()
        .flat_map(|part| part.bytes())
    {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_colours_follow_shields_names() {
        assert_eq!(
            BadgeMessage::State(ComponentState::Operational).color(),
            "#4c1"
        );
        assert_eq!(
            BadgeMessage::State(ComponentState::Degraded).color(),
            "#dfb317"
        );
        assert_eq!(BadgeMessage::State(ComponentState::Down).color(), "#e05d44");
        assert_eq!(
            BadgeMessage::State(ComponentState::Maintenance).color(),
            "#007ec6"
        );
    }

    #[test]
    fn uptime_colours_by_threshold() {
        assert_eq!(BadgeMessage::Uptime(Some(1.0)).color(), "#4c1");
        assert_eq!(BadgeMessage::Uptime(Some(0.999)).color(), "#4c1");
        assert_eq!(BadgeMessage::Uptime(Some(0.9989)).color(), "#97ca00");
        assert_eq!(BadgeMessage::Uptime(Some(0.98)).color(), "#dfb317");
        assert_eq!(BadgeMessage::Uptime(Some(0.96)).color(), "#fe7d37");
        assert_eq!(BadgeMessage::Uptime(Some(0.5)).color(), "#e05d44");
        assert_eq!(BadgeMessage::Uptime(None).color(), "#9f9f9f");
    }

    #[test]
    fn text_width_uses_the_verdana_table() {
        // "up": u 1298 + p 1272 = 2570 units; * 11 / 2048 = 13.80 px.
        assert!((text_width_px("up") - 13.803).abs() < 0.01);
        // Wide letters measure wider than narrow ones of the same count.
        assert!(text_width_px("WWW") > text_width_px("iii") * 3.0);
    }

    #[test]
    fn badge_has_layout_colour_and_text() {
        let svg = render_badge("api", BadgeMessage::State(ComponentState::Down));
        // "api": 1229 + 1272 + 562 = 3063 units = 16.45 px, + 10 = 27 px.
        // "down": 1272 + 1243 + 1638 + 1298 = 5451 units = 29.28 px, + 10 = 40 px.
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"67\""));
        assert!(svg.contains("<rect width=\"27\" height=\"20\" fill=\"#555\"/>"));
        assert!(svg.contains("<rect x=\"27\" width=\"40\" height=\"20\" fill=\"#e05d44\"/>"));
        assert!(svg.contains("<title>api: down</title>"));
        assert!(svg.contains(">down</text>"));
        // Ids unique to what the badge shows, referenced consistently.
        let id = badge_id("api", "down", "#e05d44");
        assert!(svg.contains(&format!("<clipPath id=\"r{id}\">")));
        assert!(svg.contains(&format!("clip-path=\"url(#r{id})\"")));
        assert!(svg.contains(&format!("fill=\"url(#s{id})\"")));
        let other = render_badge("db", BadgeMessage::State(ComponentState::Down));
        assert!(!other.contains(&format!("r{id}")));
    }

    #[test]
    fn badge_uptime_text_and_escaping() {
        let svg = render_badge("<b>&\"x\"", BadgeMessage::Uptime(Some(0.9995)));
        assert!(svg.contains(">99.95%</text>"));
        assert!(svg.contains("&lt;b&gt;&amp;&quot;x&quot;"));
        assert!(!svg.contains("<b>"));
        let none = render_badge("uptime", BadgeMessage::Uptime(None));
        assert!(none.contains(">no data</text>"));
    }
}
