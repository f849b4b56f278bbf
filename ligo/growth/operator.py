"""LiGO, the learned linear growth operator: an nn.Module whose forward returns the large
model's parameter dict, computed from the small model's weights.

Learned (when tuned): the width blocks ``S`` of every expansion ``[I; S]`` and the depth
coefficients, one ``[large_layers, small_layers]`` matrix per layer module type of the family
(``Layout.layer_modules``) for weights and one for biases; optionally an additive residual on
every grown tensor. With tying (the default) the expansions are shared as the architecture
forces (SPEC 1): one per space, and per large layer for the spaces the family declares per
layer (BERT: one for the residual stream, per large layer one each for Q, K, V and the FFN, one
for the MLM head).
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import PretrainedConfig

from ligo.base.checksums import SUMS_FILE, find_problem, read_checksums
from ligo.base.errors import UserError
from ligo.growth.expansion import HeadIdentityPlus, IdentityPlus, init_depth, init_width
from ligo.growth.growth_map import SmallWeights, grow_layer, grow_outside_layers, grow_parameters
from ligo.growth.schemes import DEPTH_SCHEMES, WIDTH_SCHEMES
from ligo.models.families import check_growable, family_of, layout_of, space_sizes
from ligo.models.layout import TensorSpec

WEIGHTS_FILE = "ligo_operator.safetensors"
SETTINGS_FILE = "ligo_operator.json"


@dataclass(frozen=True)
class LiGOOptions:
    depth_scheme: str = "stackbert_noisy"
    width_scheme: str = "rand"
    depth_noise: float = 0.03
    width_noise: float = 0.03
    tie: bool = True
    tune_depth: bool = True
    tune_width: bool = True
    tune_small_model: bool = False
    tune_residual: bool = False
    residual_noise: float = 0.01

    @classmethod
    def from_args(cls, args) -> "LiGOOptions":
        schemes, noises = args.fuse_init_scheme, args.fuse_init_noise
        if len(schemes) > 2 or len(noises) > 2:
            raise UserError("--fuse_init_scheme and --fuse_init_noise take one value (both) or two (DEPTH WIDTH)")
        depth, width = schemes[0], schemes[-1]
        if depth not in DEPTH_SCHEMES:
            raise UserError(f"--fuse_init_scheme: depth scheme '{depth}' is not one of {', '.join(DEPTH_SCHEMES)}")
        if width not in WIDTH_SCHEMES:
            raise UserError(f"--fuse_init_scheme: width scheme '{width}' is not one of {', '.join(WIDTH_SCHEMES)}; "
                            "give two values, e.g. `stackbert_noisy rand`")
        return cls(depth_scheme=depth, width_scheme=width, depth_noise=noises[0], width_noise=noises[-1],
                   tie=args.fuse_tie_param, tune_depth=args.tune_depth, tune_width=args.tune_width,
                   tune_small_model=args.tune_small_model, tune_residual=args.tune_residual,
                   residual_noise=args.tune_residual_noise)


def parameter_slot(name: str) -> str:
    """A parameter or buffer name as a module attribute / ParameterDict key (no dots)."""
    return name.replace("{i}", "L").replace(".", "__")


class LiGOOperator(nn.Module):
    def __init__(self, small_state: dict[str, Tensor], small_config: PretrainedConfig, large_config: PretrainedConfig,
                 options: LiGOOptions, seed: int = 0):
        super().__init__()
        check_growable(small_config, large_config, "source model", "target config")
        self.small_config, self.large_config, self.options = small_config, large_config, options
        self.layout = layout_of(small_config.model_type)
        # The spaces LiGO widens by whole heads (``Space.whole_heads``), with their head size (the
        # target's too: check_growable): their width blocks are [new - old heads, old heads].
        self.head_sizes = {space.name: space.head_size(small_config) for space in self.layout.spaces
                           if space.whole_heads}
        self.small_layers, self.large_layers = small_config.num_hidden_layers, large_config.num_hidden_layers
        generator = torch.Generator().manual_seed(seed)  # the same operator on every rank and rerun

        small = SmallWeights.from_state_dict(self.layout, small_state, self.small_layers)
        self.small_layer_weights = self._frozen_or_tuned({k: v for k, v in small.layers.items()})
        self.small_other_weights = self._frozen_or_tuned(small.others)
        self.small_decoder = None if small.decoder is None else \
            nn.Parameter(small.decoder.detach().clone(), requires_grad=options.tune_small_model)

        self.depth = nn.Parameter(self._init_depth(generator), requires_grad=options.tune_depth)
        self.width = nn.ParameterDict({
            slot: nn.Parameter(tensor, requires_grad=options.tune_width)
            for slot, tensor in self._init_width(generator).items()
        })
        self.residual = nn.ParameterDict()
        if options.tune_residual:
            with torch.no_grad():
                shapes = {name: t.shape for name, t in self._grow(with_residual=False).items()}
            for name, shape in self._residual_shapes(shapes).items():
                noise = options.residual_noise
                residual = torch.empty(shape).uniform_(-noise, noise, generator=generator)
                self.residual[parameter_slot(name)] = nn.Parameter(residual)

    # -- construction --------------------------------------------------------------------------

    def _frozen_or_tuned(self, tensors: dict[str, Tensor]) -> nn.ParameterDict:
        return nn.ParameterDict({
            parameter_slot(name): nn.Parameter(t.detach().clone().float(), requires_grad=self.options.tune_small_model)
            for name, t in tensors.items()
        })

    def _init_depth(self, generator) -> Tensor:
        """[module type, weight/bias, large layer, small layer]; each module its own coefficients."""
        o = self.options
        return torch.stack([
            torch.stack([init_depth(self.large_layers, self.small_layers, o.depth_scheme, o.depth_noise, generator)
                         for _ in ("weight", "bias")])
            for _ in self.layout.layer_modules
        ])

    def expansion_key(self, spec: TensorSpec, side: str) -> tuple[str, str, bool]:
        """(key, space, one per large layer?) of the expansion on a tensor's side ('out' or 'in')."""
        space = spec.out_space if side == "out" else spec.in_space
        if self.options.tie:
            return space, space, self.layout.space(space).per_layer
        return f"{spec.module_path}.{side}", space, spec.layer_module is not None

    def _expansion_sites(self):
        # The decoder only where the large model has one of its own: a tied one is the word
        # embedding, grown as such. (Before, --no_fuse_tie_param gave a tied decoder a width block
        # nothing used, and DDP failed waiting for its gradient.)
        specs = list(self.layout.all_specs())
        if self.layout.untied_decoder(self.large_config):
            specs.append(self.layout.decoder)
        for spec in specs:
            for side in ("out", "in"):
                space = spec.out_space if side == "out" else spec.in_space
                if space is not None:
                    yield spec, side

    def _init_width(self, generator) -> dict[str, Tensor]:
        small, large = space_sizes(self.small_config), space_sizes(self.large_config)
        blocks = {}
        for spec, side in self._expansion_sites():
            key, space, per_layer = self.expansion_key(spec, side)
            added = large[space] - small[space]
            if added == 0 or parameter_slot(key) in blocks:
                continue
            o = self.options
            count = self.large_layers if per_layer else 1
            unit = self.head_sizes.get(space, 1)
            stacked = torch.stack([init_width(added // unit, small[space] // unit, o.width_scheme, o.width_noise,
                                              generator)
                                   for _ in range(count)])
            blocks[parameter_slot(key)] = stacked if per_layer else stacked[0]
        return blocks

    def _residual_shapes(self, grown_shapes: dict[str, torch.Size]) -> dict[str, tuple]:
        # One residual per grown tensor; encoder-layer tensors are stacked over large layers.
        shapes = {spec.name: grown_shapes[spec.key()] for spec in self.layout.embeddings + self.layout.head}
        for spec in self.layout.layer:
            shapes[spec.name] = (self.large_layers, *grown_shapes[spec.key(0)])
        if self.layout.decoder is not None and self.layout.decoder.name in grown_shapes:
            shapes[self.layout.decoder.name] = grown_shapes[self.layout.decoder.name]
        return shapes

    # -- the map -------------------------------------------------------------------------------

    def _depth_of(self, spec: TensorSpec) -> Tensor:
        return self.depth[self.layout.layer_modules.index(spec.layer_module), 0 if spec.param == "weight" else 1]

    def _expansion_of(self, spec: TensorSpec, side: str, layer: int | None = None):
        """The expansion on a tensor's side; ``layer``: that large layer's own, where there is one per layer."""
        key, space, per_layer = self.expansion_key(spec, side)
        slot = parameter_slot(key)
        if slot not in self.width:
            return None
        s = self.width[slot] if layer is None or not per_layer else self.width[slot][layer]
        if space in self.head_sizes:
            return HeadIdentityPlus(s, self.head_sizes[space])
        return IdentityPlus(s)

    def _small_weights(self) -> SmallWeights:
        layers = {spec.name: self.small_layer_weights[parameter_slot(spec.name)] for spec in self.layout.layer}
        others = {spec.name: self.small_other_weights[parameter_slot(spec.name)]
                  for spec in self.layout.embeddings + self.layout.head}
        return SmallWeights(layers, others, self.small_decoder)

    def _residual(self, layer: int | None = None):
        """Adds the learned residual (that of large layer ``layer`` to a layer's tensor); None: none."""
        if not len(self.residual):
            return None
        if layer is None:
            return lambda name, tensor: tensor + self.residual[parameter_slot(name)]
        return lambda name, tensor: tensor + self.residual[parameter_slot(name)][layer]

    def _grow(self, with_residual: bool) -> dict[str, Tensor]:
        return grow_parameters(self.layout, self._small_weights(), self.large_config, self._depth_of,
                               self._expansion_of, self._residual() if with_residual else None)

    def forward(self) -> dict[str, Tensor]:
        """The large model's parameters by their Hugging Face names (grown once per call; use them
        for a whole step)."""
        return self.layout.from_growth(self._grow(with_residual=True))

    def grow_outside_layers(self) -> dict[str, Tensor]:
        """What ``forward`` gives outside the large model's layers (embeddings, head), alone."""
        return self.layout.from_growth(grow_outside_layers(self.layout, self._small_weights(), self.large_config,
                                                           self._expansion_of, self._residual()))

    def grow_layer(self, layer: int) -> dict[str, Tensor]:
        """What ``forward`` gives for large layer ``layer``, alone: growing the large model one layer
        at a time holds one layer's weights, not the whole model's (GrownModel's per-layer growth)."""
        return self.layout.from_growth(grow_layer(self.layout, self._small_weights(), layer, self._depth_of,
                                                  lambda spec, side: self._expansion_of(spec, side, layer),
                                                  self._residual(layer)))

    # -- saving ------------------------------------------------------------------------------

    def save(self, folder: Path):
        save_file({name: t.detach().contiguous().cpu() for name, t in self.state_dict().items()},
                  str(Path(folder) / WEIGHTS_FILE))
        self.save_settings(folder)

    def save_settings(self, folder: Path):
        """What ``load`` needs beside the tensors (``save`` writes both)."""
        settings = {"options": asdict(self.options), "small_config": self.small_config.to_dict(),
                    "large_config": self.large_config.to_dict()}
        (Path(folder) / SETTINGS_FILE).write_text(json.dumps(settings, indent=2))

    @classmethod
    def load(cls, folder: Path) -> "LiGOOperator":
        folder = Path(folder)
        if not (folder / WEIGHTS_FILE).is_file() or not (folder / SETTINGS_FILE).is_file():
            raise UserError(f"'{folder}' holds no LiGO operator ({WEIGHTS_FILE}, {SETTINGS_FILE}); "
                            "pass the output_dir of a run_grow_distributed.py run")
        try:
            sums = read_checksums(folder)  # an operator run's checkpoint records them; a hand-made folder may not
            problem = find_problem(folder, sums, [WEIGHTS_FILE, SETTINGS_FILE]) if sums is not None else None
        except (ValueError, UnicodeDecodeError) as err:
            raise UserError(f"the LiGO operator in '{folder}' has a damaged {SUMS_FILE} ({err}); train it again "
                            "with run_grow_distributed.py") from None
        if problem is not None:
            raise UserError(f"the LiGO operator file '{problem.path}' is {problem.what} (checked against "
                            f"{SUMS_FILE}): pass an earlier checkpoint of its run, or train it again with "
                            "run_grow_distributed.py")
        try:
            return cls._read(folder)
        except (ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as err:  # what a bad file raises
            raise UserError(f"the LiGO operator in '{folder}' cannot be read ({type(err).__name__}: "
                            f"{' '.join(str(err).split())[:300]}); it is damaged or was not written by this program: "
                            "train it again with run_grow_distributed.py") from None

    @classmethod
    def _read(cls, folder: Path) -> "LiGOOperator":
        settings = json.loads((folder / SETTINGS_FILE).read_text())
        configs = {}
        for which in ("small_config", "large_config"):
            config_dict = dict(settings[which])
            config_class = family_of(config_dict["model_type"]).config_class
            configs[which] = config_class.from_dict(config_dict)
        state = load_file(str(folder / WEIGHTS_FILE))
        prefix = "small_layer_weights."
        small_state = {}
        layout = layout_of(configs["small_config"].model_type)
        for spec in layout.layer:
            stacked = state[prefix + parameter_slot(spec.name)]
            small_state.update({spec.key(i): stacked[i] for i in range(stacked.shape[0])})
        for spec in layout.embeddings + layout.head:
            small_state[spec.name] = state["small_other_weights." + parameter_slot(spec.name)]
        if layout.decoder is not None:
            small_state[layout.decoder.name] = state["small_decoder"]
        small_state = layout.from_growth(small_state)  # the file holds the growth view's tensors
        operator = cls(small_state, configs["small_config"], configs["large_config"],
                       LiGOOptions(**settings["options"]))
        if layout.decoder is not None:
            # Operators written before the fix in _expansion_sites may hold the tied decoder's unused
            # width blocks: nothing ever read them, so leaving them out grows the same model.
            unused = {f"width.{parameter_slot(f'{layout.decoder.module_path}.{side}')}" for side in ("out", "in")}
            state = {k: v for k, v in state.items() if k not in unused - operator.state_dict().keys()}
        operator.load_state_dict(state)  # strict: every tensor of the file, no other
        return operator
