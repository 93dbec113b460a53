//! The long-running jobs: full backup and restore, selective key restore, and the status
//! of each.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `SASTokenParameter` (the body of `POST /backup`): the token and managed identities are
/// accepted and ignored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageParameters {
    /// `https://ACCOUNT.blob.core.windows.net/CONTAINER`.
    pub storage_resource_uri: String,
    /// A SAS token (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Use the managed identity (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_managed_identity: Option<bool>,
}

/// `RestoreOperationParameters` (`PUT /restore`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRequest {
    /// Where the backup is.
    pub sas_token_parameters: StorageParameters,
    /// The backup's folder in the container.
    pub folder_to_restore: String,
}

/// `SelectiveKeyRestoreOperationParameters` (`PUT /keys/{name}/restore`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SelectiveKeyRestoreRequest {
    /// Where the backup is.
    pub sas_token_parameters: StorageParameters,
    /// The backup's folder in the container.
    pub folder: String,
}

/// The error of a failed job.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JobError {
    /// Azure's error code.
    pub code: String,
    /// Always null.
    #[serde(default)]
    pub innererror: Option<Value>,
    /// The message.
    pub message: String,
}

/// `FullBackupOperation` / `RestoreOperation` / `SelectiveKeyRestoreOperation`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JobStatus {
    /// Backups only: where the backup went (null until done).
    #[serde(
        rename = "azureStorageBlobContainerUri",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub container_uri: Option<Option<String>>,
    /// When it ended (null while running).
    #[serde(rename = "endTime", default)]
    pub end_time: Option<i64>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<JobError>,
    /// Its id.
    #[serde(rename = "jobId")]
    pub job_id: String,
    /// When it started.
    #[serde(rename = "startTime")]
    pub start_time: i64,
    /// `InProgress`, `Succeeded` or `Failed`.
    pub status: String,
    /// Always null.
    #[serde(rename = "statusDetails", default)]
    pub status_details: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_print_their_nulls() {
        let s = JobStatus {
            container_uri: Some(None),
            end_time: None,
            error: None,
            job_id: "j".into(),
            start_time: 1,
            status: "InProgress".into(),
            status_details: None,
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, json!(s).to_string());
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"azureStorageBlobContainerUri": null, "endTime": null, "error": null,
                   "jobId": "j", "startTime": 1, "status": "InProgress", "statusDetails": null})
        );
        let restore = JobStatus {
            container_uri: None,
            ..s
        };
        assert!(json!(restore).get("azureStorageBlobContainerUri").is_none());
    }
}
