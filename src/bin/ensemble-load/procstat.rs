//! The server's CPU time and peak memory, read from /proc when the operator gives its PID.

/// Linux reports utime/stime in clock ticks of USER_HZ, 100 on every mainstream build.
const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime in seconds from the text of /proc/PID/stat. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted from after its last ')'.
pub fn cpu_secs_from_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0: utime (14) and stime (15) are 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SEC)
}

/// VmHWM (peak resident set) in kB from the text of /proc/PID/status.
pub fn peak_rss_kb_from_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..].split_whitespace().next()?.parse().ok()
}

pub fn cpu_secs(pid: u32) -> Option<f64> {
    cpu_secs_from_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    peak_rss_kb_from_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_an_awkward_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 1000 10 0";
        assert_eq!(cpu_secs_from_stat(stat), Some(3.25));
        assert_eq!(cpu_secs_from_stat("garbage"), None);
        assert_eq!(cpu_secs_from_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn vm_hwm_in_kb() {
        let status = "Name:\tensemble\nVmPeak:\t  900 kB\nVmHWM:\t   40960 kB\nVmRSS:\t 30000 kB\n";
        assert_eq!(peak_rss_kb_from_status(status), Some(40960));
        assert_eq!(peak_rss_kb_from_status("Name: x\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(cpu_secs(me).is_some());
        assert!(peak_rss_kb(me).is_some_and(|kb| kb > 0));
        assert_eq!(cpu_secs(u32::MAX), None);
    }
}
