"""What a run trains, composed from models, data, growth and training: the language model,
from scratch, grown or resumed (``lm``), the LiGO operator (``operator``), the small model
growth starts from (``source_model``) and the ``grow`` command that writes a grown model."""
