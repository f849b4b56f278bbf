"""Growing a small model into a large one: width expansions (``expansion``), the linear growth
map shared by every method (``growth_map``), the LiGO operator (``operator``), the baselines
(``baselines``), the model a LiGO operator trains through (``grown_model``) and the
operator's diagnostics (``diagnostics``). Family-agnostic: a family's layout comes from
``ligo.models``."""
