//! CPU time and memory of processes, and the machine's CPU use, from Linux `/proc`.
//!
//! The generator reports its own CPU use so a reader can tell that it was not the
//! bottleneck, and samples the server's resident memory during a run.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Clock ticks per second of `/proc/*/stat` and `/proc/stat` (`USER_HZ`, which Linux fixes
/// at 100 on every architecture it exposes to user space).
const USER_HZ: f64 = 100.0;

/// User and system CPU time of a process (all of its threads, finished ones included).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTimes {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTimes {
    /// `pid` `None` is this process.
    pub fn of(pid: Option<u32>) -> io::Result<CpuTimes> {
        let path = pid.map_or_else(|| "/proc/self/stat".to_string(), |p| format!("/proc/{p}/stat"));
        parse_stat(&std::fs::read_to_string(path)?)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/<pid>/stat"))
    }

    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    pub fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// The report of CPU used over `wall` on a machine of `cores`: seconds, share of one
    /// core (`percent_of_wall`, 100 = one core busy) and share of the whole machine.
    pub fn to_json(&self, wall: Duration, cores: usize) -> Value {
        let wall = wall.as_secs_f64().max(f64::MIN_POSITIVE);
        let total = self.total().as_secs_f64();
        json!({
            "user_s": round3(self.user.as_secs_f64()),
            "sys_s": round3(self.system.as_secs_f64()),
            "percent_of_wall": round1(total / wall * 100.0),
            "percent_of_machine": round1(total / wall / cores as f64 * 100.0),
        })
    }
}

/// CPU times of every thread of a process, by thread id, with the thread's name.
pub fn thread_cpu(pid: u32) -> io::Result<Vec<(u32, String, CpuTimes)>> {
    let mut threads = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let name = stat.find('(').zip(stat.rfind(')')).map(|(a, b)| stat[a + 1..b].to_string());
        if let (Some(name), Some(cpu)) = (name, parse_stat(&stat)) {
            threads.push((tid, name, cpu));
        }
    }
    Ok(threads)
}

/// CPU seconds each thread used between two [`thread_cpu`] readings, busiest first (threads
/// that started in between count from zero): `[{"tid", "name", "cpu_s"}]`, idle ones left out.
pub fn thread_cpu_delta(before: &[(u32, String, CpuTimes)], after: &[(u32, String, CpuTimes)]) -> Value {
    let mut used: Vec<(u32, &str, Duration)> = after
        .iter()
        .map(|(tid, name, cpu)| {
            let earlier = before.iter().find(|b| b.0 == *tid).map(|b| b.2).unwrap_or_default();
            (*tid, name.as_str(), cpu.since(&earlier).total())
        })
        .filter(|t| t.2 > Duration::ZERO)
        .collect();
    used.sort_by_key(|t| std::cmp::Reverse(t.2));
    Value::Array(
        used.into_iter()
            .map(|(tid, name, cpu)| json!({ "tid": tid, "name": name, "cpu_s": round3(cpu.as_secs_f64()) }))
            .collect(),
    )
}

/// Parses `/proc/<pid>/stat`: `utime` and `stime` are fields 14 and 15, counted from the
/// pid, and the command name (field 2) may hold spaces and parentheses, so fields are
/// counted after its closing parenthesis.
pub fn parse_stat(text: &str) -> Option<CpuTimes> {
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state).
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    let secs = |t: u64| Duration::from_secs_f64(t as f64 / USER_HZ);
    Some(CpuTimes { user: secs(ticks(14)?), system: secs(ticks(15)?) })
}

/// The machine's CPU counters (`/proc/stat`, the `cpu` line): busy and total ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineCpu {
    pub busy: u64,
    pub total: u64,
}

impl MachineCpu {
    pub fn now() -> io::Result<MachineCpu> {
        parse_machine_stat(&std::fs::read_to_string("/proc/stat")?)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/stat"))
    }

    /// Percentage of all cores busy between `earlier` and `self`.
    pub fn busy_percent_since(&self, earlier: &MachineCpu) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        round1(self.busy.saturating_sub(earlier.busy) as f64 / total as f64 * 100.0)
    }
}

/// Parses the `cpu` line of `/proc/stat`: user nice system idle iowait irq softirq steal …;
/// idle and iowait are not busy. (guest time is already inside user.)
pub fn parse_machine_stat(text: &str) -> Option<MachineCpu> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> =
        line.split_whitespace().skip(1).take(8).map(|v| v.parse().ok()).collect::<Option<_>>()?;
    let total: u64 = values.iter().sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some(MachineCpu { busy: total - idle, total })
}

/// Resident memory of a process (`/proc/<pid>/status`): now and its peak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

impl Memory {
    pub fn of(pid: u32) -> io::Result<Memory> {
        parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status"))?)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/<pid>/status"))
    }
}

/// Reads `VmRSS` and `VmHWM` (in kB) from `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

/// Samples a process's resident memory in the background until stopped.
#[derive(Debug)]
pub struct MemorySampler {
    pid: u32,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Duration, u64)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MemorySampler {
    /// Starts sampling `pid` every `interval`.
    pub fn start(pid: u32, interval: Duration) -> MemorySampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, samples) = (stop.clone(), samples.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(m) = Memory::of(pid) {
                        samples.lock().unwrap().push((started.elapsed(), m.rss_kib));
                    }
                    std::thread::sleep(interval);
                }
            })
        };
        MemorySampler { pid, stop, samples, thread: Some(thread) }
    }

    /// Stops and reports `{"pid", "samples", "rss_mib_max", "rss_mib_last", "hwm_mib"}`
    /// (`hwm_mib` is the kernel's peak over the process's whole life).
    pub fn finish(mut self) -> Value {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let samples = self.samples.lock().unwrap();
        let mib = |kib: u64| round1(kib as f64 / 1024.0);
        let hwm = Memory::of(self.pid).map(|m| mib(m.hwm_kib)).ok();
        json!({
            "pid": self.pid,
            "samples": samples.len(),
            "rss_mib_max": samples.iter().map(|s| s.1).max().map(mib),
            "rss_mib_last": samples.last().map(|s| mib(s.1)),
            "hwm_mib": hwm,
        })
    }
}

pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let text = "4242 (tally load (x)) S 1 4242 4242 0 -1 4194304 500 0 0 0 250 75 0 0 20 0 9 0 1 2 3";
        let cpu = parse_stat(text).unwrap();
        assert_eq!(cpu.user, Duration::from_millis(2_500));
        assert_eq!(cpu.system, Duration::from_millis(750));
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn this_process_has_cpu_times() {
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {}
        assert!(CpuTimes::of(None).unwrap().total() > Duration::ZERO);
    }

    #[test]
    fn machine_busy_share_leaves_out_idle_and_iowait() {
        let before = parse_machine_stat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        let after = parse_machine_stat("cpu  250 0 100 850 100 0 0 0 0 0\n").unwrap();
        assert_eq!(before, MachineCpu { busy: 150, total: 1000 });
        assert_eq!(after.busy_percent_since(&before), 66.7);
    }

    #[test]
    fn status_gives_resident_memory_and_its_peak() {
        let text = "Name:\ttally\nVmPeak:\t  900000 kB\nVmHWM:\t   123456 kB\nVmRSS:\t   100000 kB\n";
        assert_eq!(parse_status(text), Some(Memory { rss_kib: 100_000, hwm_kib: 123_456 }));
        assert!(Memory::of(std::process::id()).unwrap().rss_kib > 0);
    }

    #[test]
    fn cpu_report_shares_wall_time_and_cores() {
        let cpu = CpuTimes { user: Duration::from_secs(3), system: Duration::from_secs(1) };
        assert_eq!(
            cpu.to_json(Duration::from_secs(10), 2),
            json!({ "user_s": 3.0, "sys_s": 1.0, "percent_of_wall": 40.0, "percent_of_machine": 20.0 })
        );
    }

    #[test]
    fn thread_cpu_is_the_difference_per_thread_busiest_first() {
        let cpu = |ms| CpuTimes { user: Duration::from_millis(ms), system: Duration::ZERO };
        let before = vec![(1, "main".to_string(), cpu(100)), (2, "writer".to_string(), cpu(50))];
        let after = vec![
            (1, "main".to_string(), cpu(100)),
            (2, "writer".to_string(), cpu(1_050)),
            (3, "worker".to_string(), cpu(200)),
        ];
        assert_eq!(
            thread_cpu_delta(&before, &after),
            json!([{ "tid": 2, "name": "writer", "cpu_s": 1.0 }, { "tid": 3, "name": "worker", "cpu_s": 0.2 }])
        );
        assert!(!thread_cpu(std::process::id()).unwrap().is_empty());
    }

    #[test]
    fn the_sampler_reports_the_peak() {
        let sampler = MemorySampler::start(std::process::id(), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(30));
        let report = sampler.finish();
        assert!(report["samples"].as_u64().unwrap() >= 1);
        assert!(report["rss_mib_max"].as_f64().unwrap() > 0.0);
        assert!(report["hwm_mib"].as_f64().unwrap() >= report["rss_mib_max"].as_f64().unwrap());
    }
}
