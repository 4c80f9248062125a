//! The worker pool: `-workers` threads take namespace jobs from one queue, so a
//! slow round trip for one namespace does not hold up the others.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use super::dispatch::{Job, Message};
use super::reconcile::{reconcile_namespace, Context};

pub fn spawn(
    count: usize,
    jobs: Receiver<Job>,
    ctx: Arc<Context>,
    done: Sender<Message>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let jobs = Arc::new(Mutex::new(jobs));
    (0..count.max(1))
        .map(|i| {
            let jobs = Arc::clone(&jobs);
            let ctx = Arc::clone(&ctx);
            let done = done.clone();
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(&jobs, &ctx, &done))
        })
        .collect()
}

fn work(jobs: &Mutex<Receiver<Job>>, ctx: &Context, done: &Sender<Message>) {
    loop {
        // The lock is held only while waiting for the next job, never while
        // reconciling.
        let next = {
            let queue = crate::shutdown::lock(jobs);
            queue.recv()
        };
        let Ok(job) = next else {
            return;
        };
        for r in reconcile_namespace(ctx, &job.namespace, &job.items) {
            log::debug!(
                "reconciled {}: {} ({}){}",
                r.key,
                r.reason,
                r.result,
                r.rescaled_to
                    .map(|n| format!(", scaled to {n}"))
                    .unwrap_or_default()
            );
        }
        if done.send(Message::Done(job.namespace)).is_err() {
            return;
        }
    }
}
