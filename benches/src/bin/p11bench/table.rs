//! The page a run writes: the table (ops/s of every target and of the bare provider, then
//! each mhsm column's ratios against the peers and the bare provider) and the notes under it.

use crate::parent::{Run, Settings};
use crate::report::{self, ops, ratio};
use crate::targets::Target;
use crate::{Case, THREADS};

/// The Markdown page of a run.
pub fn render(run: &Run, targets: &[Target], settings: &Settings) -> String {
    let mhsm: Vec<&Target> = targets.iter().filter(|t| t.kind == "mhsm").collect();
    let peers: Vec<&Target> = targets.iter().filter(|t| t.kind != "mhsm").collect();
    let mut md = String::new();
    md.push_str(&format!(
        "{}Machine: {}. {} s per case{}.\n\n",
        if settings.smoke {
            "**Smoke run (figures mean nothing).** "
        } else {
            ""
        },
        report::machine(),
        settings.seconds,
        if run.libs.is_empty() {
            String::new()
        } else {
            format!("; {}", run.libs.join("; "))
        }
    ));
    md.push_str(&report::table(
        &header(&mhsm, &peers),
        &rows(run, &mhsm, &peers, settings),
    ));
    md.push_str(&notes(run, &peers, settings.big));
    md
}

/// The column of a target's bare provider.
fn bare(t: &Target) -> String {
    format!("bare {}", t.name)
}

/// The table's header: case, threads, ops/s of each target, of each bare provider, then the
/// ratios.
fn header(mhsm: &[&Target], peers: &[&Target]) -> Vec<String> {
    let mut header = vec!["case".to_string(), "threads".to_string()];
    for t in mhsm.iter().chain(peers) {
        header.push(format!("{} ops/s", t.name));
    }
    for t in mhsm {
        header.push(format!("{} ops/s", bare(t)));
    }
    for t in mhsm {
        for p in peers {
            header.push(format!("{}/{}", t.name, p.name));
        }
        if peers.len() > 1 {
            header.push(format!("{}/best peer", t.name));
        }
        header.push(format!("{}/bare", t.name));
    }
    header
}

/// One row per case and thread count, in the header's order.
fn rows(run: &Run, mhsm: &[&Target], peers: &[&Target], settings: &Settings) -> Vec<Vec<String>> {
    let get = |target: &str, case: &str, th: usize| {
        run.results
            .get(target)
            .and_then(|r| r.get(&(case.to_string(), th)))
            .copied()
    };
    let cell = |v: Option<f64>| v.map(ops).unwrap_or("—".into());
    let mut rows = Vec::new();
    for c in Case::selected() {
        for th in THREADS {
            let label = c
                .label
                .replace("{small}", &ops(settings.small as f64))
                .replace("{big}", &ops(settings.big as f64));
            let mut row = vec![label, th.to_string()];
            for t in mhsm.iter().chain(peers) {
                row.push(cell(get(&t.name, c.id, th)));
            }
            for t in mhsm {
                row.push(cell(get(&bare(t), c.id, th)));
            }
            let best = peers
                .iter()
                .filter_map(|p| get(&p.name, c.id, th))
                .max_by(f64::total_cmp);
            for t in mhsm {
                let v = get(&t.name, c.id, th);
                for p in peers {
                    row.push(ratio(v, get(&p.name, c.id, th)));
                }
                if peers.len() > 1 {
                    row.push(ratio(v, best));
                }
                row.push(ratio(v, get(&bare(t), c.id, th)));
            }
            rows.push(row);
        }
    }
    rows
}

/// Under the table: the big store's figures, the fills, what the columns mean, the run's
/// notes.
fn notes(run: &Run, peers: &[&Target], big: usize) -> String {
    let mut md = String::new();
    md.push_str(&format!("\nWith {} AES keys stored:\n", ops(big as f64)));
    for l in &run.big_lines {
        md.push_str(l);
        md.push('\n');
    }
    if let Some(s) = run.fills.get("mhsm") {
        md.push_str(&format!(
            "- fill: mhsm {} keys through the core (`Pool::import_key`, one durable write each, \
             before the module loads) in {:.1} s",
            ops(big as f64),
            s
        ));
        for p in peers {
            if let Some(s) = run.fills.get(p.kind) {
                md.push_str(&format!(
                    "; {} through `C_CreateObject` in {s:.1} s",
                    p.name
                ));
            }
        }
        md.push('\n');
    }
    md.push_str(&format!(
        "\nbare = the same operation on hsm-core's crypto provider called directly ({}), no \
         PKCS#11. best peer = the faster of the peers in that row. Generated keys are token keys, destroyed after the timed window (untimed). \
         GCM takes a fresh caller IV per call. OAEP uses SHA-1 because SoftHSMv2 2.6 accepts \
         no other OAEP hash.\n",
        run.bare_names
            .iter()
            .map(|(t, p)| format!("{t}: `{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for n in &run.notes {
        md.push_str(&format!("\n{n}\n"));
    }
    md
}
