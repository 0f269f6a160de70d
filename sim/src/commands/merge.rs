//! `shardsim merge`: sweep reports from many processes as one, printed as a sweep prints
//! and exiting as a sweep exits.

use super::args::MergeArgs;
use super::sweep::{print_sweep_report, write_reports};
use super::usage_error;
use shardsim::merge::merge as merge_reports;
use shardsim::sweep::SweepReport;

pub fn merge(args: MergeArgs) -> i32 {
    let mut named = Vec::with_capacity(args.reports.len());
    for path in &args.reports {
        let name = path.display().to_string();
        let report = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read report {name}: {error}"))
            .and_then(|text| {
                serde_json::from_str::<SweepReport>(&text)
                    .map_err(|error| format!("{name} is not a sweep report: {error}"))
            });
        match report {
            Ok(report) => named.push((name, report)),
            Err(error) => return usage_error(error),
        }
    }
    let (merged, findings) = match merge_reports(&named) {
        Ok(merged) => merged,
        Err(error) => return usage_error(error),
    };
    print_sweep_report(&merged);
    println!("merged {} reports", named.len());
    if findings.missing > 0 {
        let first: Vec<String> = findings.missing_first.iter().map(u64::to_string).collect();
        let more = findings.missing.saturating_sub(first.len() as u64);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        println!("MISSING: {} seeds no report ran ({}{more})", findings.missing, first.join(", "));
    }
    if !findings.run_twice.is_empty() {
        let seeds: Vec<String> = findings.run_twice.iter().take(20).map(u64::to_string).collect();
        println!("RUN TWICE: {} seeds in more than one report ({})", findings.run_twice.len(), seeds.join(", "));
    }
    if findings.counted_twice > 0 {
        println!(
            "COUNTED TWICE: the fault, coverage, planner and convergence totals hold {} seeds twice \
             (reports that overlap in part; a report each of whose seeds ran before is left out)",
            findings.counted_twice
        );
    }
    if let Err(code) = write_reports(&merged, args.report.as_deref(), args.junit.as_deref()) {
        return code;
    }
    merged.exit_code()
}
