//! Group commit for the redb store: every write goes to one writer thread, which applies all the
//! writes waiting for it in one write transaction and commits them together, so that one fsync
//! acknowledges many. redb runs write transactions one at a time anyway; without this, each
//! create waits for its own fsync behind everyone else's.
//!
//! Each caller is answered only once the commit holding its write is on disk. Writes are applied
//! in arrival order inside the transaction, so a conditional write sees the writes before it
//! exactly as it would in a transaction of its own. A failure of the store itself while a batch
//! is applied aborts the batch, which is then retried one write per transaction, so that only
//! the failing write fails.
//!
//! Hand-written: redb has no group commit of its own, and the batching is a few lines around
//! its transactions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use crate::ports::StoreError;

/// Most writes one commit carries: bounds the work between a write's arrival and its commit.
const MAX_BATCH: usize = 256;

/// What a write did.
pub(super) struct Applied<T> {
    pub answer: T,
    /// False when it left the database as it was (a refused conditional write): a batch of
    /// such writes needs no commit.
    pub changed: bool,
}

impl<T> Applied<T> {
    pub fn changed(answer: T) -> Self {
        Self {
            answer,
            changed: true,
        }
    }

    pub fn unchanged(answer: T) -> Self {
        Self {
            answer,
            changed: false,
        }
    }
}

/// A write waiting for its commit, whatever its answer's type.
trait Job: Send {
    /// Applies the write in `txn`; `Ok(changed)`. An `Err` is a failure of the store itself:
    /// `txn` may hold part of the write and must not be committed.
    fn apply(&mut self, txn: &WriteTransaction) -> Result<bool, StoreError>;
    /// Answers the caller: the write's answer once `committed` is `Ok`, else the failure.
    fn answer(self: Box<Self>, committed: Result<(), &str>);
}

struct Pending<T, F> {
    write: F,
    answer: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnMut(&WriteTransaction) -> Result<Applied<T>, StoreError> + Send,
{
    fn apply(&mut self, txn: &WriteTransaction) -> Result<bool, StoreError> {
        match (self.write)(txn) {
            Ok(applied) => {
                self.answer = Some(Ok(applied.answer));
                Ok(applied.changed)
            }
            // A refused conditional put wrote nothing: an answer, not a failure.
            Err(StoreError::AlreadyExists) => {
                self.answer = Some(Err(StoreError::AlreadyExists));
                Ok(false)
            }
            Err(failure) => Err(failure),
        }
    }

    fn answer(self: Box<Self>, committed: Result<(), &str>) {
        let answer = match committed {
            Ok(()) => self
                .answer
                .unwrap_or_else(|| Err(StoreError::Internal("the write was not applied".into()))),
            Err(failure) => Err(StoreError::Internal(failure.to_owned())),
        };
        // The caller may have gone (a timed-out invocation); the write stands, as on DynamoDB.
        let _ = self.reply.send(answer);
    }
}

/// The writer thread's handle. Dropping it lets the thread finish and waits for it, so that the
/// database file is closed (and can be opened again) once the store is gone.
pub(super) struct GroupCommit {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
}

fn stopped() -> StoreError {
    StoreError::Internal("the store's writer has stopped".into())
}

impl GroupCommit {
    pub fn start(db: Arc<Database>) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        let thread = std::thread::Builder::new()
            .name("redb-group-commit".into())
            .spawn(move || run(&db, &queue, &counted))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer: {e}")))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            commits,
        })
    }

    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `write` in the next commit and answers once that commit is on disk. `write` may run
    /// twice (see the module's documentation): it must only read and write through `txn`.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> Result<Applied<T>, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            write,
            answer: None,
            reply,
        });
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer: waits for a write, takes every other one already waiting, commits them at once.
fn run(db: &Database, queue: &mpsc::Receiver<Box<dyn Job>>, commits: &AtomicU64) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queue.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit(db, &mut batch, commits) {
            Err(_) if batch.len() > 1 => {
                for mut job in batch.drain(..) {
                    let alone = commit(db, std::slice::from_mut(&mut job), commits);
                    job.answer(borrowed(&alone));
                }
            }
            result => {
                let committed = borrowed(&result);
                for job in batch.drain(..) {
                    job.answer(committed);
                }
            }
        }
    }
}

fn borrowed(result: &Result<(), String>) -> Result<(), &str> {
    match result {
        Ok(()) => Ok(()),
        Err(failure) => Err(failure),
    }
}

/// Applies `jobs` in one transaction and commits it if any of them changed something.
fn commit(db: &Database, jobs: &mut [Box<dyn Job>], commits: &AtomicU64) -> Result<(), String> {
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    let mut changed = false;
    for job in jobs.iter_mut() {
        // Returning drops `txn`: the transaction is aborted, nothing of the batch is written.
        changed |= job.apply(&txn).map_err(|e| e.to_string())?;
    }
    if changed {
        // Durability::Immediate (redb's default): `Ok` only once the commit is on disk.
        txn.commit().map_err(|e| e.to_string())?;
        commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    } else {
        txn.abort().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::FutureExt;
    use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

    use super::*;

    const T: TableDefinition<u32, u32> = TableDefinition::new("t");

    fn open() -> (tempfile::TempDir, Arc<Database>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::create(dir.path().join("t.redb")).unwrap());
        (dir, db)
    }

    /// Inserts `key` only where it is free, as the store's conditional puts do.
    fn put_new(txn: &WriteTransaction, key: u32) -> Result<Applied<()>, StoreError> {
        let mut table = txn
            .open_table(T)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        if table.get(key).unwrap().is_some() {
            return Err(StoreError::AlreadyExists);
        }
        table.insert(key, key).unwrap();
        Ok(Applied::changed(()))
    }

    /// Starts a write that holds the writer until `release` is sent: the writes queued in the
    /// meantime all go into the next commit.
    async fn hold_writer(
        writes: &Arc<GroupCommit>,
    ) -> (
        tokio::task::JoinHandle<Result<(), StoreError>>,
        mpsc::Sender<()>,
    ) {
        let (started, is_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let holder = tokio::spawn({
            let writes = Arc::clone(writes);
            async move {
                writes
                    .write(move |txn| {
                        let _ = started.send(());
                        let _ = released.lock().unwrap().recv();
                        put_new(txn, 1000)
                    })
                    .await
            }
        });
        tokio::task::spawn_blocking(move || is_started.recv().unwrap())
            .await
            .unwrap();
        (holder, release)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_writes_share_one_commit_and_keep_their_conditions() {
        let (_dir, db) = open();
        let writes = Arc::new(GroupCommit::start(Arc::clone(&db)).unwrap());
        let (holder, release) = hold_writer(&writes).await;
        // Keys 0..10, then 3 again: in the same transaction, the second put of 3 must see the
        // first and be refused.
        let mut queued = futures_util::future::join_all(
            (0..10)
                .chain([3])
                .map(|key| writes.write(move |txn| put_new(txn, key))),
        );
        // One poll sends every write to the writer, which is still busy with the first.
        assert!((&mut queued).now_or_never().is_none());
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let answers = queued.await;
        assert!(answers[..10].iter().all(Result::is_ok), "{answers:?}");
        assert!(matches!(answers[10], Err(StoreError::AlreadyExists)));
        assert_eq!(
            writes.commits(),
            2,
            "the held write, then all the others at once"
        );
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(T).unwrap();
        assert_eq!(table.len().unwrap(), 11);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone() {
        let (_dir, db) = open();
        let writes = Arc::new(GroupCommit::start(Arc::clone(&db)).unwrap());
        let (holder, release) = hold_writer(&writes).await;
        let good = writes.write(|txn| put_new(txn, 1));
        let bad = writes.write(|txn| {
            // Half a write, then a failure of the store: none of it may stay.
            put_new(txn, 2)?;
            Err::<Applied<()>, _>(StoreError::Internal("disk on fire".into()))
        });
        let also_good = writes.write(|txn| put_new(txn, 3));
        let mut queued = std::pin::pin!(futures_util::future::join3(good, bad, also_good));
        assert!(queued.as_mut().now_or_never().is_none());
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let (good, bad, also_good) = queued.await;
        assert!(good.is_ok() && also_good.is_ok());
        assert!(matches!(bad, Err(StoreError::Internal(m)) if m.contains("disk on fire")));
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(T).unwrap();
        assert!(table.get(1).unwrap().is_some() && table.get(3).unwrap().is_some());
        assert!(
            table.get(2).unwrap().is_none(),
            "the failed write left nothing"
        );
    }

    #[tokio::test]
    async fn dropping_it_closes_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.redb");
        {
            let db = Arc::new(Database::create(&path).unwrap());
            let writes = GroupCommit::start(Arc::clone(&db)).unwrap();
            writes.write(|txn| put_new(txn, 7)).await.unwrap();
        }
        let db = Database::create(&path).expect("no writer left holding the file");
        let txn = db.begin_read().unwrap();
        assert!(txn.open_table(T).unwrap().get(7).unwrap().is_some());
    }
}
