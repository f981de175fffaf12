//! A hang guard for the end-to-end test binary. A test that hangs would otherwise hold the
//! whole run until CI's own limit kills it, with nothing said about where it stopped. The
//! guard gives the binary a generous budget; past it, it prints every thread's stack (gdb)
//! and the processes the tests started, then aborts, so the run fails with a diagnosis.
//! libtest's own "has been running for over 60 seconds" lines name the test.
//!
//! The budget is not a measure of anything: the suite takes a third of it on a slow day.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Default budget for the whole end-to-end binary.
const BUDGET: Duration = Duration::from_secs(35 * 60);

/// Arms the guard once per process (later calls do nothing). `TANDEM_TEST_HANG_GUARD_SECS`
/// overrides the budget.
pub fn arm() {
    static ARMED: OnceLock<()> = OnceLock::new();
    ARMED.get_or_init(|| {
        let budget = std::env::var("TANDEM_TEST_HANG_GUARD_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(BUDGET, Duration::from_secs);
        std::thread::Builder::new()
            .name("hang-guard".into())
            .spawn(move || {
                std::thread::sleep(budget);
                report_and_abort(budget);
            })
            .expect("hang guard thread");
    });
}

fn report_and_abort(budget: Duration) -> ! {
    let pid = std::process::id();
    eprintln!(
        "\n=== HANG GUARD: the end-to-end tests are still running after {} s: a test hangs. \
         Its name is in the 'has been running for over 60 seconds' lines above. ===",
        budget.as_secs()
    );
    eprintln!("=== the processes the tests started ===");
    let _ = Command::new("ps")
        .args(["-eo", "pid,ppid,stat,etime,args", "--forest"])
        .status();
    eprintln!("=== every thread of the test process (gdb) ===");
    match Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "thread apply all bt", "-p"])
        .arg(pid.to_string())
        .status()
    {
        Ok(_) => {}
        Err(e) => eprintln!("gdb not available ({e}): no stacks"),
    }
    std::process::abort();
}
