//! Reading the process metrics from `/proc` (Linux only; elsewhere they are simply not
//! exported). Parsing is pure and tested on sample text; the reads are thin.

use std::fs;

/// What one look at `/proc` found; a field is `None` when its file could not be read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessSample {
    pub resident_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

/// The fields of `/proc/self/stat` this crate uses, in clock ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub utime: u64,
    pub stime: u64,
    /// Since boot.
    pub starttime: u64,
}

impl ProcessSample {
    pub fn read() -> Self {
        let page_size = sysconf(libc::_SC_PAGESIZE);
        let ticks = sysconf(libc::_SC_CLK_TCK);
        let stat = fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|text| parse_stat(&text));
        let boot_time = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|text| parse_boot_time(&text));
        Self {
            resident_bytes: fs::read_to_string("/proc/self/statm")
                .ok()
                .and_then(|text| parse_statm_resident_pages(&text))
                .zip(page_size)
                .map(|(pages, size)| pages.saturating_mul(size)),
            cpu_seconds: stat
                .zip(ticks)
                .map(|(s, t)| (s.utime + s.stime) as f64 / t as f64),
            open_fds: fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as u64),
            start_time_seconds: stat
                .zip(ticks)
                .zip(boot_time)
                .map(|((s, t), boot)| boot as f64 + s.starttime as f64 / t as f64),
        }
    }
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads a configuration value; -1 means unknown.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok().filter(|v| *v > 0)
}

/// The second field of `/proc/self/statm`: resident pages.
pub fn parse_statm_resident_pages(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Fields 14, 15 and 22 of `/proc/self/stat` (proc(5)). The command name, field 2, sits
/// in parentheses and may itself hold spaces and parentheses, so counting starts after
/// the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        starttime: field(22)?,
    })
}

/// `btime` of `/proc/stat`: boot time in seconds since the Unix epoch.
pub fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_statm() {
        assert_eq!(
            parse_statm_resident_pages("5861 1280 1024 208 0 636 0\n"),
            Some(1280)
        );
        assert_eq!(parse_statm_resident_pages("5861"), None);
    }

    #[test]
    fn parses_stat_with_a_hostile_command_name() {
        let text = "4242 (my (weird) name) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    150 25 0 0 20 0 3 0 98765 123456789 1280 18446744073709551615";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                utime: 150,
                stime: 25,
                starttime: 98765
            })
        );
        assert_eq!(parse_stat("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn parses_boot_time() {
        let text = "cpu  1 2 3 4\nintr 5\nbtime 1709210096\nprocesses 99\n";
        assert_eq!(parse_boot_time(text), Some(1_709_210_096));
        assert_eq!(parse_boot_time("cpu 1\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let sample = ProcessSample::read();
        assert!(sample.resident_bytes.unwrap() > 0);
        assert!(sample.open_fds.unwrap() >= 3);
        let start = sample.start_time_seconds.unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 365.0,
            "{start}"
        );
        assert!(sample.cpu_seconds.unwrap() >= 0.0);
    }
}
