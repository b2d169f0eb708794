/// Everything a plugin can refuse. Each case names the problem; none of them
/// leaves a model changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The batch has no rows.
    #[error("empty batch: at least one row is needed")]
    EmptyBatch,
    /// The flat value buffer does not split into rows of the given width.
    #[error("ragged batch: {len} values cannot be rows of width {width}")]
    RaggedBatch { len: usize, width: usize },
    /// The batch width differs from the model's feature count.
    #[error("wrong width: the model has {expected} features, the batch has {got}")]
    WidthMismatch { expected: usize, got: usize },
    /// A feature value is NaN or infinite.
    #[error("non-finite value {value} in row {row}, feature `{feature}`")]
    NonFiniteFeature {
        row: usize,
        feature: String,
        value: f32,
    },
    /// Labels and rows differ in number.
    #[error("label count mismatch: {rows} rows but {labels} labels")]
    LabelCount { rows: usize, labels: usize },
    /// A label is NaN or infinite.
    #[error("non-finite label {value} in row {row}")]
    NonFiniteLabel { row: usize, value: f32 },
    /// A classifier label other than 0 or 1 (for a multiclass model: other
    /// than a class index).
    #[error(
        "invalid label {value} in row {row}: a classifier takes 0 or 1, a multiclass one the index of a class"
    )]
    InvalidLabel { row: usize, value: f32 },
    /// Class probabilities were asked of a regressor.
    #[error("a regression model has no class probabilities")]
    NotAClassifier,
    /// The learning rate is zero, negative or not finite.
    #[error("invalid learning rate {0}: it must be finite and positive")]
    InvalidLearningRate(f32),
    /// The update would have made a weight non-finite or exploded; it was
    /// rolled back.
    #[error("update refused: {0}")]
    Diverged(String),
    /// The model's parameters or spec are unusable (bad hyper-parameter,
    /// wrong task for the kind, unknown key, ...).
    #[error("invalid model parameters: {0}")]
    InvalidParams(String),
    /// No plugin is registered under this kind.
    #[error("unknown model kind `{kind}` (registered: {registered})")]
    UnknownKind { kind: String, registered: String },
    /// A plugin with this kind is already registered.
    #[error("a plugin of kind `{0}` is already registered")]
    DuplicateKind(String),
    /// The bytes do not start with the refit model magic.
    #[error("not a refit model file (bad magic bytes)")]
    BadMagic,
    /// The bytes end before the declared lengths.
    #[error("truncated model file: expected {expected} bytes, found {found}")]
    Truncated { expected: usize, found: usize },
    /// The checksum does not match: the file was altered or damaged.
    #[error(
        "model file checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file was altered or damaged"
    )]
    ChecksumMismatch { stored: u32, computed: u32 },
    /// The file was written by another plugin.
    #[error("model file is of kind `{found}`, but plugin `{expected}` was asked to load it")]
    WrongKind { expected: String, found: String },
    /// The file uses a format version this build does not know.
    #[error(
        "model file format version {found} of `{kind}` is newer than this build supports ({supported})"
    )]
    UnsupportedVersion {
        kind: String,
        found: u32,
        supported: u32,
    },
    /// The file passed its checksum but its content is inconsistent.
    #[error("corrupt model file: {0}")]
    Corrupt(String),
    /// A sparse batch's arrays do not fit together.
    #[error("malformed sparse batch: {0}")]
    BadSparse(String),
    /// A dense batch given to a sparse model, or the other way round.
    #[error("model `{kind}` takes {expected} batches, not {got} ones")]
    WrongInput {
        kind: String,
        expected: crate::InputKind,
        got: crate::InputKind,
    },
    /// The tensor backend failed.
    #[error("backend error: {0}")]
    Backend(String),
}

impl PluginError {
    /// The same error, naming row `row` where it names a row.
    pub fn at_row(self, row: usize) -> Self {
        match self {
            PluginError::NonFiniteFeature { feature, value, .. } => PluginError::NonFiniteFeature {
                row,
                feature,
                value,
            },
            PluginError::NonFiniteLabel { value, .. } => PluginError::NonFiniteLabel { row, value },
            PluginError::InvalidLabel { value, .. } => PluginError::InvalidLabel { row, value },
            other => other,
        }
    }
}
