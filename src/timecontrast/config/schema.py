"""The typed schema of every configuration key.

Key names and defaults follow the original TensorFlow release (``tcn_default.yml``)
where a key existed there; keys it lacked or left unused are documented in
``configs/default.yaml``; the original's keys that have no place here, or another name,
are mapped in ``config/original.py``. Only the factories (``build_*`` functions) and the command
line read this tree; library classes take plain typed arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LearningConfig:
    max_step: int = 1000000  # the final training step (not "additional" steps as in the original)
    learning_rate: float = 0.001
    decay_steps: int = 10000  # staircase decay every this many steps
    decay_factor: float = 1.0  # 1.0 = constant learning rate
    l2_reg_weight: float = 1e-6  # L2 on the adaptation head's weights and biases
    optimizer: str = "adam"  # adam | momentum | rmsprop
    grad_clip_norm: float = 0.0  # clip the global gradient norm; 0 = off


@dataclass
class TripletSemihardConfig:
    embedding_l2: bool = True
    margin: float = 0.2


@dataclass
class NpairsConfig:
    embedding_l2: bool = False
    reg_lambda: float = 0.002


@dataclass
class MvtcnConfig:
    window: int = 580  # frames; anchor/positive timesteps are drawn inside a random window


@dataclass
class SvtcnConfig:
    pos_radius: int = 6  # frames
    neg_radius: int = 12  # frames, strictly greater than pos_radius


@dataclass
class MftcnConfig:
    window: int = 580  # frames, as mvtcn.window
    min_separation: int = 2  # frames between the timesteps of one sequence in a batch (alpha)


@dataclass
class DropoutConfig:
    keep_pretrained: float = 1.0  # keep probability after the trunk
    keep_conv: float = 1.0  # keep probability after each additional conv
    keep_fc: float = 1.0  # keep probability after each hidden FC layer


@dataclass
class InceptionConvSSFCConfig:
    pretrained: str = "none"  # none | imagenet (torchvision weights API)
    pretrained_checkpoint: str = ""  # a local state_dict file for the trunk; '' = none
    pretrained_layer: str = "Mixed_5d"  # the Inception-v3 block the trunk ends at
    additional_conv_sizes: list[int] = field(default_factory=lambda: [512, 512])
    fc_hidden_sizes: list[int] = field(default_factory=lambda: [2048])
    finetune: bool = False  # train the trunk too (false freezes it, BN statistics included)
    dropout: DropoutConfig = field(default_factory=DropoutConfig)


@dataclass
class ResnetConfig:
    depth: int = 50  # 18 | 34 | 50
    pretrained: str = "none"  # none | imagenet
    pretrained_checkpoint: str = ""
    pretrained_layer: int = 4  # the ResNet stage the trunk ends at (1..4)
    finetune: bool = False
    adaptation_channels: list[int] = field(default_factory=lambda: [512])  # 3x3 conv+BN+ReLU after the trunk
    pooling: str = "avg"  # avg | spatial_softmax
    fc_hidden_sizes: list[int] = field(default_factory=list)
    dropout: DropoutConfig = field(default_factory=DropoutConfig)


@dataclass
class SmallConvConfig:
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # one stride-2 conv block each
    pooling: str = "spatial_softmax"  # avg | spatial_softmax
    fc_hidden_sizes: list[int] = field(default_factory=lambda: [256])
    pretrained_checkpoint: str = ""
    finetune: bool = True
    dropout: DropoutConfig = field(default_factory=DropoutConfig)


@dataclass
class MultiFrameConfig:
    trunk: str = "small_conv"  # per-frame trunk: small_conv | resnet | inception_conv_ss_fc | r3d_18 | r2plus1d_18
    num_frames: int = 3  # K frames per clip, ending at the embedded timestep
    frame_stride: int = 1  # frames between consecutive clip frames
    conv3d_channels: list[int] = field(default_factory=lambda: [128])  # 3D convs over (time, height, width)
    pooling: str = "avg"  # avg | spatial_softmax (per-frame trunks: a point per channel and frame)
    fc_hidden_sizes: list[int] = field(default_factory=lambda: [256])
    pretrained: str = "none"  # for the torchvision video backbones
    pretrained_checkpoint: str = ""
    finetune: bool = True
    dropout: DropoutConfig = field(default_factory=DropoutConfig)


@dataclass
class PreprocessingConfig:
    eval_cropping: str = "crop_center"  # crop_center | pad | pad200 | pad_crop_central | full


@dataclass
class AugmentationConfig:
    minscale: float = 1.0  # < 1 zooms in (random crop of this fraction of the central square's area)
    maxscale: float = 1.0  # > 1 zooms out (pad, then crop)
    proportion_scaled_up: float = 0.5  # probability of zooming out when both are possible
    color: bool = True
    fast_mode: bool = True  # brightness + saturation only; false adds hue and contrast


@dataclass
class LabeledConfig:
    image_attr_keys: list[str] = field(default_factory=lambda: ["image/view0", "image/view1", "task"])
    label_attr_keys: list[str] = field(default_factory=list)  # int64 label keys; [] = every int64 key found
    validation: str = ""  # directory of labeled frame records
    test: str = ""


@dataclass
class DataConfig:
    training: str = ""  # directory (searched recursively) or glob of training sequence records
    validation: str = ""
    test: str = ""
    num_views: int = 2
    examples_per_sequence: int = 36  # images drawn from one sequence (pairs = half)
    batch_size: int = 36
    embed_batch_size: int = 128  # frames per forward pass at inference
    height: int = 299  # network input size
    width: int = 299
    num_workers: int = 2  # DataLoader worker processes
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    labeled: LabeledConfig = field(default_factory=LabeledConfig)


@dataclass
class ValConfig:
    recall_at_k_list: list[int] = field(default_factory=lambda: [1])
    num_eval_samples: int = 1000  # validation images per validation-loss evaluation
    eval_interval_secs: int = 300  # seconds between polls for new checkpoints


@dataclass
class SummaryConfig:
    image_summaries: bool = False
    save_summaries_steps: int = 100
    flush_secs: int = 600


@dataclass
class CheckpointConfig:
    num_to_keep: int = 0  # 0 = keep every checkpoint
    save_checkpoints_steps: int = 1000


@dataclass
class LoggingConfig:
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)


@dataclass
class RuntimeConfig:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "none"  # none | bf16 | fp16 (GPU only)
    channels_last: bool = False
    num_threads: int = 0  # torch CPU threads; 0 = torch's default


@dataclass
class TCNConfig:
    training_strategy: str = "mvtcn"  # mvtcn | svtcn | mftcn
    loss_strategy: str = "triplet_semihard"  # triplet_semihard | npairs (mvtcn, mftcn); svtcn uses its own loss
    embedder_strategy: str = "inception_conv_ss_fc"  # inception_conv_ss_fc | resnet | small_conv | multi_frame
    embedding_size: int = 32
    seed: int = 0
    learning: LearningConfig = field(default_factory=LearningConfig)
    triplet_semihard: TripletSemihardConfig = field(default_factory=TripletSemihardConfig)
    npairs: NpairsConfig = field(default_factory=NpairsConfig)
    mvtcn: MvtcnConfig = field(default_factory=MvtcnConfig)
    svtcn: SvtcnConfig = field(default_factory=SvtcnConfig)
    mftcn: MftcnConfig = field(default_factory=MftcnConfig)
    inception_conv_ss_fc: InceptionConvSSFCConfig = field(default_factory=InceptionConvSSFCConfig)
    resnet: ResnetConfig = field(default_factory=ResnetConfig)
    small_conv: SmallConvConfig = field(default_factory=SmallConvConfig)
    multi_frame: MultiFrameConfig = field(default_factory=MultiFrameConfig)
    data: DataConfig = field(default_factory=DataConfig)
    val: ValConfig = field(default_factory=ValConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
