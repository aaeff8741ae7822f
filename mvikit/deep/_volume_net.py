"""`VolumeNetClassifier`: any registered architecture as a scikit-learn classifier."""

from __future__ import annotations

from ..utils._validation import Interval, Real, fit_context
from ._base import DeepCohortClassifier, _seed
from ._trainers import CohortTrainer, FocalCriterion, MultiTaskTrainer
from .nets._registry import Architecture, get_architecture

__all__ = ["VolumeNetClassifier"]


class VolumeNetClassifier(DeepCohortClassifier):
    """A network of the architecture register over a cohort frame (optionally + clinical).

    The image-only baselines of MD-Net's Table II, MD-Net's teacher trained
    alone (the "T-Clinical-..." rows of Table III; the "S-..." rows are
    `MDNetClassifier` with ``distillation="none"``), the 2D slice ResNet, the
    multi-task UNet, and any architecture a user registers
    (`mvikit.deep.nets.register_architecture`).

    Parameters
    ----------
    architecture : str, default="concat"
        A registered architecture (`mvikit.deep.nets.list_architectures`):
        ``"cnn3d"``: sequences stacked as channels of one CNN; ``"concat"``: one
        CNN per sequence, features concatenated; ``"lstm"``: one CNN per sequence,
        features read by an LSTM (all three MD-Net's MRI-only module);
        ``"mdnet_teacher"``: MD-Net's teacher (MRI-clinical-fusion modules +
        symmetric attention, 1 or 2 sequences), needs ``use_clinical=True``;
        ``"mdnet_student"``: MD-Net's student alone; ``"resnet18_slices"``: a 2D
        ResNet18 per sequence on its ``n_slices`` largest-tumour slices;
        ``"unet_multitask"``: a 3D UNet segmenting the tumour (Dice + cross-entropy
        as auxiliary loss) and classifying.
    use_clinical : bool, default=False
        Feed the preprocessed clinical vector too: late fusion for the baselines,
        channel-wise gating (eq. 1) for ``"mdnet_teacher"``.  The clinical columns
        are then needed at predict time as well (NaN cells are imputed).
    focal_gamma : float, default=0.0
        Focal-loss parameter; 0 is cross-entropy.
    auxiliary_weights : dict of str to float or None, default=None
        Weights of the auxiliary losses of architectures that declare auxiliary
        outputs (``{"segmentation": 1.0}`` for ``"unet_multitask"``; missing
        outputs weigh 1, 0 removes a term).
    volumes : "auto", str or list of str, default="auto"
        Volume columns (sequences), in the order the network reads them.
    clinical : "auto", list of str or None, default="auto"
        Clinical columns (used with ``use_clinical=True``).
    masks : "auto", list of str or None, default="auto"
        Mask columns; the tumour mask centres the cube.
    cube : tuple of 3 int, default=None
        Box ``(D, H, W)``, in image voxels, cropped around the tumour once per
        fit/predict.  None takes the preset's (20x80x80, MD-Net's cube).
    downsample : int or tuple of 3 int, default=None
        Block size by which the cube is averaged into coarser voxels
        (`mvikit.imaging.VolumeDownsampler`) before the network sees it; the
        cube must be a whole number of blocks.  None takes the preset's:
        ``(1, 1, 1)`` for ``"paper"``, ``(1, 2, 2)`` for ``"cpu"`` and ``"demo"``
        (the paper's field of view at half the in-plane resolution).
    crop_size : tuple of 3 int, default=None
        Network input, in downsampled voxels: random crops of the (downsampled)
        cube in training, its centre crop at inference.  None takes the preset's.
    n_slices, slice_size : int, default=None
        Slice inputs (``"slices"``/``"liver_tumor"`` architectures): slices per
        sequence and their in-plane size after resizing.  None: the preset's (3,
        and 224 for ``"paper"``, 64 otherwise).  Ignored by cube architectures.
    width : float, default=None
        Channel multiplier (1 = 64/128/256/256 channels).  None: preset.
    max_epochs, batch_size : int, default=None
        None: preset.
    lr : float, default=None
        Adam's learning rate.  None: preset.
    preset : {"cpu", "demo", "paper"}, default="cpu"
        Fills the None-valued ``width``, ``cube``, ``downsample``, ``crop_size``,
        ``max_epochs``, ``batch_size`` and ``lr``: ``"paper"`` = 1, (20, 80, 80), 1,
        (16, 64, 64), 80, 16, 3e-4 (MD-Net Sec. III-F); ``"cpu"`` = 0.0625,
        (20, 80, 80), (1, 2, 2), (16, 32, 32), 10, 16, 1e-3 (the paper's field of
        view, at half the in-plane resolution, for a network small enough to
        train on the default cohort on a few CPU cores); ``"demo"`` = as
        ``"cpu"`` but 3 epochs and lr 2e-3 (``mvikit demo --quick``).  An
        architecture may change some for its input (`Architecture.presets`, e.g. a
        wider ``"resnet18_slices"`` on the CPU).  A parameter given explicitly
        always wins over the presets.
    lr_step, lr_gamma : int, float, default=2, 0.9
        StepLR schedule: the learning rate is multiplied by ``lr_gamma`` every
        ``lr_step`` epochs (the paper's schedule).
    weight_decay : float, default=0.0
        Adam's weight decay.
    class_weight : "balanced", dict or None, default=None
        Class weights of the loss.
    augment : bool, default=True
        Random flips, affine transform and intensity jitter of training batches
        (the random crop is always applied).
    normalize : {"zscore", "percentile"} or None, default="zscore"
        Per-patient intensity normalisation (`mvikit.imaging.IntensityNormalizer`,
        statistics over the tumour and a 10 mm margin).
    device : str, default="cpu"
        ``"cpu"`` or ``"cuda"`` (``"cuda:1"``...).
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"``: mixed precision, the network's forward passes (training
        and inference) run under ``torch.autocast(dtype=torch.bfloat16)`` on
        ``device``; weights, gradients, optimiser state and losses stay float32
        and outputs are returned as float32/float64 as with ``"float32"``.
        Training is 1.5-2x faster on CPUs with native bfloat16 (AVX512-BF16,
        AMX), slower without; outputs differ slightly from float32 (see the
        deep-learning guide).
    random_state : int, RandomState or None, default=None
        Seeds initialisation, shuffling and augmentation; on the CPU the same
        seed gives bit-identical predictions.
    verbose : int, default=0
        skorch's per-epoch log when > 0.

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    volume_columns_, mask_columns_, clinical_columns_ : list of str
        Resolved column roles.
    clinical_preprocessor_ : ClinicalPreprocessor or None
        Fitted on the training rows (``use_clinical=True``).
    settings_ : dict
        The effective ``width``, ``cube``, ``downsample``, ``crop_size``,
        ``n_slices``, ``slice_size``, ``max_epochs``, ``batch_size``, ``lr`` and
        ``grid`` (the shape of each sequence's input tensor).
    tensorizer_ : CohortTensorizer
        The fitted cohort-to-tensor stage (column roles, clinical preprocessing,
        input geometry).
    net_ : skorch.NeuralNet
        The trained network (``net_.module_``; ``net_.history`` per epoch).
    n_features_in_ : int
        Columns of the training frame.
    feature_names_in_ : ndarray of str
        Their names.

    See Also
    --------
    MDNetClassifier : the teacher-student network.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.deep import VolumeNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((8, 16, 16), np.uint8); mask[3:5, 6:10, 6:10] = 1
    >>> X = pd.DataFrame({
    ...     "PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(8)],
    ...     "HBP": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(8)],
    ...     "tumor_mask": [Volume(mask)] * 8}, index=[f"p{i}" for i in range(8)])
    >>> y = np.array([0, 1] * 4)
    >>> clf = VolumeNetClassifier(cube=(8, 16, 16), downsample=1, crop_size=(8, 16, 16),
    ...                           width=0.0625, max_epochs=1, batch_size=4,
    ...                           random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (8, 2)
    """

    _parameter_constraints: dict = {
        **DeepCohortClassifier._parameter_constraints,
        "architecture": [str],  # checked against the register in fit
        "use_clinical": ["boolean"],
        "focal_gamma": [Interval(Real, 0, None, closed="left")],
        "auxiliary_weights": [dict, None],
    }

    def __init__(self, architecture="concat", *, use_clinical=False, focal_gamma=0.0,
                 auxiliary_weights=None, class_weight=None, volumes="auto", clinical="auto",
                 masks="auto", cube=None, downsample=None, crop_size=None, n_slices=None,
                 slice_size=None, width=None, max_epochs=None, batch_size=None, lr=None,
                 preset="cpu", lr_step=2, lr_gamma=0.9, weight_decay=0.0, augment=True,
                 normalize="zscore", device="cpu", precision="float32", random_state=None,
                 verbose=0):
        self.architecture = architecture
        self.use_clinical = use_clinical
        self.focal_gamma = focal_gamma
        self.auxiliary_weights = auxiliary_weights
        self.class_weight = class_weight
        self.volumes = volumes
        self.clinical = clinical
        self.masks = masks
        self.cube = cube
        self.downsample = downsample
        self.crop_size = crop_size
        self.n_slices = n_slices
        self.slice_size = slice_size
        self.width = width
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.preset = preset
        self.lr_step = lr_step
        self.lr_gamma = lr_gamma
        self.weight_decay = weight_decay
        self.augment = augment
        self.normalize = normalize
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def _architecture(self) -> Architecture:
        return get_architecture(self.architecture)

    def _uses_clinical_input(self) -> bool:
        return bool(self.use_clinical)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Crop, normalise and stack the volumes, then train the network.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame: volume columns, a tumour mask column, clinical columns
            (used with ``use_clinical=True``).
        y : array-like of shape (n_patients,)
            Class labels (ints or strings; two or more classes).

        Returns
        -------
        self : VolumeNetClassifier
        """
        spec = self._architecture()
        unknown = set(self.auxiliary_weights or {}) - set(spec.auxiliary)
        if unknown:
            raise ValueError(f"auxiliary_weights names {sorted(unknown)}; architecture "
                             f"{spec.name!r} has auxiliary outputs {sorted(spec.auxiliary)}.")
        data, y_encoded = self._prepare_fit(X, y)
        seed = _seed(self.random_state)
        criterion = FocalCriterion(self.focal_gamma, self._class_weight_tensor(y_encoded))
        n_classes = len(self.classes_)
        extra = {"auxiliary_weights": self.auxiliary_weights} if spec.auxiliary else {}
        trainer = MultiTaskTrainer if spec.auxiliary else CohortTrainer

        def build_net() -> CohortTrainer:
            module = self._build_module(spec, n_classes, data["clinical"].shape[1])
            return trainer(module, criterion, augment_seed=seed, **extra,
                           **self._trainer_kwargs(n_classes))

        self.net_ = self._train(build_net, data, y_encoded, seed)
        return self
