"""What a run trains, composed from models, data, growth and training: the command line of the
pretraining and operator entry scripts (``arguments``), the language or image model, from scratch,
grown or resumed (``lm``), with Knowledge Inheritance's teacher (``ki``) or MSLT's stages
(``mslt``), the LiGO operator (``operator``), the small model growth starts from
(``source_model``) and the ``grow`` command that writes a grown model."""
