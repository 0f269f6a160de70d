//! A sweep as JUnit XML, which GitHub Actions, GitLab and Jenkins show natively: one test
//! case per failing signature (the invariant and the event that broke it, with its seeds
//! and the command that reproduces the smallest), one per determinism mismatch, and a
//! summary case for the seeds that ran.

use crate::report::exit_code;
use crate::sweep::SweepReport;
use std::fmt::Write as _;

/// Escapes text for an XML attribute or element body.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // XML 1.0 has no place for other control characters.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => escaped.push('?'),
            c => escaped.push(c),
        }
    }
    escaped
}

pub fn render(report: &SweepReport) -> String {
    let class = format!("shardsim.{}", report.scenario);
    let cases = 1 + report.signatures.len() + report.determinism_mismatches.len();
    let failures = report.signatures.len() + report.determinism_mismatches.len();
    let seconds = report.wall_ms as f64 / 1000.0;
    let canaries =
        if report.canaries.is_empty() { String::new() } else { format!(" canaries {}", report.canaries.join(",")) };
    let suite = format!(
        "shardsim sweep {} seeds {} shards {}{canaries}",
        report.scenario,
        report.seeds,
        report.shards.join(",")
    );
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ =
        writeln!(xml, "<testsuites name=\"shardsim\" tests=\"{cases}\" failures=\"{failures}\" time=\"{seconds:.3}\">");
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\" time=\"{seconds:.3}\">",
        escape(&suite)
    );
    let ran = if report.seeds_run.complete {
        format!("{} seeds ran", report.runs)
    } else {
        format!("{} of {} seeds ran", report.runs, report.seeds_run.of)
    };
    let _ = writeln!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{seconds:.3}\"/>",
        escape(&class),
        escape(&format!("{ran}: {} passed, {} failed", report.passed, report.failures.len()))
    );
    for signature in &report.signatures {
        let kind = match signature.exit_code {
            exit_code::SAFETY => "safety",
            exit_code::LIVENESS => "liveness",
            _ => "crash",
        };
        let seeds: Vec<String> = signature.seeds.iter().map(u64::to_string).collect();
        let body = format!(
            "{} seed(s): {}\nseed {}: {}\nreproduce: {}",
            signature.seeds.len(),
            seeds.join(", "),
            signature.seeds[0],
            signature.message,
            signature.reproduce
        );
        let _ = writeln!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\">\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>",
            escape(&class),
            escape(&format!("{} at {}", signature.invariant, signature.trigger)),
            escape(&signature.message),
            escape(&body)
        );
    }
    for mismatch in &report.determinism_mismatches {
        let body = format!(
            "trace hash {} then {}\nreproduce: {}",
            mismatch.first_hash, mismatch.second_hash, mismatch.reproduce
        );
        let _ = writeln!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\">\n      <failure type=\"determinism\" message=\"{}\">{}</failure>\n    </testcase>",
            escape(&class),
            escape(&format!("determinism of seed {}", mismatch.seed)),
            escape("two runs of one seed differ"),
            escape(&body)
        );
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn xml_special_characters_are_escaped() {
        assert_eq!(escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        assert_eq!(escape("bytes b\"\\x00\u{1}\""), "bytes b&quot;\\x00?&quot;");
    }
}
