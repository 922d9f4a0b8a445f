//! The audit log: every bus event appended to a file as one JSON line, flushed whenever
//! the subscriber has caught up, so a crash loses at most the events still in flight.

use std::path::{Path, PathBuf};

use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio_util::sync::CancellationToken;

use crate::bus::Subscriber;
use crate::event::Envelope;

#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit log {}", path.display())]
pub struct AuditError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

pub struct AuditLog {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl AuditLog {
    /// Opens (creating folders as needed) at start-up, so a bad path stops bulwark early.
    pub async fn open(path: &Path) -> Result<Self, AuditError> {
        let error = |source| AuditError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(error)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(error)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: BufWriter::new(file),
        })
    }

    pub async fn run(mut self, mut subscriber: Subscriber, cancel: CancellationToken) {
        loop {
            let envelope = tokio::select! {
                _ = cancel.cancelled() => break,
                e = subscriber.recv() => match e { Some(e) => e, None => break },
            };
            self.write(&envelope).await;
            while let Some(more) = subscriber.try_recv() {
                self.write(&more).await;
            }
            self.flush().await;
        }
        while let Some(more) = subscriber.try_recv() {
            self.write(&more).await;
        }
        self.flush().await;
    }

    async fn write(&mut self, envelope: &Envelope) {
        let mut line = serde_json::to_vec(envelope).expect("bus events always serialise");
        line.push(b'\n');
        if let Err(error) = self.writer.write_all(&line).await {
            tracing::error!(%error, path = %self.path.display(), "Audit log write failed.");
        }
    }

    async fn flush(&mut self) {
        if let Err(error) = self.writer.flush().await {
            tracing::error!(%error, path = %self.path.display(), "Audit log flush failed.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bus, BusEvent};

    #[tokio::test]
    async fn writes_one_json_line_per_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let bus = Bus::new(16);
        let log = AuditLog::open(&path).await.unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(log.run(bus.subscribe("audit"), cancel.clone()));
        bus.publish(BusEvent::ConfigReloaded);
        bus.publish(BusEvent::CheckRecovered { check: "db".into() });
        cancel.cancel();
        task.await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "config_reloaded");
        assert_eq!(lines[1]["check"], "db");
    }
}
