//! Long-running operations: full backup (`POST /backup`), full restore (`PUT /restore`),
//! selective key restore (`PUT /keys/{name}/restore`) and their pre-checks, each answered
//! 202 with an `Azure-AsyncOperation` status URL that reports `InProgress`, then
//! `Succeeded` or `Failed`. As the service's jobs, which take seconds, a job is reported
//! `InProgress` for its first second ([`SHOWN_RUNNING`]) even when it finished sooner: the
//! Azure SDK's pollers expect to see it running before it ends (a poller resumed from a
//! continuation token, whose first poll comes after the original poller's, fails to read
//! the result of a job that had ended before it polled).
//!
//! **Where backups go.** A `storageResourceUri` such as
//! `https://ACCOUNT.blob.core.windows.net/CONTAINER` names the folder
//! `<data dir>/backups/ACCOUNT.blob.core.windows.net/CONTAINER/`; each full backup is a
//! sub-folder `mhsm-{pool}-{YYYYMMDDhhmmss}` of it (the name Azure gives, from the time the
//! backup was asked for; a second backup of the same pool in the same second gets two more
//! digits, `...hhmmss01`, the folder made at once so that two never share one). SAS tokens and
//! managed identities are accepted and ignored. Jobs live in memory: a restarted server
//! forgets their status, not their results.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hsm_core::backup::RestoreMode;
use hsm_core::names::new_id;
use hsm_core::rbac::{DataAction as A, Scope};
use hsm_core::{Error as CoreError, Hsm};
use mhsm_wire::jobs::{
    JobError, JobStatus, RestoreRequest, SelectiveKeyRestoreRequest, StorageParameters,
};
use parking_lot::Mutex;

use super::{Request, Routed, body, key_scope, ok};
use crate::error::ApiError;

/// How many finished jobs are remembered.
const KEEP: usize = 1000;

/// How long a job is reported `InProgress` at least (the `Retry-After` the 202 gives).
const SHOWN_RUNNING: std::time::Duration = std::time::Duration::from_secs(1);

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A full backup (or its pre-check).
    Backup,
    /// A full or selective restore (or its pre-check).
    Restore,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Backup => "backup",
            Kind::Restore => "restore",
        }
    }
}

#[derive(Clone, Debug)]
struct Job {
    kind: Kind,
    pool: String,
    status: &'static str,
    error: Option<(&'static str, String)>,
    start: i64,
    end: Option<i64>,
    container_uri: Option<String>,
    /// Until then it is reported `InProgress` whatever its state ([`SHOWN_RUNNING`]).
    shown_running_until: std::time::Instant,
}

/// The jobs of a server.
#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<String, Job>>,
}

/// The jobs' routes: starting them (each answered 202 with its status URL) and their
/// status.
pub fn route(req: &Request, segments: &[&str]) -> Routed {
    let (allow, ctx) = (req.allow, &req.jobs);
    let response = match (req.method.clone(), segments) {
        (Method::POST, [op @ ("backup" | "prebackup")]) => {
            allow(A::StartBackup, &Scope::All)?;
            backup(ctx, req.body, *op == "prebackup")?
        }
        (Method::PUT, [op @ ("restore" | "prerestore")]) => {
            allow(A::StartRestore, &Scope::All)?;
            restore(ctx, req.body, *op == "prerestore")?
        }
        (Method::GET, ["backup", id, "pending"]) => {
            allow(A::BackupStatus, &Scope::All)?;
            ok(ctx.jobs.status(Kind::Backup, ctx.pool, id)?)
        }
        (Method::GET, ["restore", id, "pending"]) => {
            allow(A::RestoreStatus, &Scope::All)?;
            ok(ctx.jobs.status(Kind::Restore, ctx.pool, id)?)
        }
        (Method::PUT, ["keys", name, "restore"]) => {
            allow(A::StartRestore, &key_scope(name)?)?;
            restore_key(ctx, name, req.body)?
        }
        _ => return Ok(None),
    };
    Ok(Some(response))
}

fn safe_name(part: &str, what: &str) -> Result<(), ApiError> {
    let ok = !part.is_empty()
        && part.len() <= 255
        && part != "."
        && part != ".."
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_parameter(format!("invalid {what} '{part}'")))
    }
}

/// The folder a `storageResourceUri` names (see the module docs).
pub fn container_dir(data_dir: &Path, uri: &str) -> Result<PathBuf, ApiError> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or_else(|| ApiError::bad_parameter("storageResourceUri must be an https URL"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    let host = parts.next().unwrap_or_default().replace(':', "_");
    let container = parts.next().unwrap_or_default();
    if parts.next().is_some() {
        return Err(ApiError::bad_parameter(
            "storageResourceUri names a container: https://ACCOUNT.blob.core.windows.net/CONTAINER",
        ));
    }
    safe_name(&host, "storage account")?;
    safe_name(container, "container")?;
    Ok(data_dir.join("backups").join(host).join(container))
}

fn folder_dir(data_dir: &Path, uri: &str, folder: &str) -> Result<PathBuf, ApiError> {
    safe_name(folder, "folder")?;
    Ok(container_dir(data_dir, uri)?.join(folder))
}

pub(crate) fn timestamp(t: i64) -> String {
    // YYYYMMDDhhmmss from unix seconds (civil-from-days, proleptic Gregorian).
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

impl Jobs {
    fn insert(&self, id: &str, job: Job) {
        let mut map = self.map.lock();
        if map.len() >= KEEP {
            // Forget finished jobs first, oldest first.
            let mut done: Vec<(String, i64)> = map
                .iter()
                .filter(|(_, j)| j.end.is_some())
                .map(|(k, j)| (k.clone(), j.start))
                .collect();
            done.sort_by_key(|(_, start)| *start);
            for (k, _) in done.into_iter().take(KEEP / 10 + 1) {
                map.remove(&k);
            }
        }
        map.insert(id.to_string(), job);
    }

    fn finish(&self, id: &str, hsm: &Hsm, result: Result<Option<String>, CoreError>) {
        let mut map = self.map.lock();
        if let Some(job) = map.get_mut(id) {
            job.end = Some(hsm.now().0);
            match result {
                Ok(uri) => {
                    job.status = "Succeeded";
                    if uri.is_some() {
                        job.container_uri = uri;
                    }
                }
                Err(e) => {
                    let api = ApiError::from(e);
                    job.status = "Failed";
                    job.error = Some((api.code, api.message));
                }
            }
        }
    }

    /// Starts a job running `work` on its own thread; answers 202 with the status URL.
    fn start(
        self: &Arc<Self>,
        hsm: &Hsm,
        kind: Kind,
        pool: &str,
        host: &str,
        api_version: &str,
        work: impl FnOnce() -> Result<Option<String>, CoreError> + Send + 'static,
    ) -> Result<Response, ApiError> {
        let id = new_id()?;
        let job = Job {
            kind,
            pool: pool.to_string(),
            status: "InProgress",
            error: None,
            start: hsm.now().0,
            end: None,
            container_uri: None,
            shown_running_until: std::time::Instant::now() + SHOWN_RUNNING,
        };
        let body = job_json(&id, &job);
        self.insert(&id, job);
        let jobs = self.clone();
        let hsm = hsm.clone();
        let job_id = id.clone();
        std::thread::Builder::new()
            .name(format!("mhsm-{}", kind.path()))
            .spawn(move || {
                let result = work();
                if let Err(e) = &result {
                    tracing::warn!(job = %job_id, error = %e, "job failed");
                }
                jobs.finish(&job_id, &hsm, result);
            })
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    e.to_string(),
                )
            })?;
        let status_url = format!(
            "https://{host}/{}/{id}/pending?api-version={api_version}",
            kind.path()
        );
        let mut response = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&status_url) {
            headers.insert("azure-asyncoperation", v);
        }
        headers.insert("retry-after", HeaderValue::from_static("1"));
        Ok(response)
    }

    /// `GET /{backup|restore}/{jobId}/pending`.
    pub fn status(&self, kind: Kind, pool: &str, id: &str) -> Result<JobStatus, ApiError> {
        let map = self.map.lock();
        match map.get(id) {
            Some(job) if job.kind == kind && job.pool == pool => {
                if std::time::Instant::now() >= job.shown_running_until {
                    return Ok(job_json(id, job));
                }
                // Still running, as far as the caller can tell.
                let running = Job {
                    status: "InProgress",
                    error: None,
                    end: None,
                    container_uri: None,
                    ..job.clone()
                };
                Ok(job_json(id, &running))
            }
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no {} job '{id}'", kind.path()),
            )),
        }
    }
}

fn job_json(id: &str, job: &Job) -> JobStatus {
    JobStatus {
        container_uri: (job.kind == Kind::Backup).then(|| job.container_uri.clone()),
        end_time: job.end,
        error: job.error.as_ref().map(|(code, message)| JobError {
            code: code.to_string(),
            innererror: None,
            message: message.clone(),
        }),
        job_id: id.to_string(),
        start_time: job.start,
        status: job.status.to_string(),
        status_details: None,
    }
}

/// What a job needs from the request.
pub struct JobCtx<'a> {
    /// The HSM.
    pub hsm: &'a Hsm,
    /// The server's jobs.
    pub jobs: &'a Arc<Jobs>,
    /// The data directory (backups go under it).
    pub data_dir: &'a Path,
    /// The pool.
    pub pool: &'a str,
    /// The host, for the status URL.
    pub host: &'a str,
    /// The api-version, carried by the status URL.
    pub api_version: &'a str,
}

/// `POST /backup` (and `POST /prebackup`, which only checks the URI).
pub fn backup(ctx: &JobCtx, bytes: &[u8], check_only: bool) -> Result<Response, ApiError> {
    let req: StorageParameters = body(bytes)?;
    let container = container_dir(ctx.data_dir, &req.storage_resource_uri)?;
    let (hsm, pool) = (ctx.hsm.clone(), ctx.pool.to_string());
    let uri = req.storage_resource_uri.trim_end_matches('/').to_string();
    let folder = match check_only {
        true => String::new(),
        false => reserve_folder(&container, ctx.pool, ctx.hsm.now().0)?,
    };
    ctx.jobs.start(
        ctx.hsm,
        Kind::Backup,
        ctx.pool,
        ctx.host,
        ctx.api_version,
        move || {
            if check_only {
                hsm.get_pool(&pool)?;
                return Ok(None);
            }
            hsm.backup_pool(&pool, &container.join(&folder))?;
            Ok(Some(format!("{uri}/{folder}")))
        },
    )
}

/// Makes the folder of a new full backup of `pool` in `container` and returns its name:
/// `mhsm-{pool}-{YYYYMMDDhhmmss}` at `now`, or with two more digits when a backup of the
/// same second has it (`create_dir` fails on a folder that exists, so two requests never
/// get the same one).
fn reserve_folder(container: &Path, pool: &str, now: i64) -> Result<String, ApiError> {
    let failed = |e: std::io::Error| {
        ApiError::from(CoreError::Storage {
            message: format!(
                "cannot make a backup folder in {}: {e}",
                container.display()
            ),
        })
    };
    std::fs::create_dir_all(container).map_err(failed)?;
    let base = format!("mhsm-{pool}-{}", timestamp(now));
    for n in 0..100 {
        let name = match n {
            0 => base.clone(),
            n => format!("{base}{n:02}"),
        };
        match std::fs::create_dir(container.join(&name)) {
            Ok(()) => return Ok(name),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed(e)),
        }
    }
    Err(ApiError::from(CoreError::Conflict {
        message: format!("100 backups of '{pool}' in one second: try again in a moment"),
    }))
}

/// `PUT /restore` (and `PUT /prerestore`, which only reads the backup).
pub fn restore(ctx: &JobCtx, bytes: &[u8], check_only: bool) -> Result<Response, ApiError> {
    let req: RestoreRequest = body(bytes)?;
    let dir = folder_dir(
        ctx.data_dir,
        &req.sas_token_parameters.storage_resource_uri,
        &req.folder_to_restore,
    )?;
    let (hsm, pool) = (ctx.hsm.clone(), ctx.pool.to_string());
    ctx.jobs.start(
        ctx.hsm,
        Kind::Restore,
        ctx.pool,
        ctx.host,
        ctx.api_version,
        move || {
            if !dir.join(hsm_core::backup::MANIFEST_FILE).exists() {
                return Err(CoreError::BackupInvalid {
                    message: format!("no backup in folder '{}'", req.folder_to_restore),
                });
            }
            if !check_only {
                hsm.restore_pool(&dir, &pool, RestoreMode::Replace)?;
            }
            Ok(None)
        },
    )
}

/// `PUT /keys/{name}/restore`.
pub fn restore_key(ctx: &JobCtx, name: &str, bytes: &[u8]) -> Result<Response, ApiError> {
    let req: SelectiveKeyRestoreRequest = body(bytes)?;
    let dir = folder_dir(
        ctx.data_dir,
        &req.sas_token_parameters.storage_resource_uri,
        &req.folder,
    )?;
    let (hsm, pool, name) = (ctx.hsm.clone(), ctx.pool.to_string(), name.to_string());
    ctx.jobs.start(
        ctx.hsm,
        Kind::Restore,
        ctx.pool,
        ctx.host,
        ctx.api_version,
        move || {
            hsm.restore_key_from_backup(&dir, &pool, &name)?;
            Ok(None)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_uris_map_to_folders() {
        let d = Path::new("/data");
        assert_eq!(
            container_dir(d, "https://acct.blob.core.windows.net/backups").unwrap(),
            Path::new("/data/backups/acct.blob.core.windows.net/backups")
        );
        assert_eq!(
            container_dir(d, "https://127.0.0.1:10000/c/?sv=x").unwrap(),
            Path::new("/data/backups/127.0.0.1_10000/c")
        );
        for bad in [
            "ftp://a/b",
            "https://a",
            "https://a/../x",
            "https://../c",
            "https://a/b/c",
            "https://a/b c",
        ] {
            assert!(container_dir(d, bad).is_err(), "{bad}");
        }
        assert!(folder_dir(d, "https://a/b", "..").is_err());
        assert!(folder_dir(d, "https://a/b", "x/y").is_err());
    }

    #[test]
    fn backups_of_one_second_get_folders_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let container = dir.path().join("acct").join("c");
        let t = 1_767_268_800;
        let names: Vec<String> = (0..3)
            .map(|_| reserve_folder(&container, "p1", t).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "mhsm-p1-20260101120000",
                "mhsm-p1-2026010112000001",
                "mhsm-p1-2026010112000002"
            ]
        );
        assert!(names.iter().all(|n| container.join(n).is_dir()));
        // The next second starts over.
        assert_eq!(
            reserve_folder(&container, "p1", t + 1).unwrap(),
            "mhsm-p1-20260101120001"
        );
    }

    #[test]
    fn a_job_is_in_progress_for_its_first_second() {
        let jobs = Jobs::default();
        let now = std::time::Instant::now();
        let job = |shown_running_until| Job {
            kind: Kind::Backup,
            pool: "p1".into(),
            status: "Succeeded",
            error: None,
            start: 1,
            end: Some(2),
            container_uri: Some("https://a/c/mhsm-p1-x".into()),
            shown_running_until,
        };
        // Finished, but started a moment ago: every poller sees it running.
        jobs.insert("j1", job(now + SHOWN_RUNNING));
        for _ in 0..2 {
            let early = jobs.status(Kind::Backup, "p1", "j1").unwrap();
            assert_eq!(early.status, "InProgress");
            assert_eq!((early.end_time, early.container_uri), (None, Some(None)));
        }
        // Its second is over: as it stands.
        jobs.insert("j2", job(now));
        let done = jobs.status(Kind::Backup, "p1", "j2").unwrap();
        assert_eq!(done.status, "Succeeded");
        assert_eq!(done.end_time, Some(2));
        assert!(jobs.status(Kind::Restore, "p1", "j2").is_err());
        assert!(jobs.status(Kind::Backup, "p2", "j2").is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(1_767_268_800), "20260101120000");
        assert_eq!(timestamp(951_782_400), "20000229000000");
    }
}
