//! A few threads for long computations (RSA private-key operations, ECDSA on P-384 and
//! P-521: 0.1 ms to several ms each): one per core, fed first come first served from one
//! queue.
//!
//! Run inline, such work would stall every other connection on the async worker; on the
//! blocking pool, as many threads as requests would crowd out the workers. A fixed set of
//! threads bounds it, and a thread that finishes takes the next job at once, without a
//! thread wake-up between jobs (a semaphore in front of the blocking pool left a gap
//! there: RS256 at 64 clients kept only ~1.5 of 2 cores busy).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};

use parking_lot::Mutex;

type Job = Box<dyn FnOnce() + Send>;

/// The threads and their queue. The threads end when it is dropped.
pub struct ComputePool {
    jobs: mpsc::Sender<Job>,
}

impl ComputePool {
    /// Starts `threads` threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<ComputePool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("mhsm-compute-{i}"))
                .spawn(move || {
                    loop {
                        // One thread waits in `recv` while the others wait for the lock.
                        let Ok(job) = queue.lock().recv() else {
                            return;
                        };
                        job();
                    }
                })?;
        }
        Ok(ComputePool { jobs })
    }

    /// Runs `f` on one of the threads, after the jobs queued before it; `None` if it
    /// panicked. A job whose caller has gone (the client hung up) is skipped.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if done.is_closed() {
                return;
            }
            if let Ok(r) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
                let _ = done.send(r);
            }
        });
        self.jobs.send(job).ok()?;
        answer.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panic() {
        let pool = ComputePool::new(2).unwrap();
        assert_eq!(pool.run(|| 6 * 7).await, Some(42));
        let panicked: Option<()> = pool.run(|| panic!("a job panics")).await;
        assert_eq!(panicked, None);
        // Both threads still serve.
        let (a, b) = tokio::join!(pool.run(|| 1), pool.run(|| 2));
        assert_eq!((a, b), (Some(1), Some(2)));
    }

    #[tokio::test]
    async fn at_most_one_job_per_thread_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let pool = Arc::new(ComputePool::new(2).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for job in jobs {
            assert_eq!(job.await.unwrap(), Some(()));
        }
        // At most one job per thread at any time (how many overlapped is up to the OS).
        assert!((1..=2).contains(&most.load(Ordering::SeqCst)));
    }
}
