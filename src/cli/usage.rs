//! The `-h` text, generated from the flag table so it cannot miss a flag.

use super::flags::{self, Default, Flag, Kind};
use std::fmt::Write;

/// Width of the flag column; the longest entry is `-prom-bearer-token-file FILE`.
const FLAG_COLUMN: usize = 34;

pub fn usage() -> String {
    let mut out = String::new();
    out.push_str(
        "memhpa: a memory-based horizontal pod autoscaler for Kubernetes\n\
         \n\
         Usage:\n  \
         memhpa [FLAGS]                                       run the controller\n  \
         memhpa simulate [SCENARIO.json] [-json] [-svg FILE]  run the algorithm offline\n  \
         memhpa simulate -from-prometheus URL ...             replay real history\n  \
         memhpa explain [FILE|-]                              say why a MemHpa scaled or not\n\
         \n\
         Flags may be written -flag value, -flag=value, --flag value or --flag=value.\n\
         A boolean flag is -flag or -flag=true|false, never -flag false.\n\
         Durations are Go's: 500ms, 30s, 1m, 1m30s, 2h. Numbers are decimal digits,\n\
         with an optional leading + as Go's strconv allows.\n",
    );
    for (section, section_flags) in flags::RUN_SECTIONS {
        let _ = writeln!(out, "\n{section}:");
        for flag in *section_flags {
            line(&mut out, flag);
        }
    }
    out.push_str(
        "\nsimulate [SCENARIO.json]: replay a scenario (default: the built-in example,\n  \
         a day of a memory-bound cache) and print a timeline; exit 2 on a bad scenario.\n",
    );
    for flag in flags::SIMULATE {
        line(&mut out, flag);
    }
    out.push_str(
        "\nsimulate -from-prometheus URL -workload NS/KIND/NAME (-spec FILE... | -target P -max N):\n  \
         replay a workload's real memory from Prometheus under each spec, with the\n  \
         controller's query and Prometheus flags; prints where the pods and the limit\n  \
         came from and a podBaseline suggested by the history. -json applies.\n",
    );
    for flag in flags::REPLAY {
        line(&mut out, flag);
    }
    out.push_str(
        "\nexplain [FILE|-]: read a MemHpa as JSON (default stdin), e.g.\n  \
         kubectl get mhpa web -o json | memhpa explain\n  \
         and say why it scaled or did not, from status.lastDecision and the\n  \
         conditions; exit 2 on input that is not one MemHpa with a status.\n",
    );
    out.push_str("\nLogging: RUST_LOG (default info), e.g. RUST_LOG=memhpa=debug.\n");
    out
}

fn line(out: &mut String, flag: &Flag) {
    let left = if flag.value_name.is_empty() {
        format!("-{}", flag.name())
    } else {
        format!("-{} {}", flag.name(), flag.value_name)
    };
    // As Go's flag package does, a boolean's `false` default goes unsaid.
    let default = match flag.default {
        Default::Value("false") if flag.kind == Kind::Bool => String::new(),
        Default::Value(v) => format!(" (default {v})"),
        Default::Note(note) => format!(" (default: {note})"),
        Default::None => String::new(),
    };
    let _ = writeln!(
        out,
        "  {left:<width$} {}{default}",
        flag.help,
        width = FLAG_COLUMN
    );
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_flag_has_a_line() {
        let text = usage();
        for flag in flags::run_flags().iter().chain(&flags::simulate_flags()) {
            let prefix = format!("  -{} ", flag.name());
            assert!(
                text.lines().any(|l| l.starts_with(&prefix)),
                "no line for {}",
                flag.key
            );
        }
    }

    #[test]
    fn flag_column_fits_longest_entry() {
        let widest = flags::run_flags()
            .iter()
            .chain(&flags::simulate_flags())
            .map(|f| f.name().len() + f.value_name.len() + 2)
            .max()
            .unwrap_or(0);
        assert!(widest <= FLAG_COLUMN, "{widest}");
    }
}
