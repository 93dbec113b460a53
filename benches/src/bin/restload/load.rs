//! The timed loop: every client sends the same request back to back on its own keep-alive
//! connection until the deadline; latencies of requests started after the warm-up count.

use std::time::{Duration, Instant};

use crate::ops::{Request, TOKEN};

/// What one operation's run measured.
pub struct Measured {
    /// Requests answered 2xx in the measured window.
    pub ops: u64,
    /// From the end of the warm-up to the last answer.
    pub elapsed: Duration,
    /// Latencies in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Requests that failed (non-2xx or transport), warm-up included.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
}

impl Measured {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..=1), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 * q).ceil() as usize)
            .clamp(1, self.latencies_us.len())
            - 1;
        self.latencies_us[i] as f64 / 1000.0
    }
}

struct ClientRun {
    ops: u64,
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    last: Instant,
}

/// Runs `req` from every client for `warmup + duration`.
pub async fn run(
    clients: &[reqwest::Client],
    req: &Request,
    warmup: Duration,
    duration: Duration,
) -> Measured {
    let start = Instant::now();
    let measured_from = start + warmup;
    let deadline = measured_from + duration;
    let tasks: Vec<_> = clients
        .iter()
        .map(|client| {
            tokio::spawn(one_client(
                client.clone(),
                req.clone(),
                measured_from,
                deadline,
            ))
        })
        .collect();
    let mut m = Measured {
        ops: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        errors: 0,
        first_error: None,
    };
    let mut last = measured_from;
    for task in tasks {
        let r = match task.await {
            Ok(r) => r,
            Err(e) => ClientRun {
                ops: 0,
                latencies_us: Vec::new(),
                errors: 1,
                first_error: Some(format!("a client task failed: {e}")),
                last: measured_from,
            },
        };
        m.ops += r.ops;
        m.latencies_us.extend(r.latencies_us);
        m.errors += r.errors;
        if m.first_error.is_none() {
            m.first_error = r.first_error;
        }
        last = last.max(r.last);
    }
    m.elapsed = last.saturating_duration_since(measured_from);
    m.latencies_us.sort_unstable();
    m
}

async fn one_client(
    client: reqwest::Client,
    req: Request,
    measured_from: Instant,
    deadline: Instant,
) -> ClientRun {
    let mut r = ClientRun {
        ops: 0,
        latencies_us: Vec::with_capacity(1 << 14),
        errors: 0,
        first_error: None,
        last: measured_from,
    };
    let what = format!("{} {}", req.method, req.url);
    // Built once: a clone shares the body and needs no URL parsing, so the client spends
    // its share of the machine on the exchange rather than on building requests.
    let template = match client
        .request(req.method.clone(), &req.url)
        .header(reqwest::header::AUTHORIZATION, TOKEN)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(req.body.clone())
        .build()
    {
        Ok(t) => t,
        Err(e) => {
            r.errors += 1;
            r.first_error = Some(format!("{what}: {e}"));
            return r;
        }
    };
    loop {
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        let outcome = send(&client, &template, &what).await;
        let done = Instant::now();
        match outcome {
            Ok(()) if sent >= measured_from => {
                r.ops += 1;
                r.latencies_us
                    .push(done.duration_since(sent).as_micros().min(u32::MAX as u128) as u32);
                r.last = done;
            }
            Ok(()) => {}
            Err(e) => {
                r.errors += 1;
                r.first_error.get_or_insert(e);
            }
        }
    }
    r
}

/// One request; the whole answer is read so the connection can carry the next one.
async fn send(
    client: &reqwest::Client,
    template: &reqwest::Request,
    what: &str,
) -> Result<(), String> {
    let req = template
        .try_clone()
        .ok_or_else(|| "the request body cannot be sent twice".to_string())?;
    let resp = client
        .execute(req)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{what}: reading the answer: {e}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {status}: {}",
            String::from_utf8_lossy(&body)
        ))
    }
}
