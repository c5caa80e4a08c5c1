//! A streaming upload: an `std::io::Write` that sends what is written to the store in
//! chunks of [`CHUNK_BYTES`], one chunk in flight while the next fills, hashing as it goes.
//!
//! Memory is bounded by two chunks, whatever the object's size. An object smaller than a
//! chunk is one plain put. A larger one is a multipart upload: on an object store, its
//! upload id is recorded first under `_uploads/<run_id>/` so that the next run can abort it
//! when this process is killed (object_store cannot list pending uploads); on a local
//! folder, object_store writes `<name>#<n>` and renames it at the end. An upload that is
//! dropped unfinished is aborted.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use object_store::multipart::{MultipartStore, PartId};
use object_store::{MultipartId, MultipartUpload, PutPayload};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::{block_on, runtime, Store};
use crate::error::{Error, Result};

/// Bytes per uploaded chunk: above S3's 5 MiB minimum for every part but the last.
pub const CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Folder of the records of multipart uploads in flight.
pub const UPLOAD_DIR: &str = "_uploads";

/// What a pending multipart upload's record holds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct UploadRecord {
    /// The object's path under the archive root.
    pub path: String,
    pub upload_id: String,
}

enum Pending {
    /// Nothing sent yet.
    None,
    /// A store's own multipart upload (local folder, memory).
    Generic(Box<dyn MultipartUpload>),
    /// An object store's multipart upload, recorded under `_uploads/`.
    Tracked {
        store: Arc<dyn MultipartStore>,
        id: MultipartId,
        record: String,
        parts: Vec<PartId>,
    },
}

pub struct Upload {
    store: Store,
    /// Relative to the archive root.
    path: String,
    run_id: String,
    buffer: Vec<u8>,
    hasher: Sha256,
    bytes: u64,
    pending: Pending,
    in_flight: Option<JoinHandle<object_store::Result<Option<PartId>>>>,
    finished: bool,
}

/// What a finished upload wrote.
pub struct Uploaded {
    pub bytes: u64,
    pub sha256: String,
}

impl Upload {
    pub(super) fn new(store: &Store, path: &str, run_id: &str) -> Upload {
        Upload {
            store: store.clone(),
            path: path.to_string(),
            run_id: run_id.to_string(),
            buffer: Vec::with_capacity(64 * 1024),
            hasher: Sha256::new(),
            bytes: 0,
            pending: Pending::None,
            in_flight: None,
            finished: false,
        }
    }

    fn fail(&self, what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::archive(format!("{what} {} in {}", self.path, self.store.root), e)
    }

    /// Waits for the chunk in flight.
    fn settle(&mut self) -> Result<()> {
        if let Some(h) = self.in_flight.take() {
            let part = block_on(h)
                .map_err(|e| self.fail("uploading a chunk of", e))?
                .map_err(|e| self.fail("uploading a chunk of", e))?;
            if let (Some(part), Pending::Tracked { parts, .. }) = (part, &mut self.pending) {
                parts.push(part);
            }
        }
        Ok(())
    }

    fn start(&mut self) -> Result<()> {
        let location = self.store.location(&self.path);
        self.pending = match &self.store.multipart {
            Some(mp) => {
                let id = block_on(mp.create_multipart(&location))
                    .map_err(|e| self.fail("starting the upload of", e))?;
                let record = format!(
                    "{UPLOAD_DIR}/{}/{}.json",
                    self.run_id,
                    &super::part_writer::sha256_hex(self.path.as_bytes())[..16]
                );
                let body = serde_json::to_vec(&UploadRecord {
                    path: self.path.clone(),
                    upload_id: id.clone(),
                })
                .map_err(|e| self.fail("recording the upload of", e))?;
                if let Err(e) = self.store.put(&record, body.into()) {
                    let _ = block_on(mp.abort_multipart(&location, &id));
                    return Err(e);
                }
                Pending::Tracked {
                    store: mp.clone(),
                    id,
                    record,
                    parts: Vec::new(),
                }
            }
            None => Pending::Generic(
                block_on(self.store.inner.put_multipart(&location))
                    .map_err(|e| self.fail("starting the upload of", e))?,
            ),
        };
        Ok(())
    }

    /// Sends the buffer as the next chunk (after the one in flight).
    fn send(&mut self) -> Result<()> {
        if matches!(self.pending, Pending::None) {
            self.start()?;
        }
        self.settle()?;
        let data = PutPayload::from(Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        )));
        let _rt = runtime().enter();
        self.in_flight = Some(match &mut self.pending {
            Pending::Generic(up) => {
                let f = up.put_part(data);
                runtime().spawn(async move { f.await.map(|()| None) })
            }
            Pending::Tracked {
                store, id, parts, ..
            } => {
                let (store, id, idx) = (store.clone(), id.clone(), parts.len());
                let location = self.store.location(&self.path);
                runtime()
                    .spawn(async move { store.put_part(&location, &id, idx, data).await.map(Some) })
            }
            Pending::None => unreachable!("started above"),
        });
        let name = self.path.rsplit('/').next().unwrap_or_default();
        crate::interrupt::pause_point(&format!("upload-chunk:{name}"));
        Ok(())
    }

    /// Completes the object; returns its size and sha256.
    pub fn finish(mut self) -> Result<Uploaded> {
        self.finished = true;
        let done = self.complete();
        if done.is_err() {
            self.abort();
        }
        done?;
        Ok(Uploaded {
            bytes: self.bytes,
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
        })
    }

    fn complete(&mut self) -> Result<()> {
        if matches!(self.pending, Pending::None) {
            // Smaller than a chunk: one put.
            let data = Bytes::from(std::mem::take(&mut self.buffer));
            return self.store.put(&self.path, data);
        }
        if !self.buffer.is_empty() {
            self.send()?;
        }
        self.settle()?;
        let location = self.store.location(&self.path);
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Generic(mut up) => {
                block_on(up.complete()).map_err(|e| self.fail("completing the upload of", e))?;
            }
            Pending::Tracked {
                store,
                id,
                record,
                parts,
            } => {
                let done = block_on(store.complete_multipart(&location, &id, parts));
                if let Err(e) = done {
                    self.pending = Pending::Tracked {
                        store,
                        id,
                        record,
                        parts: Vec::new(),
                    };
                    return Err(self.fail("completing the upload of", e));
                }
                self.store.delete(&record)?;
            }
            Pending::None => {}
        }
        Ok(())
    }

    /// Aborts the multipart upload, if one was started (errors are logged).
    fn abort(&mut self) {
        if let Some(h) = self.in_flight.take() {
            let _ = block_on(h);
        }
        let location = self.store.location(&self.path);
        let result = match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => Ok(()),
            Pending::Generic(mut up) => block_on(up.abort()),
            Pending::Tracked {
                store, id, record, ..
            } => {
                let r = block_on(store.abort_multipart(&location, &id));
                if r.is_ok() {
                    let _ = self.store.delete(&record);
                }
                r
            }
        };
        match result {
            Ok(()) => tracing::debug!(path = %self.path, "unfinished upload aborted"),
            Err(e) => {
                tracing::warn!(path = %self.path, error = %e, "could not abort an unfinished upload")
            }
        }
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        let mut rest = buf;
        while !rest.is_empty() {
            let room = CHUNK_BYTES - self.buffer.len();
            let take = room.min(rest.len());
            self.buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buffer.len() == CHUNK_BYTES {
                self.send().map_err(std::io::Error::other)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.finished {
            self.abort();
        }
    }
}
