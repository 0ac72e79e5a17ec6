//! The table `up` and `ctl ps` print: one line per process.

use crate::process::ProcessStatus;

/// Renders statuses as an aligned text table: name, address, pid, state, restarts, log.
pub fn table(statuses: &[ProcessStatus]) -> String {
    let header = ["NAME", "ADDRESS", "PID", "STATE", "RESTARTS", "LOG"];
    let rows: Vec<[String; 6]> = statuses
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.address.clone(),
                s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                serde_json::to_value(s.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                s.restarts.to_string(),
                s.log.display().to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(&header.map(String::from));
    for row in &rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcessState;

    #[test]
    fn columns_line_up() {
        let status = |name: &str, pid| ProcessStatus {
            name: name.into(),
            state: ProcessState::Running,
            pid,
            restarts: 0,
            address: "127.0.0.1:1".into(),
            log: "logs/x.log".into(),
            last_exit: None,
            not_ready: None,
        };
        let text = table(&[status("kafka", Some(7)), status("live-forwarder", None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let column = |line: &str| line.find("127.0.0.1").unwrap();
        assert_eq!(column(lines[1]), column(lines[2]));
        assert!(
            lines[1].contains("running") && lines[2].contains(" - "),
            "{text}"
        );
    }
}
