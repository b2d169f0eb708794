//! Accepted samples in a JetStream stream, `<prefix>.<name>.samples`: each
//! ingest call is one message (a sample-log record: rows, labels and the
//! number of its first sample), acknowledged to the host only after
//! JetStream has stored it. The stream keeps samples by age and size, as
//! the local sample log does, and serves them back from any sequence (a
//! new trainer resumes after the sequence its checkpoint learned through;
//! a full retrain reads the newest).

use std::future::IntoFuture;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use refit_plugin::InputKind;

use super::{FleetError, Nats, js_err, within};
use crate::rows::Rows;

/// One stored batch: its stream sequence, rows and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBatch {
    /// The message's stream sequence (from 1).
    pub sequence: u64,
    /// The number of its first sample, as Ingest numbered it.
    pub first_sample: u64,
    /// The rows.
    pub rows: Rows,
    /// One label per row.
    pub labels: Vec<f32>,
}

/// The sample stream of one model.
pub struct SampleStream {
    nats: Nats,
    js: jetstream::Context,
    stream: String,
    subject: String,
    input: InputKind,
    width: usize,
    timeout: Duration,
}

impl std::fmt::Debug for SampleStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleStream")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl SampleStream {
    /// Connects to `url` and opens (or creates) the stream of model `name`
    /// under `prefix` (subject `<prefix>.<name>.samples`), keeping samples
    /// at most `max_age` and `max_bytes` (0: no bound), on `replicas`
    /// servers of a cluster (1: one server); rows are of `input` over
    /// `width` features or coordinates.
    pub async fn connect(
        url: &str,
        prefix: &str,
        name: &str,
        input: (InputKind, usize),
        retention: (Duration, u64),
        (timeout, replicas): (Duration, usize),
    ) -> Result<Self, FleetError> {
        let nats = Nats::connect(url, timeout).await?;
        Self::open(&nats, (prefix, name), input, retention, (timeout, replicas)).await
    }

    /// [`SampleStream::connect`] over an open connection.
    pub async fn open(
        nats: &Nats,
        (prefix, name): (&str, &str),
        (input, width): (InputKind, usize),
        (max_age, max_bytes): (Duration, u64),
        (timeout, replicas): (Duration, usize),
    ) -> Result<Self, FleetError> {
        let js = nats.js.clone();
        let stream_name = format!("{prefix}_{name}_samples");
        let subject = format!("{prefix}.{name}.samples");
        within(
            timeout,
            "open the sample stream",
            js.get_or_create_stream(stream::Config {
                name: stream_name.clone(),
                subjects: vec![subject.clone()],
                max_age,
                max_bytes: if max_bytes == 0 { -1 } else { max_bytes as i64 },
                num_replicas: replicas.max(1),
                ..Default::default()
            }),
        )
        .await?
        .map_err(|e| js_err("open the sample stream", e))?;
        Ok(Self {
            nats: nats.clone(),
            js,
            stream: stream_name,
            subject,
            input,
            width,
            timeout,
        })
    }

    /// Whether the client is connected to a server now.
    pub fn is_connected(&self) -> bool {
        self.nats.is_connected()
    }

    /// Stores one batch numbered from `first_sample`; answers its stream
    /// sequence once JetStream acknowledged it (an error means it is not
    /// stored: the host's ingest must fail, retryably).
    pub async fn append(
        &self,
        first_sample: u64,
        time_ms: u64,
        rows: &Rows,
        labels: &[f32],
    ) -> Result<u64, FleetError> {
        self.append_once(first_sample, time_ms, (rows, labels), None)
            .await
    }

    /// [`SampleStream::append`] under the caller's `key` (JetStream's
    /// `Nats-Msg-Id`): within the stream's duplicate window, a batch
    /// stored under a key is not stored again, and the retry answers the
    /// first one's sequence.
    pub async fn append_once(
        &self,
        first_sample: u64,
        time_ms: u64,
        (rows, labels): (&Rows, &[f32]),
        key: Option<&str>,
    ) -> Result<u64, FleetError> {
        // While disconnected the client would queue the message and send
        // it on reconnection, after this call failed: a retry by the host
        // would then store the samples twice. Refused at once instead.
        if !self.is_connected() {
            return Err(js_err("publish a batch", "not connected to NATS"));
        }
        let record =
            crate::sample_log::encode_record(first_sample, time_ms, rows, labels, self.width)
                .map_err(|e| js_err("encode a batch", e))?;
        let mut message = jetstream::context::Publish::build().payload(record.into());
        if let Some(key) = key {
            message = message.message_id(key);
        }
        let ack = within(
            self.timeout,
            "publish a batch",
            self.js.send_publish(self.subject.clone(), message),
        )
        .await?
        .map_err(|e| js_err("publish a batch", e))?;
        let stored = within(self.timeout, "store a batch", ack.into_future())
            .await?
            .map_err(|e| js_err("store a batch", e))?;
        Ok(stored.sequence)
    }

    /// The stored batches from stream sequence `from` on (what retention
    /// kept of them), in order.
    pub async fn read_from(&self, from: u64) -> Result<Vec<StoredBatch>, FleetError> {
        let mut stream = self.stream().await?;
        let info = within(self.timeout, "read the stream's state", stream.info())
            .await?
            .map_err(|e| js_err("read the stream's state", e))?;
        let last = info.state.last_sequence;
        if info.state.messages == 0 || from > last {
            return Ok(Vec::new());
        }
        let consumer = within(
            self.timeout,
            "read the sample stream",
            stream.create_consumer(jetstream::consumer::pull::OrderedConfig {
                deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ..Default::default()
            }),
        )
        .await?
        .map_err(|e| js_err("read the sample stream", e))?;
        let mut messages = within(self.timeout, "read the sample stream", consumer.messages())
            .await?
            .map_err(|e| js_err("read the sample stream", e))?;
        let mut out = Vec::new();
        while let Some(message) = within(self.timeout, "read a batch", messages.next()).await? {
            let batch = self.decode(&message.map_err(|e| js_err("read a batch", e))?)?;
            let sequence = batch.sequence;
            out.push(batch);
            if sequence >= last {
                break;
            }
        }
        Ok(out)
    }

    /// The stream, as the server has it now.
    async fn stream(&self) -> Result<jetstream::stream::Stream, FleetError> {
        within(
            self.timeout,
            "open the sample stream",
            self.js.get_stream(&self.stream),
        )
        .await?
        .map_err(|e| js_err("open the sample stream", e))
    }

    /// One stored message as a batch of this model's samples.
    fn decode(&self, message: &jetstream::Message) -> Result<StoredBatch, FleetError> {
        let sequence = message
            .info()
            .map_err(|e| js_err("read a batch's sequence", e))?
            .stream_sequence;
        let (first_sample, rows, labels) =
            crate::sample_log::decode_record(&message.payload, self.input, self.width).ok_or_else(
                || {
                    js_err(
                        "decode a batch",
                        format!("message {sequence} is not a record of this model"),
                    )
                },
            )?;
        Ok(StoredBatch {
            sequence,
            first_sample,
            rows,
            labels,
        })
    }

    /// The stream's first and last stored sequences (0 and 0 when empty).
    pub async fn bounds(&self) -> Result<(u64, u64), FleetError> {
        let mut stream = self.stream().await?;
        let info = within(self.timeout, "read the stream's state", stream.info())
            .await?
            .map_err(|e| js_err("read the stream's state", e))?;
        Ok((info.state.first_sequence, info.state.last_sequence))
    }

    /// Every batch from stream sequence `from` on, as it is stored, without
    /// end: the training replica's durable consumer
    /// (`<prefix>_<name>_trainer`), created anew at `from` (the position
    /// of the version it continues from: the checkpoints, not the consumer,
    /// record what is learned). An error item ends it; follow again from
    /// the next sequence.
    pub async fn follow(
        &self,
        from: u64,
    ) -> Result<impl futures::Stream<Item = Result<StoredBatch, FleetError>> + use<'_>, FleetError>
    {
        use jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
        let stream = self.stream().await?;
        let durable = format!("{}_trainer", self.stream);
        // A consumer left by an earlier trainer starts elsewhere.
        let _ = within(
            self.timeout,
            "reset the trainer's consumer",
            stream.delete_consumer(&durable),
        )
        .await;
        let consumer = within(
            self.timeout,
            "create the trainer's consumer",
            stream.create_consumer(pull::Config {
                durable_name: Some(durable.clone()),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ack_policy: AckPolicy::None,
                ..Default::default()
            }),
        )
        .await?
        .map_err(|e| js_err("create the trainer's consumer", e))?;
        let messages = within(
            self.timeout,
            "follow the sample stream",
            consumer.messages(),
        )
        .await?
        .map_err(|e| js_err("follow the sample stream", e))?;
        Ok(messages
            .map(move |m| self.decode(&m.map_err(|e| js_err("follow the sample stream", e))?)))
    }

    /// The newest `max_rows` stored samples, oldest first.
    pub async fn newest(&self, max_rows: usize) -> Result<crate::sample_log::ReadBack, FleetError> {
        let batches = self.read_from(1).await?;
        Ok(crate::sample_log::newest_of(
            batches
                .into_iter()
                .map(|b| (b.first_sample, b.rows, b.labels))
                .collect(),
            self.input,
            self.width,
            max_rows,
        ))
    }
}
